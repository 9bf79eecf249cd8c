package feeds

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// TestPollPerHostLimit: feeds of one stalled host never have more than
// PerHost requests in flight and never take the global slots other hosts'
// feeds need.
func TestPollPerHostLimit(t *testing.T) {
	t.Parallel()
	const perHost, concurrency, feedsOnA = 2, 3, 6
	e := newPLEnv(t, FetchOptions{PerHost: perHost}, func(o *PollerOptions) { o.Concurrency = concurrency })

	release := make(chan struct{})
	var inflight, peak atomic.Int32
	stalled := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inflight.Add(1)
		defer inflight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		plServe(plRSS(1, 1, ""))(w, r)
	})
	other := newPLServer(t, plServe(plRSS(1, 1, "")))

	var wg sync.WaitGroup
	errs := make(chan error, feedsOnA)
	for i := range feedsOnA {
		wg.Go(func() {
			_, err := e.p.Poll(t.Context(), plFeed(fmt.Sprint("a", i), fmt.Sprintf("%s/a%d", stalled.URL, i)), false)
			errs <- err
		})
	}
	deadline := time.Now().Add(5 * time.Second)
	for inflight.Load() < perHost && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(100 * time.Millisecond) // room for any excess request to arrive

	// Feeds on another host proceed while the first host is stalled.
	for i := range 3 {
		ctx, cancel := context.WithTimeout(t.Context(), 2*time.Second)
		_, err := e.p.Poll(ctx, plFeed(fmt.Sprint("b", i), fmt.Sprintf("%s/b%d", other.URL, i)), false)
		cancel()
		if err != nil {
			t.Errorf("feed on another host while host A is stalled: %v", err)
		}
	}
	if got := stalled.Hits(""); got != perHost {
		t.Errorf("stalled host got %d requests, want %d (its per-host limit)", got, perHost)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("stalled host's feed: %v", err)
		}
	}
	if p := peak.Load(); p != perHost {
		t.Errorf("peak concurrent requests to one host %d, want %d", p, perHost)
	}
	if got := stalled.Hits(""); got != feedsOnA {
		t.Errorf("stalled host served %d requests in all, want %d", got, feedsOnA)
	}
}

// TestPollSlowFeedTimesOut: a server that drips its body forever costs its
// feed a timeout, not the other feeds their polls, even with one global slot.
func TestPollSlowFeedTimesOut(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) { o.Concurrency = 1 })
	started := make(chan struct{}, 1)
	slow := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(`<?xml version="1.0"?><rss version="2.0"><channel>`))
		w.(http.Flusher).Flush()
		started <- struct{}{}
		for {
			select {
			case <-r.Context().Done():
				return
			case <-time.After(20 * time.Millisecond):
				w.Write([]byte(" "))
				w.(http.Flusher).Flush()
			}
		}
	})
	fast := newPLServer(t, plServe(plRSS(1, 2, "")))
	slowFeed := plFeed("slow", slow.URL+"/feed")
	slowFeed.Timeout = 400 * time.Millisecond

	type outcome struct {
		err  error
		took time.Duration
	}
	done := make(chan outcome, 1)
	begin := time.Now()
	go func() {
		_, err := e.p.Poll(t.Context(), slowFeed, false)
		done <- outcome{err, time.Since(begin)}
	}()
	<-started
	fastBegin := time.Now()
	res, err := e.p.Poll(t.Context(), plFeed("fast", fast.URL+"/feed"), false)
	fastTook := time.Since(fastBegin)
	if err != nil || res.Items != 2 {
		t.Fatalf("fast feed: %+v %v", res, err)
	}
	if fastTook > slowFeed.Timeout+time.Second {
		t.Errorf("fast feed took %s behind a slow one with a %s timeout", fastTook, slowFeed.Timeout)
	}
	o := <-done
	if !errors.Is(o.err, context.DeadlineExceeded) {
		t.Errorf("slow feed: %v, want a deadline error", o.err)
	}
	if o.took < slowFeed.Timeout || o.took > slowFeed.Timeout+2*time.Second {
		t.Errorf("slow feed failed after %s, want about %s", o.took, slowFeed.Timeout)
	}
	if st := e.state(t, slowFeed); st.Failures != 1 || st.LastError == "" {
		t.Errorf("slow feed state: Failures %d LastError %q", st.Failures, st.LastError)
	}
	if st := e.state(t, plFeed("fast", fast.URL+"/feed")); st.Failures != 0 || st.LastError != "" || st.LastSuccess.IsZero() {
		t.Errorf("fast feed state touched by the slow one: %+v", st)
	}
}

