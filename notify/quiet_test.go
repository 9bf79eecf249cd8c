package notify

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
	_ "time/tzdata" // the DST cases must not depend on the machine's zoneinfo

	"github.com/crierd/crier"
)

func wallHM(h, m int) time.Duration { return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute }

func TestQuietWindow(t *testing.T) {
	t.Parallel()
	ny, err := time.LoadLocation("America/New_York")
	if err != nil {
		t.Fatal(err)
	}
	night := &crier.QuietHours{From: wallHM(22, 0), To: wallHM(7, 0), Location: time.UTC}
	office := &crier.QuietHours{From: wallHM(9, 0), To: wallHM(17, 0), Location: time.UTC}
	empty := &crier.QuietHours{From: wallHM(8, 0), To: wallHM(8, 0), Location: time.UTC}
	nyNight := &crier.QuietHours{From: wallHM(22, 0), To: wallHM(7, 0), Location: ny}
	utc := func(s string) time.Time {
		tm, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	tests := []struct {
		q      *crier.QuietHours
		now    string
		in     bool
		end    string // quietEnd, UTC
		lastLo string // lastWindow, UTC
		lastHi string
	}{
		{night, "2026-05-04 23:00:00", true, "2026-05-05 07:00:00", "2026-05-03 22:00:00", "2026-05-04 07:00:00"},
		{night, "2026-05-05 06:59:59", true, "2026-05-05 07:00:00", "2026-05-03 22:00:00", "2026-05-04 07:00:00"},
		{night, "2026-05-05 07:00:00", false, "2026-05-06 07:00:00", "2026-05-04 22:00:00", "2026-05-05 07:00:00"},
		{night, "2026-05-05 21:59:59", false, "2026-05-06 07:00:00", "2026-05-04 22:00:00", "2026-05-05 07:00:00"},
		{night, "2026-12-31 22:30:00", true, "2027-01-01 07:00:00", "2026-12-30 22:00:00", "2026-12-31 07:00:00"},
		{office, "2026-05-05 08:59:59", false, "2026-05-05 17:00:00", "2026-05-04 09:00:00", "2026-05-04 17:00:00"},
		{office, "2026-05-05 09:00:00", true, "2026-05-05 17:00:00", "2026-05-04 09:00:00", "2026-05-04 17:00:00"},
		{office, "2026-05-05 17:00:00", false, "2026-05-06 17:00:00", "2026-05-05 09:00:00", "2026-05-05 17:00:00"},
		{empty, "2026-05-05 08:00:00", false, "", "", ""},
		// New York springs forward at 02:00 on 8 March 2026: the window
		// still ends at 07:00 on the wall, now 11:00 UTC instead of 12:00.
		{nyNight, "2026-03-08 06:30:00", true, "2026-03-08 11:00:00", "2026-03-07 03:00:00", "2026-03-07 12:00:00"},
		{nyNight, "2026-03-08 11:30:00", false, "2026-03-09 11:00:00", "2026-03-08 03:00:00", "2026-03-08 11:00:00"},
	}
	for _, tc := range tests {
		now := utc(tc.now)
		if got := inQuiet(tc.q, now); got != tc.in {
			t.Errorf("%v-%v at %s: in window = %v", tc.q.From, tc.q.To, tc.now, got)
		}
		if tc.end == "" {
			continue
		}
		if got := quietEnd(tc.q, now); !got.Equal(utc(tc.end)) {
			t.Errorf("%v-%v at %s: ends %v, want %s", tc.q.From, tc.q.To, tc.now, got.UTC(), tc.end)
		}
		lo, hi := lastWindow(tc.q, now)
		if !lo.Equal(utc(tc.lastLo)) || !hi.Equal(utc(tc.lastHi)) {
			t.Errorf("%v-%v at %s: last window %v..%v, want %s..%s", tc.q.From, tc.q.To, tc.now, lo.UTC(), hi.UTC(), tc.lastLo, tc.lastHi)
		}
	}
}

// During quiet hours only urgent entries go out; at the end a feed's pile
// becomes one summary and a lone item of another feed goes as it is.
func TestQuietHoursHoldAndSummarise(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(time.Date(2026, 5, 4, 23, 0, 0, 0, time.UTC))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	r := &recordingNotifier{}
	d := NewDispatcher(s, map[string]Notifier{"phone": r}, DispatcherOptions{
		Now:        clk.Now,
		QuietHours: map[string]*crier.QuietHours{"phone": {From: wallHM(22, 0), To: wallHM(7, 0), Location: time.UTC}},
		Burst:      map[string]int{"phone": 2},
	})
	urgentItem := feedNews("alerts", "server down")[0]
	urgentItem.Priority = intPtrOf(1)
	enqueueAll(t, s, "phone", feedNews("blog", "b1", "b2")...)
	enqueueAll(t, s, "phone", urgentItem)
	enqueueAll(t, s, "phone", feedNews("blog", "b3")...)
	enqueueAll(t, s, "phone", feedNews("lone", "l1")...)
	enqueueAll(t, s, "phone", feedNews("blog", "b4")...)
	enqueueAll(t, s, "phone", crier.Notification{Kind: crier.KindTest, Title: "test"})

	res, err := d.Drain(context.Background())
	if want := (DrainResult{Delivered: 2, Held: 5}); err != nil || res != want {
		t.Fatalf("inside the window: %+v, %v; want %+v", res, err, want)
	}
	if got := strings.Join(r.titles(), ","); got != "server down,test" {
		t.Fatalf("inside the window sent %s", got)
	}

	clk.Set(time.Date(2026, 5, 5, 7, 0, 1, 0, time.UTC))
	res, err = d.Drain(context.Background())
	if want := (DrainResult{Delivered: 2}); err != nil || res != want {
		t.Fatalf("after the window: %+v, %v; want %+v", res, err, want)
	}
	got := r.got[2:]
	if len(got) != 2 || got[0].Title != "l1" {
		t.Fatalf("released %+v", got)
	}
	sum := got[1]
	if sum.Kind != crier.KindSummary || sum.Title != "4 new headlines from blog" || sum.Count != 4 ||
		sum.Feed != "blog" || sum.FeedLink != "https://blog/" || len(sum.Items) != 4 ||
		sum.Items[0] != (crier.Headline{Title: "b1", Link: "https://blog/b1"}) || sum.Items[3].Title != "b4" {
		t.Fatalf("summary %+v", sum)
	}
}

// A window that ends while the dispatcher is idle wakes it at the end
// without a kick.
func TestRunWakesAtWindowEnd(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	var mu sync.Mutex
	var at time.Time
	r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
		mu.Lock()
		at = time.Now()
		mu.Unlock()
		return nil
	}}
	now := time.Now().UTC()
	end := now.Add(300 * time.Millisecond)
	off := wallOffset(end)
	q := &crier.QuietHours{From: off - time.Hour, To: off, Location: time.UTC}
	enqueueAll(t, s, "phone", feedNews("blog", "b1")...)
	d := NewDispatcher(s, map[string]Notifier{"phone": r}, DispatcherOptions{
		QuietHours: map[string]*crier.QuietHours{"phone": q}})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stopped := make(chan struct{})
	go func() { _ = d.Run(ctx); close(stopped) }()
	eventually(t, "release at window end", func() bool { return r.callCount() == 1 })
	cancel()
	<-stopped
	mu.Lock()
	defer mu.Unlock()
	if at.Before(end) {
		t.Fatalf("sent at %v, before the window ended at %v", at, end)
	}
	if late := at.Sub(end); late > 1500*time.Millisecond { // generous: loaded CI machines
		t.Fatalf("sent %v after the window ended", late)
	}
}
