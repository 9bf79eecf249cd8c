package notify

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/crierd/crier"
)

// A send that succeeds at the very moment shutdown cancels its context
// (the last flush) is a delivery: it is marked done, and a restart on the
// same state file does not send it again.
func TestSuccessAtShutdownIsNotRepeated(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "state.db")
	s := openTestStore(t, path, nil)
	enqueueAll(t, s, "r", feedNews("x", "last words")...)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := &recordingNotifier{fn: func(context.Context, int, crier.Notification) error {
		cancel() // shutdown arrives while the service accepts the message
		return nil
	}}
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{})
	res, err := d.Drain(ctx)
	if err != nil || res.Delivered != 1 {
		t.Fatalf("drain cancelled by the send: %+v, %v; want the delivery counted", res, err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = openTestStore(t, path, nil)
	d = NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{})
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := r.titles(); len(got) != 1 {
		t.Fatalf("after restart the service has %q; want the message once", got)
	}
}
