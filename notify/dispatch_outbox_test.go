package notify

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier/store"
)

// flakyOutbox is the real store whose Done fails its first failDone calls,
// like a full disk that recovers.
type flakyOutbox struct {
	*store.Store
	mu       sync.Mutex
	failDone int
}

func (f *flakyOutbox) Done(notifier string, id uint64) error {
	f.mu.Lock()
	fail := f.failDone > 0
	if fail {
		f.failDone--
	}
	f.mu.Unlock()
	if fail {
		return errors.New("write state.db: no space left on device")
	}
	return f.Store.Done(notifier, id)
}

// A delivery whose Done fails is marked later, never sent again.
func TestFailedDoneIsNotResent(t *testing.T) {
	t.Parallel()
	t.Run("run", func(t *testing.T) {
		t.Parallel()
		s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
		enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
		out := &flakyOutbox{Store: s, failDone: 2}
		r := &recordingNotifier{}
		d := NewDispatcher(out, map[string]Notifier{"r": r}, DispatcherOptions{MinBackoff: time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		stopped := make(chan struct{})
		go func() { _ = d.Run(ctx); close(stopped) }()
		eventually(t, "the queue to empty", func() bool { return len(pendingEntries(t, s, "r")) == 0 })
		cancel()
		<-stopped
		if got := r.titles(); len(got) != 2 || got[0] != "1" || got[1] != "2" {
			t.Fatalf("sent %q, want each once", got)
		}
	})
	t.Run("drain", func(t *testing.T) {
		t.Parallel()
		s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
		enqueueAll(t, s, "r", feedNews("x", "1", "2")...)
		out := &flakyOutbox{Store: s, failDone: 1}
		r := &recordingNotifier{}
		d := NewDispatcher(out, map[string]Notifier{"r": r}, DispatcherOptions{MinBackoff: time.Millisecond})
		if _, _, err := d.Drain(context.Background()); err == nil {
			t.Fatal("Drain hid the outbox failure")
		}
		if delivered, left, err := d.Drain(context.Background()); err != nil || delivered != 1 || left != 0 {
			t.Fatalf("second drain: delivered %d pending %d err %v", delivered, left, err)
		}
		if got := r.titles(); len(got) != 2 || got[0] != "1" || got[1] != "2" {
			t.Fatalf("sent %q, want each once", got)
		}
	})
}

// An abandoned send that returns success while the outbox is failing is
// marked done once the outbox recovers, and not sent again.
func TestLateDeliveryWithFailedDone(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "r", feedNews("x", "1")...)
	out := &flakyOutbox{Store: s}
	release := make(chan struct{})
	r := hangingNotifier(release, nil)
	d := NewDispatcher(out, map[string]Notifier{"r": r}, DispatcherOptions{
		SendTimeout: 20 * time.Millisecond, MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond,
	})
	if delivered, left, err := d.Drain(context.Background()); err != nil || delivered != 0 || left != 1 {
		t.Fatalf("first drain: delivered %d pending %d err %v", delivered, left, err)
	}
	out.mu.Lock()
	out.failDone = 1
	out.mu.Unlock()
	close(release)
	eventually(t, "the queue to empty", func() bool {
		_, left, err := d.Drain(context.Background())
		return err == nil && left == 0
	})
	if r.callCount() != 1 {
		t.Fatalf("%d sends, want 1", r.callCount())
	}
}
