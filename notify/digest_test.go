package notify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/robfig/cron/v3"
)

func TestDigest(t *testing.T) {
	t.Parallel()
	// 07:30 on a Tuesday; the digest goes out daily at 08:00 UTC.
	clk := newFakeClock(time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	r := &recordingNotifier{}
	d := NewDispatcher(s, map[string]Notifier{"mail": r}, DispatcherOptions{
		Now: clk.Now, Digest: map[string]string{"mail": "CRON_TZ=UTC 0 8 * * *"}})

	enqueueAll(t, s, "mail", feedNews("Wire", "w1", "w2", "w3")...)
	enqueueAll(t, s, "mail", feedNews("Journal", "j1")...)
	urgentItem := feedNews("Wire", "breaking")[0]
	one := 1
	urgentItem.Priority = &one
	enqueueAll(t, s, "mail", urgentItem)

	// Before 08:00 only the urgent item goes out.
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1, Held: 4}) {
		t.Fatalf("before the digest: %+v, %v", res, err)
	}
	if got := r.titles(); len(got) != 1 || got[0] != "breaking" {
		t.Fatalf("sent before the digest: %q", got)
	}

	// At 08:00 the four held items become one digest, grouped by feed.
	clk.Set(time.Date(2026, 3, 3, 8, 0, 1, 0, time.UTC))
	enqueueAll(t, s, "mail", feedNews("Wire", "late")...) // after the boundary: next digest
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1, Held: 1}) {
		t.Fatalf("at the digest: %+v, %v", res, err)
	}
	r.mu.Lock()
	dig := r.got[len(r.got)-1]
	r.mu.Unlock()
	if !dig.Digest || dig.Kind != crier.KindSummary || dig.Count != 4 || dig.Title != "4 new headlines from 2 feeds" {
		t.Fatalf("digest = %+v", dig)
	}
	var lines []string
	for _, h := range dig.Items {
		lines = append(lines, h.Title)
	}
	if got := strings.Join(lines, "|"); !strings.HasPrefix(got, "Wire: ") || !strings.HasSuffix(got, "Journal: j1") {
		t.Errorf("digest headlines not grouped by feed: %s", got)
	}

	// The next day's digest carries the late item.
	clk.Set(time.Date(2026, 3, 4, 8, 0, 1, 0, time.UTC))
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
		t.Fatalf("next digest: %+v, %v", res, err)
	}
}

// A digest gathers news only: an alert about a feed, or crier itself,
// goes out at once, not at the next digest time.
func TestDigestSendsAlertsAtOnce(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(time.Date(2026, 3, 3, 7, 30, 0, 0, time.UTC))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	r := &recordingNotifier{}
	d := NewDispatcher(s, map[string]Notifier{"mail": r}, DispatcherOptions{
		Now: clk.Now, Digest: map[string]string{"mail": "CRON_TZ=UTC 0 8 * * *"}})
	enqueueAll(t, s, "mail", feedNews("Wire", "w1")...)
	enqueueAll(t, s, "mail", crier.Notification{Kind: crier.KindAlert, Feed: "Wire",
		FeedURL: "https://Wire/feed", Title: "Wire is failing: HTTP 503"})

	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1, Held: 1}) {
		t.Fatalf("before the digest: %+v, %v", res, err)
	}
	if got := r.titles(); len(got) != 1 || got[0] != "Wire is failing: HTTP 503" {
		t.Fatalf("sent before the digest: %q, want the alert", got)
	}
	clk.Set(time.Date(2026, 3, 3, 8, 0, 1, 0, time.UTC))
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
		t.Fatalf("at the digest: %+v, %v", res, err)
	}
	r.mu.Lock()
	dig := r.got[len(r.got)-1]
	r.mu.Unlock()
	if !dig.Digest || dig.Count != 1 {
		t.Fatalf("digest = %+v, want the one item", dig)
	}
}

// countingSchedule counts the Next calls lastFire makes.
type countingSchedule struct {
	cron.Schedule
	calls int
}

func (c *countingSchedule) Next(t time.Time) time.Time {
	c.calls++
	return c.Schedule.Next(t)
}

func TestLastFire(t *testing.T) {
	t.Parallel()
	// 2026-03-06 is a Friday, 2026-03-09 a Monday.
	utc := func(s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		v, err := time.Parse("2006-01-02 15:04:05", s)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	tests := []struct {
		spec, now, want string
	}{
		{"0 9 * * 1-5", "2026-03-09 08:00:00", "2026-03-06 09:00:00"}, // Monday morning: Friday's
		{"0 9 * * 1-5", "2026-03-07 12:00:00", "2026-03-06 09:00:00"}, // Saturday
		{"0 9 * * 1-5", "2026-03-09 09:00:00", "2026-03-09 09:00:00"}, // at the time itself
		{"0 9 * * 1-5", "2026-03-10 08:59:59", "2026-03-09 09:00:00"},
		{"0 8 * * *", "2026-03-03 07:30:00", "2026-03-02 08:00:00"},
		{"0 9 1 * *", "2026-03-15 00:00:00", "2026-03-01 09:00:00"},
		{"* * * * 1", "2026-03-10 08:00:00", "2026-03-09 23:59:00"}, // dense, then a 6-day gap
		{"*/5 * * * *", "2026-03-10 08:07:30", "2026-03-10 08:05:00"},
		{"0 0 30 2 *", "2026-03-10 08:00:00", ""}, // never fires
	}
	for _, tc := range tests {
		sched, err := cron.ParseStandard("CRON_TZ=UTC " + tc.spec)
		if err != nil {
			t.Fatal(err)
		}
		c := &countingSchedule{Schedule: sched}
		if got := lastFire(c, utc(tc.now)); !got.Equal(utc(tc.want)) {
			t.Errorf("%q at %s: last fire %v, want %s", tc.spec, tc.now, got, tc.want)
		}
		if c.calls > 80 {
			t.Errorf("%q at %s: %d Next calls for one look-up", tc.spec, tc.now, c.calls)
		}
	}
	// A schedule every minute stays cheap: pick runs this on every step.
	sched, err := cron.ParseStandard("@every 1m")
	if err != nil {
		t.Fatal(err)
	}
	c := &countingSchedule{Schedule: sched}
	now := utc("2026-03-10 08:00:00")
	if got := lastFire(c, now); got.After(now) || got.Before(now.Add(-time.Minute)) || c.calls > 80 {
		t.Errorf("@every 1m: last fire %v after %d Next calls", got, c.calls)
	}
}

// Items queued before Friday's weekday digest and not sent by Monday
// morning (the machine was off) go out as Friday's digest on Monday, not
// only at Monday's digest time.
func TestDigestAcrossTheWeekend(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(time.Date(2026, 3, 6, 8, 0, 0, 0, time.UTC)) // Friday
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	r := &recordingNotifier{}
	d := NewDispatcher(s, map[string]Notifier{"mail": r}, DispatcherOptions{
		Now: clk.Now, Digest: map[string]string{"mail": "CRON_TZ=UTC 0 9 * * 1-5"}})
	enqueueAll(t, s, "mail", feedNews("Wire", "w1", "w2")...)

	clk.Set(time.Date(2026, 3, 9, 8, 0, 0, 0, time.UTC)) // Monday, before its digest
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
		t.Fatalf("Monday 08:00: %+v, %v; want Friday's digest delivered", res, err)
	}
	if got := r.titles(); len(got) != 1 || got[0] != "2 new headlines from Wire" {
		t.Fatalf("sent %q", got)
	}
}
