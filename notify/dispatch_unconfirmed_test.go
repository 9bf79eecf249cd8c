package notify

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

// stallingFront passes requests on to a real service fake; while stall is
// set it answers nothing once the service has taken the message, until
// the client gives up: a service that accepts and then times out.
type stallingFront struct {
	*httptest.Server
	stall atomic.Bool
}

func newStallingFront(t *testing.T, upstream string, client *http.Client) *stallingFront {
	t.Helper()
	f := &stallingFront{}
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		req, err := http.NewRequest(r.Method, upstream+r.URL.Path, bytes.NewReader(body))
		if err != nil {
			t.Error(err)
			return
		}
		req.Header = r.Header.Clone()
		resp, err := client.Do(req)
		if err != nil {
			t.Error(err)
			return
		}
		defer resp.Body.Close()
		reply, _ := io.ReadAll(resp.Body)
		if f.stall.Load() {
			<-r.Context().Done()
			return
		}
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		_, _ = w.Write(reply)
	}))
	t.Cleanup(f.Close)
	return f
}

// Pushover that took a message but answered after crier's timeout gets it
// again no sooner than the "maybe delivered" wait, and only once more:
// a second such timeout dead-letters it as one that may have arrived.
func TestPushoverTimeoutAfterAcceptanceIsCapped(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	front := newStallingFront(t, fake.URL, fake.Client())
	front.stall.Store(true)
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	p, err := NewPushover(pushoverConfig(front.URL+"/1", "timeout", "100ms"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	enqueueAll(t, s, "phone", feedNews("x", "slow")...)
	d := NewDispatcher(s, map[string]Notifier{"phone": p}, DispatcherOptions{Now: clk.Now})

	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Pending: 1}) {
		t.Fatalf("first drain: %+v, %v", res, err)
	}
	e := pendingEntries(t, s, "phone")[0]
	if e.Unconfirmed != 1 || e.NextTry.Before(dispatchT0.Add(unconfirmedWait)) {
		t.Fatalf("after a timeout past acceptance: unconfirmed %d, next try in %v; want 1 and at least %v",
			e.Unconfirmed, e.NextTry.Sub(dispatchT0), unconfirmedWait)
	}
	clk.Set(dispatchT0.Add(unconfirmedWait - time.Second))
	if _, err := d.Drain(context.Background()); err != nil || len(fake.Messages()) != 1 {
		t.Fatalf("retried before the wait: %d messages, %v", len(fake.Messages()), err)
	}

	clk.Set(e.NextTry)
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{}) {
		t.Fatalf("second drain: %+v, %v; want the entry dead-lettered", res, err)
	}
	dead, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || !strings.Contains(dead[0].Reason, "may have arrived") {
		t.Fatalf("dead letters %+v; want one saying it may have arrived", dead)
	}
	clk.Set(e.NextTry.Add(time.Hour))
	if _, err := d.Drain(context.Background()); err != nil || len(fake.Messages()) != 2 {
		t.Fatalf("the phone got %d copies (%v); want at most 2", len(fake.Messages()), err)
	}
}

// Any other HTTP service that times out after taking a message is retried
// no sooner than the wait, and not given up on: once it answers in time,
// the message is delivered and the queue moves on.
func TestServiceTimeoutAfterAcceptanceWaits(t *testing.T) {
	t.Parallel()
	var got atomic.Int32
	svc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got.Add(1)
		w.WriteHeader(http.StatusNoContent)
	}))
	defer svc.Close()
	front := newStallingFront(t, svc.URL, svc.Client())
	front.stall.Store(true)
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	hook, err := NewWebhook(svcConfig("hook", "webhook", "url", front.URL+"/in", "timeout", "100ms"), nil)
	if err != nil {
		t.Fatal(err)
	}
	enqueueAll(t, s, "hook", feedNews("x", "slow", "next")...)
	d := NewDispatcher(s, map[string]Notifier{"hook": hook}, DispatcherOptions{Now: clk.Now})

	for i := 1; i <= 3; i++ {
		before := clk.Now()
		if _, err := d.Drain(context.Background()); err != nil {
			t.Fatal(err)
		}
		e := pendingEntries(t, s, "hook")[0]
		if e.Unconfirmed != i || e.NextTry.Sub(before) < unconfirmedWait {
			t.Fatalf("timeout %d: unconfirmed %d, next try after %v; want %d and at least %v",
				i, e.Unconfirmed, e.NextTry.Sub(before), i, unconfirmedWait)
		}
		clk.Set(e.NextTry)
	}
	front.stall.Store(false)
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{Delivered: 2}) {
		t.Fatalf("once the service answers: %+v, %v", res, err)
	}
	if n := got.Load(); n != 5 {
		t.Fatalf("service took %d requests, want 3 timed out + 2", n)
	}
}

// A send the dispatcher abandons at its own timeout may have arrived too.
func TestAbandonedSendWaitsBeforeRetry(t *testing.T) {
	t.Parallel()
	clk := newFakeClock(dispatchT0)
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
	enqueueAll(t, s, "r", feedNews("x", "1")...)
	release := make(chan struct{})
	defer close(release)
	r := hangingNotifier(release, nil)
	d := NewDispatcher(s, map[string]Notifier{"r": r}, DispatcherOptions{Now: clk.Now, SendTimeout: 20 * time.Millisecond})
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	e := pendingEntries(t, s, "r")[0]
	if e.Unconfirmed != 1 || e.NextTry.Before(dispatchT0.Add(unconfirmedWait)) {
		t.Fatalf("abandoned send: unconfirmed %d, next try in %v", e.Unconfirmed, e.NextTry.Sub(dispatchT0))
	}
}

// A failure before the request was sent whole is an ordinary failure: the
// short backoff, no "maybe delivered" count. Nothing listening refuses at
// once; a listener that never completes the TLS handshake times out
// before a byte of the request is written.
func TestFailureBeforeTheRequestIsOrdinary(t *testing.T) {
	t.Parallel()
	refused := httptest.NewServer(http.NotFoundHandler())
	refusedURL := refused.URL
	refused.Close()
	silent, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { silent.Close() })
	go func() {
		var held []net.Conn // accepted, never answered
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := silent.Accept()
			if err != nil {
				return
			}
			held = append(held, c)
		}
	}()
	for _, tc := range []struct{ name, api string }{
		{"refused", refusedURL + "/1"},
		{"TLS handshake times out", "https://" + silent.Addr().String() + "/1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			clk := newFakeClock(dispatchT0)
			s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), clk.Now)
			p, err := NewPushover(pushoverConfig(tc.api, "timeout", "100ms"), nil, nil)
			if err != nil {
				t.Fatal(err)
			}
			enqueueAll(t, s, "phone", feedNews("x", "1")...)
			d := NewDispatcher(s, map[string]Notifier{"phone": p}, DispatcherOptions{Now: clk.Now})
			if _, err := d.Drain(context.Background()); err != nil {
				t.Fatal(err)
			}
			e := pendingEntries(t, s, "phone")[0]
			if e.Unconfirmed != 0 || e.Attempts != 1 || e.NextTry.Sub(dispatchT0) != pushoverMinBackoff {
				t.Fatalf("unconfirmed %d, attempts %d, next try in %v (%s); want an ordinary retry",
					e.Unconfirmed, e.Attempts, e.NextTry.Sub(dispatchT0), e.LastError)
			}
		})
	}
}
