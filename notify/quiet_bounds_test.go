package notify

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// The edges of summarising at the end of quiet hours (22:00-07:00 UTC):
// only a pile larger than the burst becomes a summary, and only entries
// queued inside the window count towards it: from its first instant up to,
// not including, its end.
func TestQuietReleaseBoundaries(t *testing.T) {
	t.Parallel()
	night := func(h, m, s int) time.Time { return time.Date(2026, 5, 4, h, m, s, 0, time.UTC) }
	morning := func(h, m, s int) time.Time { return time.Date(2026, 5, 5, h, m, s, 0, time.UTC) }
	type queued struct {
		at    time.Time
		title string
	}
	tests := []struct {
		name   string
		burst  int
		queue  []queued
		want   []string // titles sent at 07:00, in order
		sumLen int      // headlines in the summary, 0: none
	}{
		{"exactly the burst goes one by one", 3,
			[]queued{{night(23, 0, 0), "b1"}, {night(23, 1, 0), "b2"}, {night(23, 2, 0), "b3"}},
			[]string{"b1", "b2", "b3"}, 0},
		{"one more than the burst is summarised", 3,
			[]queued{{night(23, 0, 0), "b1"}, {night(23, 1, 0), "b2"}, {night(23, 2, 0), "b3"}, {morning(3, 0, 0), "b4"}},
			[]string{"4 new headlines from blog"}, 4},
		{"only entries queued inside the window count", 1,
			[]queued{
				{night(21, 59, 59), "before"},   // failing since before the window: not held by it
				{night(22, 0, 0), "at start"},   // the window's first instant
				{morning(6, 59, 59), "last"},    // its last
				{morning(7, 0, 0), "after end"}, // the window is over
			},
			[]string{"before", "after end", "2 new headlines from blog"}, 2},
		{"a pile from an older window is not this window's", 1,
			[]queued{{night(21, 0, 0).Add(-24 * time.Hour), "old1"}, {night(21, 0, 0).Add(-24 * time.Hour), "old2"},
				{night(23, 0, 0), "new1"}},
			[]string{"old1", "old2", "new1"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(night(0, 0, 0))
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
			for _, q := range tc.queue {
				clk.Set(q.at)
				enqueueAll(t, s, "phone", feedNews("blog", q.title)...)
			}
			r := &recordingNotifier{}
			d := NewDispatcher(s, map[string]Notifier{"phone": r}, DispatcherOptions{
				Now:        clk.Now,
				QuietHours: map[string]*crier.QuietHours{"phone": {From: wallHM(22, 0), To: wallHM(7, 0), Location: time.UTC}},
				Burst:      map[string]int{"phone": tc.burst},
			})
			clk.Set(morning(7, 0, 0))
			if _, err := d.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			if got := r.titles(); !slices.Equal(got, tc.want) {
				t.Fatalf("sent %q, want %q", got, tc.want)
			}
			var sum *crier.Notification
			for i := range r.got {
				if r.got[i].Kind == crier.KindSummary {
					sum = &r.got[i]
				}
			}
			switch {
			case tc.sumLen == 0 && sum != nil:
				t.Fatalf("unexpected summary %+v", sum)
			case tc.sumLen > 0 && (sum == nil || sum.Count != tc.sumLen || len(sum.Items) != tc.sumLen):
				t.Fatalf("summary %+v, want %d headlines", sum, tc.sumLen)
			}
		})
	}
}

// A digest lists each feed's headlines newest first, by publication time
// (queueing time when unknown), and at most 30 of them; the rest are
// counted in its title and its "and N more" line.
func TestDigestOrderAndCap(t *testing.T) {
	t.Parallel()
	tests := []struct {
		items, listed int
	}{
		{30, 30},
		{31, 30},
		{45, 30},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprint(tc.items), func(t *testing.T) {
			t.Parallel()
			t0 := time.Date(2026, 3, 3, 6, 0, 0, 0, time.UTC)
			clk := newFakeClock(t0)
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
			// Queued in an order unlike their publication: item i was
			// published i minutes after t0-2h, except the last, whose date
			// is unknown and so counts as queued at 07:59, the newest.
			var ns []crier.Notification
			for i := range tc.items {
				n := feedNews("Wire", fmt.Sprintf("w%02d", i))[0]
				if i < tc.items-1 {
					n.Published = t0.Add(-2*time.Hour + time.Duration(i)*time.Minute)
				}
				ns = append(ns, n)
			}
			dated := ns[:len(ns)-1]
			for i := len(dated) - 1; i >= 0; i -= 2 { // every other one, newest first
				enqueueAll(t, s, "mail", dated[i])
			}
			for i := range dated { // the rest, oldest first
				if (len(dated)-1-i)%2 == 1 {
					enqueueAll(t, s, "mail", dated[i])
				}
			}
			clk.Set(t0.Add(119 * time.Minute))
			enqueueAll(t, s, "mail", ns[len(ns)-1])
			r := &recordingNotifier{}
			d := NewDispatcher(s, map[string]Notifier{"mail": r}, DispatcherOptions{
				Now: clk.Now, Digest: map[string]string{"mail": "CRON_TZ=UTC 0 8 * * *"}})
			clk.Set(t0.Add(2 * time.Hour))
			if res, err := d.Drain(context.Background()); err != nil || res.Delivered != 1 {
				t.Fatalf("digest drain: %+v, %v", res, err)
			}
			dig := r.got[0]
			if !dig.Digest || dig.Count != tc.items || len(dig.Items) != tc.listed {
				t.Fatalf("digest of %d items: count %d, %d listed; want %d listed", tc.items, dig.Count, len(dig.Items), tc.listed)
			}
			var want []string
			want = append(want, fmt.Sprintf("w%02d", tc.items-1))
			for i := tc.items - 2; len(want) < tc.listed; i-- {
				want = append(want, fmt.Sprintf("w%02d", i))
			}
			var got []string
			for _, h := range dig.Items {
				got = append(got, h.Title)
			}
			if !slices.Equal(got, want) {
				t.Fatalf("digest lists %q\nwant newest first %q", got, want)
			}
		})
	}
}
