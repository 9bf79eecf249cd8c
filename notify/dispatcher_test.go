package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/store/bolt"
)

// clock is a settable time source shared by the store and the dispatcher.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock(t time.Time) *fakeClock { return &fakeClock{t: t} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

// recordingNotifier is a notifier that keeps what it delivered; fn, when set,
// decides each call's fate (call counts from 1).
type recordingNotifier struct {
	mu    sync.Mutex
	got   []crier.Notification
	calls int
	fn    func(ctx context.Context, call int, n crier.Notification) error
}

func (r *recordingNotifier) Send(ctx context.Context, n crier.Notification) error {
	r.mu.Lock()
	r.calls++
	call, fn := r.calls, r.fn
	r.mu.Unlock()
	if fn != nil {
		if err := fn(ctx, call, n); err != nil {
			return err
		}
	}
	r.mu.Lock()
	r.got = append(r.got, n)
	r.mu.Unlock()
	return nil
}

func (r *recordingNotifier) titles() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.got {
		out = append(out, n.Title)
	}
	return out
}

func (r *recordingNotifier) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

func openTestStore(t *testing.T, path string, now func() time.Time) *bolt.Store {
	t.Helper()
	s, err := bolt.Open(path, bolt.Options{Now: now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func enqueueAll(t *testing.T, s *bolt.Store, notifier string, ns ...crier.Notification) {
	t.Helper()
	var ds []crier.Delivery
	for _, n := range ns {
		ds = append(ds, crier.Delivery{Notifier: notifier, Notification: n})
	}
	if _, err := s.Enqueue(ds...); err != nil {
		t.Fatal(err)
	}
}

func feedNews(feed string, titles ...string) []crier.Notification {
	var out []crier.Notification
	for _, title := range titles {
		out = append(out, crier.Notification{Kind: crier.KindItem, Feed: feed, FeedURL: "https://" + feed + "/feed",
			FeedLink: "https://" + feed + "/", Title: title, Link: "https://" + feed + "/" + title, ItemID: "l:" + title})
	}
	return out
}

func pendingEntries(t *testing.T, s *bolt.Store, notifier string) []crier.Entry {
	t.Helper()
	p, err := s.Pending(notifier)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

var dispatchT0 = time.Date(2026, 5, 4, 12, 0, 0, 0, time.UTC)

func TestRunDeliversInOrderAndLeavesOthersAlone(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	a, b := &recordingNotifier{}, &recordingNotifier{}
	enqueueAll(t, s, "a", feedNews("x", "a1", "a2", "a3")...)
	enqueueAll(t, s, "ghost", feedNews("x", "g1")...)
	var mu sync.Mutex
	results := 0
	d := NewDispatcher(s, map[string]Notifier{"a": a, "b": b}, DispatcherOptions{
		OnResult: func(string, crier.Entry, error) { mu.Lock(); results++; mu.Unlock() },
	})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan error)
	go func() { stopped <- d.Run(ctx) }()

	eventually(t, "a's backlog", func() bool { return len(a.titles()) == 3 })
	// Entries queued while running go out as soon as the dispatcher is kicked.
	enqueueAll(t, s, "a", feedNews("x", "a4")...)
	enqueueAll(t, s, "b", feedNews("y", "b1", "b2")...)
	d.Kick()
	eventually(t, "kicked entries", func() bool { return len(a.titles()) == 4 && len(b.titles()) == 2 })
	cancel()
	select {
	case err := <-stopped:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run did not return after cancel")
	}

	if got := strings.Join(a.titles(), ","); got != "a1,a2,a3,a4" {
		t.Errorf("a got %s", got)
	}
	if got := strings.Join(b.titles(), ","); got != "b1,b2" {
		t.Errorf("b got %s", got)
	}
	if n := len(pendingEntries(t, s, "a")) + len(pendingEntries(t, s, "b")); n != 0 {
		t.Errorf("%d entries left", n)
	}
	if n := len(pendingEntries(t, s, "ghost")); n != 1 {
		t.Errorf("entry of an unserved notifier: %d pending, want it left alone", n)
	}
	if results != 6 {
		t.Errorf("OnResult saw %d attempts, want 6", results)
	}
	if since := time.Since(d.LastProgress()); since > 2*time.Second {
		t.Errorf("LastProgress %v ago", since)
	}
}

// A Pushover 500 is retried after the dispatcher restarts, from the
// persisted attempt count and NextTry, and delivered exactly once.
func TestRetrySurvivesRestart(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	fake.FailNext(1, 500)
	clk := newFakeClock(dispatchT0)
	path := filepath.Join(t.TempDir(), "state.db")

	s, err := bolt.Open(path, bolt.Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	enqueueAll(t, s, "phone", sampleItem())
	p := newTestPushover(t, fake, nil)
	d := NewDispatcher(s, map[string]Notifier{"phone": p}, DispatcherOptions{Now: clk.Now, MinBackoff: time.Second})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 1}) {
		t.Fatalf("first drain: %+v, %v", res, err)
	}
	e := pendingEntries(t, s, "phone")[0]
	if e.Attempts != 1 || !strings.Contains(e.LastError, "500") {
		t.Fatalf("after a 500: attempts %d, last error %q", e.Attempts, e.LastError)
	}
	if min := dispatchT0.Add(5 * time.Second); e.NextTry.Before(min) {
		t.Fatalf("next try %v is sooner than Pushover's 5s minimum", e.NextTry)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	// Restart: the entry is still backing off, so nothing is sent yet.
	s = openTestStore(t, path, clk.Now)
	p = newTestPushover(t, fake, nil)
	d = NewDispatcher(s, map[string]Notifier{"phone": p}, DispatcherOptions{Now: clk.Now, MinBackoff: time.Second})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 1}) || fake.Requests() != 1 {
		t.Fatalf("drain before NextTry: %+v, %v, %d requests", res, err, fake.Requests())
	}
	clk.Set(e.NextTry)
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
		t.Fatalf("drain at NextTry: %+v, %v", res, err)
	}
	if n := len(fake.Messages()); n != 1 {
		t.Fatalf("pushover received %d messages, want exactly 1", n)
	}
}

