package main

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// fakeClock is a clock the test moves by hand; After fires when Advance
// passes its deadline, and asked hears of every After call.
type fakeClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []fakeWait
	asked chan time.Duration
}

type fakeWait struct {
	at time.Time
	ch chan time.Time
}

func newFakeClock(t time.Time) *fakeClock {
	return &fakeClock{t: t, asked: make(chan time.Duration, 16)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
	} else {
		c.waits = append(c.waits, fakeWait{at: c.t.Add(d), ch: ch})
	}
	select {
	case c.asked <- d:
	default:
	}
	return ch
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	kept := c.waits[:0]
	for _, w := range c.waits {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t
	}
	c.waits = kept
}

// nextWait is the duration of the clock's next After call; the real-time
// bound only guards against a hang.
func (c *fakeClock) nextWait(t *testing.T) time.Duration {
	t.Helper()
	select {
	case d := <-c.asked:
		return d
	case <-time.After(10 * time.Second):
		t.Fatal("the loop never waited on the clock")
		return 0
	}
}

// The prune loop runs a minute after start and then every six hours, and
// measures retention on its clock: a feed removed from the config is
// forgotten once its last poll is older than the retention, not before.
func TestPruneLoopOnClock(t *testing.T) {
	t.Parallel()
	start := time.Date(2024, 6, 1, 12, 0, 0, 0, time.UTC)
	storeNow := start
	st, err := bolt.Open(filepath.Join(t.TempDir(), "crier.db"), bolt.Options{NoSync: true, Now: func() time.Time { return storeNow }})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	const day = 24 * time.Hour
	for feed, ago := range map[string]time.Duration{"old": 40 * day, "young": 20 * day, "edge": 30*day - 2*time.Minute} {
		if _, err := st.Ingest(feed, crier.FeedState{URL: "https://" + feed + ".example/rss", LastPoll: start.Add(-ago)},
			[]crier.Item{{Keys: []string{"g:1"}, Title: "one"}}, nil); err != nil {
			t.Fatal(err)
		}
	}
	clk := newFakeClock(start)
	d := &daemon{log: slog.New(slog.DiscardHandler), store: st, clock: clk,
		cfg: &crier.Config{Retention: 30 * day}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { d.pruneLoop(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	known := func() map[string]bool {
		states, err := st.FeedStates()
		if err != nil {
			t.Fatal(err)
		}
		out := map[string]bool{}
		for id := range states {
			out[id] = true
		}
		return out
	}
	if got := clk.nextWait(t); got != time.Minute {
		t.Fatalf("first prune after %s, want a minute", got)
	}
	clk.Advance(time.Minute)
	if got := clk.nextWait(t); got != pruneEvery {
		t.Fatalf("next prune after %s, want %s", got, pruneEvery)
	}
	// The wait is asked for after the prune: the file is settled.
	if got := known(); !got["young"] || !got["edge"] || got["old"] {
		t.Errorf("after the first prune the store knows %v, want young and edge only", got)
	}
	clk.Advance(pruneEvery)
	clk.nextWait(t)
	if got := known(); !got["young"] || got["edge"] || got["old"] {
		t.Errorf("six hours later the store knows %v, want young only", got)
	}
}
