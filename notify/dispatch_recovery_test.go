package notify

import (
	"context"
	"errors"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// After an outage the head entry is retried within a quarter of the time
// the notifier has been failing (at least the minimum backoff), whatever
// its attempt count: a service back after a short outage is found soon,
// not after an hour's backoff earned earlier, and a long outage is still
// probed rarely.
func TestBackoffFollowsTheOutage(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	var down atomic.Bool
	down.Store(true)
	r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
		if down.Load() {
			return errors.New("connection refused")
		}
		return nil
	}}
	enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
	// A previous run already failed it many times: its attempts alone
	// would back it off for up to an hour.
	head := pendingEntries(t, s, "r")[0]
	if err := s.Retry("r", head.ID, 20, dispatchT0, "connection refused"); err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{Now: clk.Now, MinBackoff: 5 * time.Second})

	var longest time.Duration
	for clk.Now().Before(dispatchT0.Add(6 * time.Hour)) {
		now := clk.Now()
		if _, err := d.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		e := pendingEntries(t, s, "r")[0]
		gap := e.NextTry.Sub(now)
		limit := max(5*time.Second, now.Sub(dispatchT0)/4)
		if gap > limit || gap < 5*time.Second {
			t.Fatalf("failing for %v: next try in %v, want 5s..%v", now.Sub(dispatchT0), gap, limit)
		}
		longest = max(longest, gap)
		clk.Set(e.NextTry)
	}
	if longest < 20*time.Minute || longest > time.Hour {
		t.Errorf("longest wait in a 6-hour outage %v; want the probes to spread out, up to an hour", longest)
	}
	// The service is back: the next probe finds it and the queue drains.
	down.Store(false)
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 2}) {
		t.Fatalf("after the outage: %+v, %v", res, err)
	}
}