func TestPollHealthAlerts(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		alerts []string
	}{
		{"one alert notifier", []string{"ops"}},
		{"two alert notifiers", []string{"ops", "pager"}},
		{"no alerts configured", nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) { o.Alerts = tc.alerts })
			srv := newPLServer(t, plStatus(500))
			f := plFeed("wobbly", srv.URL+"/feed")
			f.AlertAfter = time.Hour

			// kinds lists the alert titles queued, by notifier.
			kinds := func() map[string][]string {
				out := map[string][]string{}
				for _, en := range e.alerts(t) {
					out[en.Notifier] = append(out[en.Notifier], en.Notification.Title)
				}
				return out
			}
			for _, at := range []time.Duration{0, 30 * time.Minute, 59 * time.Minute} {
				e.clock.Add(plStart.Add(at).Sub(e.clock.Now()))
				e.p.Poll(t.Context(), f, true)
			}
			if got := kinds(); len(got) != 0 {
				t.Fatalf("alerts before alert_after: %q", got)
			}
			for _, at := range []time.Duration{61 * time.Minute, 2 * time.Hour, 5 * time.Hour} {
				e.clock.Add(plStart.Add(at).Sub(e.clock.Now()))
				e.p.Poll(t.Context(), f, true)
			}
			got := kinds()
			if len(got) != len(tc.alerts) {
				t.Fatalf("after failing for hours: alerts %q, want one per alert notifier %q", got, tc.alerts)
			}
			for _, n := range tc.alerts {
				if a := got[n]; len(a) != 1 || !strings.HasPrefix(a[0], "wobbly has failed since") || !strings.Contains(a[0], "HTTP 500") {
					t.Errorf("alerts for %s: %q, want one \"wobbly has failed since …: … HTTP 500\"", n, a)
				}
			}
			srv.Set(plServe(plRSS(1, 1, "")))
			for range 2 {
				e.clock.Add(plInterval)
				if _, err := e.p.Poll(t.Context(), f, true); err != nil {
					t.Fatal(err)
				}
			}
			got = kinds()
			if len(got) != len(tc.alerts) {
				t.Fatalf("after recovery: alerts %q, want only the alert notifiers %q", got, tc.alerts)
			}
			for _, n := range tc.alerts {
				if a := got[n]; len(a) != 2 || a[1] != "wobbly works again" {
					t.Errorf("alerts for %s after recovery: %q, want the failure alert then one \"wobbly works again\"", n, a)
				}
			}
			if len(tc.alerts) > 0 {
				if a := e.alerts(t)[0].Notification; a.Kind != crier.KindAlert || a.Feed != "wobbly" || a.FeedURL != f.URL {
					t.Errorf("alert notification %+v", a)
				}
			}
		})
	}
}

func TestPollStaleAlert(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) { o.Alerts = []string{"ops"} })
	last := 3
	var mu sync.Mutex
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		plServe(plRSS(1, last, ""))(w, r)
	})
	f := plFeed("sleepy", srv.URL+"/feed")
	f.StaleAfter = 2 * time.Hour

	count := func() int { return len(e.alerts(t)) }
	step := func(to time.Duration) {
		t.Helper()
		e.clock.Add(plStart.Add(to).Sub(e.clock.Now()))
		if _, err := e.p.Poll(t.Context(), f, false); err != nil {
			t.Fatal(err)
		}
	}
	step(0)
	step(time.Hour)
	if n := count(); n != 0 {
		t.Fatalf("%d alerts before stale_after", n)
	}
	step(2 * time.Hour)
	step(3 * time.Hour)
	if n := count(); n != 1 {
		t.Fatalf("%d alerts after stale_after, want exactly one", n)
	}
	if a := e.alerts(t)[0].Notification; !strings.HasPrefix(a.Title, "sleepy has published nothing since") {
		t.Errorf("stale alert %q", a.Title)
	}
	mu.Lock()
	last = 4
	mu.Unlock()
	step(4 * time.Hour) // publishing again: re-armed, no notice
	if n := count(); n != 1 {
		t.Fatalf("%d alerts after the feed published again, want still one", n)
	}
	step(6 * time.Hour)
	if n := count(); n != 2 {
		t.Fatalf("%d alerts after going stale a second time, want two", n)
	}
}

func TestPollNewTodayResetsOnNewDay(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	last := 5
	var mu sync.Mutex
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		plServe(plRSS(1, last, ""))(w, r)
	})
	f := plFeed("daily", srv.URL+"/feed")
	f.Backfill = 1
	publish := func(n int) {
		mu.Lock()
		last += n
		mu.Unlock()
	}
	at := func(day int, clock time.Duration) {
		e.clock.Add(time.Date(2025, 3, 10+day, 0, 0, 0, 0, time.Local).Add(clock).Sub(e.clock.Now()))
	}
	cases := []struct {
		day       int
		clock     time.Duration
		publish   int
		wantToday int
		wantTotal int64
		wantDay   string
	}{
		// Seeding counts only what it announced (backfill 1), not the backlog.
		{0, 10 * time.Hour, 0, 1, 1, "2025-03-10"},
		{0, 12 * time.Hour, 2, 3, 3, "2025-03-10"},
		{0, 23*time.Hour + 59*time.Minute, 1, 4, 4, "2025-03-10"},
		{1, 0, 1, 1, 5, "2025-03-11"},
		{1, 8 * time.Hour, 0, 1, 5, "2025-03-11"},
		{2, 8 * time.Hour, 3, 3, 8, "2025-03-12"},
	}
	for i, tc := range cases {
		publish(tc.publish)
		at(tc.day, tc.clock)
		if _, err := e.p.Poll(t.Context(), f, false); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
		st := e.state(t, f)
		if st.NewToday != tc.wantToday || st.NewTotal != tc.wantTotal || st.NewDay != tc.wantDay {
			t.Errorf("step %d: NewToday %d NewTotal %d NewDay %s; want %d %d %s", i, st.NewToday, st.NewTotal, st.NewDay, tc.wantToday, tc.wantTotal, tc.wantDay)
		}
	}
}
