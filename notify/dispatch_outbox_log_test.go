package notify

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

// logCapture is a slog handler that keeps every record.
type logCapture struct {
	mu   sync.Mutex
	recs []slog.Record
}

func (c *logCapture) Enabled(context.Context, slog.Level) bool { return true }
func (c *logCapture) WithAttrs([]slog.Attr) slog.Handler       { return c } // the tests count records
func (c *logCapture) WithGroup(string) slog.Handler            { return c }
func (c *logCapture) Handle(_ context.Context, r slog.Record) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.recs = append(c.recs, r.Clone())
	return nil
}

// count returns how many records of level there are; with msg set, only
// those saying msg.
func (c *logCapture) count(level slog.Level, msg string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.recs {
		if r.Level == level && (msg == "" || r.Message == msg) {
			n++
		}
	}
	return n
}

// A full disk fails every outbox write until someone frees space: that is
// one ERROR for the episode, not one every few seconds, then quiet retries
// and one INFO when a write works again.
func TestOutboxFailureIsLoggedOncePerEpisode(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
	out := &flakyOutbox{Store: s, failDone: 6}
	logs := &logCapture{}
	r := &recordingNotifier{}
	d := NewDispatcher(out, map[string]Notifier{"r": r}, DispatcherOptions{
		Log: slog.New(logs), Now: clk.Now, MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = d.Run(ctx); close(stopped) }()
	eventually(t, "the queue to empty", func() bool { return len(pendingEntries(t, s, "r")) == 0 })
	cancel()
	<-stopped

	if got := r.titles(); len(got) != 2 {
		t.Fatalf("sent %q, want each once", got)
	}
	if n := logs.count(slog.LevelError, ""); n != 1 {
		t.Errorf("%d ERROR records for one episode, want 1", n)
	}
	if n := logs.count(slog.LevelWarn, ""); n != 0 {
		t.Errorf("%d WARN records, want none", n)
	}
	if n := logs.count(slog.LevelDebug, "outbox still unavailable"); n != 5 {
		t.Errorf("%d DEBUG records for the 5 failures after the first, want 5", n)
	}
	if n := logs.count(slog.LevelInfo, "outbox works again"); n != 1 {
		t.Errorf("%d INFO records of the recovery, want 1", n)
	}
}

// The pause between retries of a failing outbox doubles from the lane's
// minimum backoff up to a few minutes, and starts over after a recovery.
func TestOutboxPauseGrows(t *testing.T) {
	t.Parallel()
	var o outboxTrouble
	now := dispatchT0
	want := []time.Duration{5 * time.Second, 10 * time.Second, 20 * time.Second, 40 * time.Second,
		80 * time.Second, 160 * time.Second, 5 * time.Minute, 5 * time.Minute}
	for i, w := range want {
		pause, first := o.failed(now, 5*time.Second, 5*time.Minute)
		if pause != w || first != (i == 0) {
			t.Fatalf("failure %d: pause %v first %v, want %v %v", i+1, pause, first, w, i == 0)
		}
		now = now.Add(pause)
	}
	if since, ok := o.worked(); !ok || !since.Equal(dispatchT0) {
		t.Fatalf("worked = %v, %v; want the episode's start", since, ok)
	}
	if _, ok := o.worked(); ok {
		t.Fatal("a second success ended the episode again")
	}
	if pause, first := o.failed(now, 5*time.Second, 5*time.Minute); pause != 5*time.Second || !first {
		t.Fatalf("new episode: pause %v first %v, want 5s true", pause, first)
	}
}

// A lane waiting for its outbox is not wedged: it keeps marking progress,
// or the watchdog would restart crier over a full disk every few minutes.
func TestOutboxFailureKeepsProgress(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	enqueueAll(t, s, "r", feedNews("x", "1")...)
	out := &flakyOutbox{Store: s, failDone: 1 << 30}
	logs := &logCapture{}
	d := NewDispatcher(out, map[string]Notifier{"r": &recordingNotifier{}}, DispatcherOptions{
		Log: slog.New(logs), Now: clk.Now, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = d.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()
	eventually(t, "the outbox failure", func() bool { return logs.count(slog.LevelError, "") == 1 })
	later := dispatchT0.Add(10 * time.Minute)
	clk.Set(later)
	eventually(t, "progress while the outbox fails", func() bool { return !d.LastProgress().Before(later) })
}