func TestPermanentFailureIsBuriedAndQueueMovesOn(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	fake.FailNext(1, 400)
	var logs logBuffer
	log := slog.New(slog.NewTextHandler(&logs, nil))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "phone", feedNews("x", "bad", "good")...)
	d := NewDispatcher(s, map[string]Notifier{"phone": newTestPushover(t, fake, nil)}, DispatcherOptions{Log: log})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	dead, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].Notification.Title != "bad" || !strings.Contains(dead[0].Reason, "HTTP 400") {
		t.Fatalf("dead letters %+v", dead)
	}
	if m := fake.Messages(); len(m) != 1 || !strings.HasPrefix(m[0].Message, "good") {
		t.Fatalf("pushover got %+v", m)
	}
	out := logs.String()
	if n := strings.Count(out, "level=ERROR"); n != 1 || !strings.Contains(out, "notifier=phone") ||
		!strings.Contains(out, "feed=x") || !strings.Contains(out, "item=l:bad") {
		t.Errorf("want one error naming notifier, feed and item:\n%s", out)
	}
}

func TestPanicIsBuried(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	r := &recordingNotifier{fn: func(_ context.Context, call int, _ crier.Notification) error {
		if call == 1 {
			panic("boom")
		}
		return nil
	}}
	enqueueAll(t, s, "r", feedNews("x", "first", "second")...)
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{})
	if res, err := d.Drain(context.Background()); err != nil || res.Delivered != 1 {
		t.Fatalf("drain: %+v, %v", res, err)
	}
	dead, _ := s.DeadLetters()
	if len(dead) != 1 || !strings.Contains(dead[0].Reason, "panicked: boom") {
		t.Fatalf("dead letters %+v", dead)
	}
}

func TestBackoff(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		retryAfter time.Duration
		failures   int
	}{
		{"no hint", 0, 6},
		{"Retry-After beyond MaxBackoff", 2 * time.Hour, 1},
		{"Retry-After below the minimum", time.Millisecond, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(dispatchT0)
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
			r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
				return Temporary(errors.New("busy"), tc.retryAfter)
			}}
			enqueueAll(t, s, "r", sampleItem())
			d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{
				Now: clk.Now, MinBackoff: 10 * time.Second, MaxBackoff: time.Minute})
			for i := 1; i <= tc.failures; i++ {
				now := clk.Now()
				if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 1}) {
					t.Fatalf("drain %d: %+v, %v", i, res, err)
				}
				e := pendingEntries(t, s, "r")[0]
				gap := e.NextTry.Sub(now)
				lo, hi := max(10*time.Second, tc.retryAfter), max(time.Minute, tc.retryAfter)
				if e.Attempts != i || gap < lo || gap > hi {
					t.Fatalf("failure %d: attempts %d, next try after %v, want %v..%v", i, e.Attempts, gap, lo, hi)
				}
				if i == 1 && tc.retryAfter <= 10*time.Second && gap != 10*time.Second {
					t.Fatalf("first retry after %v, want the minimum", gap)
				}
				clk.Set(e.NextTry)
			}
			if r.callCount() != tc.failures {
				t.Fatalf("%d sends for %d drains", r.callCount(), tc.failures)
			}
		})
	}
}

func TestParkedKeepsAttempts(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	reset := dispatchT0.Add(48 * time.Hour)
	fake.SetRemaining(0, reset)
	clk := newFakeClock(dispatchT0)
	var logs logBuffer
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	enqueueAll(t, s, "phone", feedNews("x", "a", "b")...)
	p := newTestPushover(t, fake, nil)
	p.now = clk.Now
	d := NewDispatcher(s, map[string]Notifier{"phone": p}, DispatcherOptions{
		Now: clk.Now, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	for i := 0; i < 2; i++ {
		if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 2}) {
			t.Fatalf("drain: %+v, %v", res, err)
		}
	}
	e := pendingEntries(t, s, "phone")[0]
	if e.Attempts != 0 || !e.NextTry.Equal(reset) {
		t.Fatalf("parked entry: attempts %d next %v, want 0 and %v", e.Attempts, e.NextTry, reset)
	}
	if n := strings.Count(logs.String(), "parked"); n != 1 {
		t.Errorf("parking logged %d times:\n%s", n, logs.String())
	}
	if fake.Requests() != 1 {
		t.Errorf("%d requests while parked, want 1", fake.Requests())
	}
	// The quota resets: both go out.
	fake.SetRemaining(100, reset.Add(30*24*time.Hour))
	clk.Set(reset)
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 2}) {
		t.Fatalf("after reset: %+v, %v", res, err)
	}
}

