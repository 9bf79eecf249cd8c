package notify

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
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
