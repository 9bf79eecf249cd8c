package notify

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// hangingNotifier's first send ignores its context and returns late
// only when release is closed, with the verdict late; later sends succeed.
func hangingNotifier(release <-chan struct{}, late error) *recordingNotifier {
	return &recordingNotifier{fn: func(_ context.Context, call int, _ crier.Notification) error {
		if call == 1 {
			<-release
			return late
		}
		return nil
	}}
}

// abandonWatch returns an OnResult that closes the returned channel when
// the dispatcher gives up waiting for a send.
func abandonWatch() (func(string, crier.Entry, error), <-chan struct{}) {
	abandoned := make(chan struct{})
	var once sync.Once
	return func(_ string, _ crier.Entry, err error) {
		if err != nil && strings.Contains(err.Error(), "did not return within") {
			once.Do(func() { close(abandoned) })
		}
	}, abandoned
}

func waitClosed(t *testing.T, what string, c <-chan struct{}) {
	t.Helper()
	select {
	case <-c:
	case <-time.After(3 * time.Second):
		t.Fatalf("timed out waiting for %s", what)
	}
}

// A send that outlives its deadline is recorded as failed and the queue
// waits for it. Its late verdict then counts: a late success is the
// delivery (never sent again); a late failure is retried.
func TestAbandonedSendLateVerdict(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		late      error
		wantCalls int
	}{
		{"delivered late", nil, 1},
		{"failed late", errors.New("connection reset"), 2},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
			enqueueAll(t, s, "r", feedNews("x", "1")...)
			release := make(chan struct{})
			r := hangingNotifier(release, tc.late)
			onResult, abandoned := abandonWatch()
			d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{
				SendTimeout: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
				UnconfirmedWait: time.Millisecond, OnResult: onResult,
			})
			ctx, cancel := context.WithCancel(context.Background())
			stopped := make(chan struct{})
			go func() { _ = d.Run(ctx); close(stopped) }()
			defer func() { cancel(); <-stopped }()

			waitClosed(t, "the send to be abandoned", abandoned)
			eventually(t, "the abandoned send recorded as a failed attempt", func() bool {
				e := pendingEntries(t, s, "r")
				return len(e) == 1 && e[0].Attempts == 1
			})
			close(release)
			eventually(t, "the queue to empty", func() bool { return len(pendingEntries(t, s, "r")) == 0 })
			if got := r.callCount(); got != tc.wantCalls {
				t.Fatalf("%d sends, want %d", got, tc.wantCalls)
			}
			if got := len(r.titles()); got != 1 {
				t.Fatalf("delivered %d times, want once", got)
			}
		})
	}
}

// Stop lets an abandoned send finish before Run returns: a config reload
// starts the next dispatcher as soon as Run returns, and two sends for one
// notifier must never be in flight. Only cancelling the context skips it.
func TestStopWaitsForAbandonedSend(t *testing.T) {
	t.Parallel()
	for _, cancelled := range []bool{false, true} {
		name := "stop"
		if cancelled {
			name = "cancel"
		}
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
			enqueueAll(t, s, "r", feedNews("x", "1")...)
			release := make(chan struct{})
			r := hangingNotifier(release, nil)
			onResult, abandoned := abandonWatch()
			d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{
				SendTimeout: 20 * time.Millisecond, MinBackoff: time.Millisecond, OnResult: onResult,
			})
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopped := make(chan struct{})
			go func() { _ = d.Run(ctx); close(stopped) }()

			waitClosed(t, "the send to be abandoned", abandoned)
			if cancelled {
				cancel()
			} else {
				d.Stop()
			}
			select {
			case <-stopped:
				if !cancelled {
					close(release)
					t.Fatal("Run returned on Stop while an abandoned send was still in flight")
				}
			case <-time.After(150 * time.Millisecond):
				if cancelled {
					close(release)
					t.Fatal("Run kept waiting for an abandoned send after its context was cancelled")
				}
			}
			close(release)
			waitClosed(t, "Run to return", stopped)
			if cancelled {
				return
			}
			if n := len(pendingEntries(t, s, "r")); n != 0 || r.callCount() != 1 {
				t.Fatalf("after Stop: %d pending, %d sends; want the late delivery marked done", n, r.callCount())
			}
		})
	}
}

// Drain never sends beside an abandoned send, and a later Drain takes its
// late success as the delivery.
func TestDrainSettlesAbandonedSend(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
	release := make(chan struct{})
	r := hangingNotifier(release, nil)
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{
		SendTimeout: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
		UnconfirmedWait: time.Millisecond,
	})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 2}) {
		t.Fatalf("first drain: %+v, %v", res, err)
	}
	time.Sleep(5 * time.Millisecond) // the backoff passes; the send is still out
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 2}) || r.callCount() != 1 {
		t.Fatalf("drain beside a stuck send: %+v, %v, %d sends", res, err, r.callCount())
	}
	close(release)
	eventually(t, "the queue to empty", func() bool {
		res, err := d.Drain(context.Background())
		return err == nil && res.Pending == 0
	})
	if got := strings.Join(r.titles(), ","); got != "1,2" || r.callCount() != 2 {
		t.Fatalf("delivered %s in %d sends, want 1,2 in 2", got, r.callCount())
	}
}