func TestDrainLeavesFailingQueue(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
		return HTTPStatusError("svc", 503, "down", 0)
	}}
	ok := &recordingNotifier{}
	enqueueAll(t, s, "r", feedNews("x", "1", "2", "3")...)
	enqueueAll(t, s, "ok", feedNews("x", "1", "2")...)
	d := NewDispatcher(s, map[string]Notifier{"r": r, "ok": ok}, DispatcherOptions{MinBackoff: time.Millisecond})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 2, Pending: 3}) {
		t.Fatalf("drain: %+v, %v; want 2 delivered, 3 pending", res, err)
	}
	if r.callCount() != 1 {
		t.Errorf("failing notifier called %d times; head-of-line wants 1", r.callCount())
	}
}

func TestSendTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	t.Cleanup(func() { close(release) }) // after the parallel subtests
	tests := []struct {
		name    string
		send    func(ctx context.Context, _ int, _ crier.Notification) error
		errText string
	}{
		{"honours ctx", func(ctx context.Context, _ int, _ crier.Notification) error {
			<-ctx.Done()
			return fmt.Errorf("hung: %w", ctx.Err())
		}, "deadline exceeded"},
		{"ignores ctx", func(context.Context, int, crier.Notification) error {
			<-release
			return nil
		}, "did not return within"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
			enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
			r := &recordingNotifier{fn: tc.send}
			d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{SendTimeout: 100 * time.Millisecond})
			start := time.Now()
			res, err := d.Drain(context.Background())
			if took := time.Since(start); took > 2*time.Second {
				t.Fatalf("Drain took %v with a 100ms send timeout", took)
			}
			if err != nil || res != (DrainResult{Pending: 2}) {
				t.Fatalf("drain: %+v, %v", res, err)
			}
			if e := pendingEntries(t, s, "r")[0]; e.Attempts != 1 || !strings.Contains(e.LastError, tc.errText) {
				t.Fatalf("attempts %d last error %q, want %q", e.Attempts, e.LastError, tc.errText)
			}
			if r.callCount() != 1 {
				t.Fatalf("%d sends in flight, want 1", r.callCount())
			}
		})
	}
}

func TestRunStopsPromptlyWhileBackingOff(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error { return errors.New("nope") }}
	enqueueAll(t, s, "r", sampleItem())
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{MinBackoff: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = d.Run(ctx); close(stopped) }()
	eventually(t, "first attempt", func() bool { return r.callCount() == 1 })
	cancel()
	select {
	case <-stopped:
	case <-time.After(time.Second):
		t.Fatal("Run kept waiting out a backoff after cancel")
	}
	if e := pendingEntries(t, s, "r")[0]; e.Attempts != 1 || e.NextTry.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("entry %+v", e)
	}
}

// A notifier wedged in a send shows in LastProgress even while another
// notifier keeps delivering, and stops showing once its send returns.
func TestLastProgressIsTheOldestNotifiers(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	started, release := make(chan struct{}), make(chan struct{})
	slow := &recordingNotifier{fn: func(ctx context.Context, _ int, _ crier.Notification) error {
		close(started)
		select {
		case <-release:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	}}
	fast := &recordingNotifier{}
	enqueueAll(t, s, "slow", feedNews("x", "s1")...)
	enqueueAll(t, s, "fast", feedNews("x", "f1")...)
	d := NewDispatcher(s, map[string]Notifier{"slow": slow, "fast": fast}, DispatcherOptions{
		Now: clk.Now, SendTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	stopped := make(chan struct{})
	go func() { _ = d.Run(ctx); close(stopped) }()
	defer func() { cancel(); <-stopped }()

	waitClosed(t, "the slow send", started)
	eventually(t, "the fast delivery", func() bool { return len(fast.titles()) == 1 })
	later := dispatchT0.Add(10 * time.Minute)
	clk.Set(later)
	enqueueAll(t, s, "fast", feedNews("x", "f2")...)
	d.Kick()
	eventually(t, "the second fast delivery", func() bool { return len(pendingEntries(t, s, "fast")) == 0 })
	time.Sleep(20 * time.Millisecond) // the fast lane marks its progress
	if got := d.LastProgress(); got.After(dispatchT0) {
		t.Fatalf("LastProgress %v hides the notifier stuck in a send since %v", got, dispatchT0)
	}
	close(release)
	eventually(t, "progress once the slow send returns", func() bool { return d.LastProgress().Equal(later) })
}
