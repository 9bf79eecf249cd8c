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
	"github.com/crierd/crier/store/bolt"
)

// flakyOutbox is the real store whose Done fails its first failDone calls,
// like a full disk that recovers, and whose Pending fails while
// failPending is set.
type flakyOutbox struct {
	*bolt.Store
	mu          sync.Mutex
	failDone    int
	failPending bool
}

func (f *flakyOutbox) Pending(notifier string) ([]crier.Entry, error) {
	f.mu.Lock()
	fail := f.failPending
	f.mu.Unlock()
	if fail {
		return nil, errors.New("read state.db: input/output error")
	}
	return f.Store.Pending(notifier)
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
		if _, err := d.Drain(context.Background()); err == nil {
			t.Fatal("Drain hid the outbox failure")
		}
		if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 1}) {
			t.Fatalf("second drain: %+v, %v", res, err)
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
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 1}) {
		t.Fatalf("first drain: %+v, %v", res, err)
	}
	out.mu.Lock()
	out.failDone = 1
	out.mu.Unlock()
	close(release)
	eventually(t, "the queue to empty", func() bool {
		res, err := d.Drain(context.Background())
		return err == nil && res.Pending == 0
	})
	if r.callCount() != 1 {
		t.Fatalf("%d sends, want 1", r.callCount())
	}
}

// Drain tells entries that wait by design (quiet hours, the next digest)
// apart from those still due or failing: `run --once` exits 1 only for
// the latter, so a notifier with a digest does not fail every run.
func TestDrainCountsHeldApart(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(time.Date(2026, 5, 4, 23, 0, 0, 0, time.UTC)) // a Monday night
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	phone, mail := &recordingNotifier{}, &recordingNotifier{}
	down := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
		return HTTPStatusError("svc", 503, "down", 0)
	}}
	d := NewDispatcher(s, map[string]Notifier{"phone": phone, "mail": mail, "down": down}, DispatcherOptions{
		Now:        clk.Now,
		QuietHours: map[string]*crier.QuietHours{"phone": {From: wallHM(22, 0), To: wallHM(7, 0), Location: time.UTC}},
		Digest:     map[string]string{"mail": "CRON_TZ=UTC 0 8 * * *"},
	})
	urgentItem := feedNews("alerts", "server down")[0]
	urgentItem.Priority = intPtrOf(1)
	enqueueAll(t, s, "phone", append(feedNews("blog", "b1", "b2"), urgentItem)...)
	enqueueAll(t, s, "mail", append(feedNews("blog", "b1", "b2", "b3"), urgentItem)...)
	enqueueAll(t, s, "down", feedNews("blog", "b1")...)

	res, err := d.Drain(context.Background())
	if want := (DrainResult{Delivered: 2, Pending: 1, Held: 5}); err != nil || res != want {
		t.Fatalf("Drain = %+v, %v; want %+v", res, err, want)
	}

	// At the end of the window the phone's items are due and go out.
	clk.Set(time.Date(2026, 5, 5, 7, 0, 1, 0, time.UTC))
	res, err = d.Drain(context.Background())
	if want := (DrainResult{Delivered: 2, Pending: 1, Held: 3}); err != nil || res != want {
		t.Fatalf("after quiet hours: Drain = %+v, %v; want %+v", res, err, want)
	}
}

// An outbox that cannot be read is an error, never an empty outbox.
func TestDrainReportsOutboxErrors(t *testing.T) {
	t.Parallel()
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "r", feedNews("x", "1")...)
	out := &flakyOutbox{Store: s, failPending: true}
	d := NewDispatcher(out, map[string]Notifier{"r": &recordingNotifier{}}, DispatcherOptions{})
	res, err := d.Drain(context.Background())
	if err == nil || !strings.Contains(err.Error(), "notifier r") || !strings.Contains(err.Error(), "input/output error") {
		t.Fatalf("Drain = %+v, %v; want the store's error naming the notifier", res, err)
	}
	if res.Delivered != 1 {
		t.Fatalf("delivered %d, want 1", res.Delivered)
	}
}
