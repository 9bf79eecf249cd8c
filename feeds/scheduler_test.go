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

// The scheduler tests run on the real clock with @every 1s schedules, or
// hourly ones on URLs whose jitter is tiny, so each takes a few seconds.

func TestJitter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		every, limit time.Duration
	}{
		{0, 0},
		{-time.Minute, 0},
		{time.Second, 100 * time.Millisecond},
		{10 * time.Minute, time.Minute},
		{time.Hour, time.Minute},
		{24 * time.Hour, time.Minute},
	}
	for _, tc := range cases {
		t.Run(tc.every.String(), func(t *testing.T) {
			seen := map[time.Duration]bool{}
			for i := range 200 {
				id := fmt.Sprintf("https://host%d.example/feed.xml", i)
				j := Jitter(id, tc.every)
				if j < 0 || (tc.limit == 0 && j != 0) || (tc.limit > 0 && j >= tc.limit) {
					t.Fatalf("Jitter(%q, %s) = %s, want in [0, %s)", id, tc.every, j, tc.limit)
				}
				if again := Jitter(id, tc.every); again != j {
					t.Fatalf("Jitter(%q, %s) is %s then %s: not stable", id, tc.every, j, again)
				}
				seen[j] = true
			}
			// Feeds sharing a schedule are spread out, not bunched.
			if tc.limit > 0 && len(seen) < 150 {
				t.Errorf("200 feeds got only %d distinct delays", len(seen))
			}
		})
	}
}

// quickURL is base+path+"?n" for the first n whose jitter at every is
// under 50ms, so that a catch-up poll of an hourly feed starts at once.
func quickURL(t *testing.T, base string, every time.Duration) string {
	t.Helper()
	for n := range 1_000_000 {
		u := fmt.Sprintf("%s?n=%d", base, n)
		if Jitter(u, every) < 50*time.Millisecond {
			return u
		}
	}
	t.Fatal("no URL with a small jitter")
	return ""
}

// waitFor polls cond until it holds or d passes.
func waitFor(d time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			return false
		}
		time.Sleep(10 * time.Millisecond)
	}
	return true
}

// newSchedEnv is a poller on the real clock and a scheduler over it.
func newSchedEnv(t *testing.T, edit func(*PollerOptions)) (*plEnv, *Scheduler) {
	t.Helper()
	e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) {
		o.Now = time.Now
		if edit != nil {
			edit(o)
		}
	})
	s := NewScheduler(e.p, e.p.opt.Log, nil)
	return e, s
}

func TestSchedulerStartPollsOverdue(t *testing.T) {
	t.Parallel()
	e, s := newSchedEnv(t, nil)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	feed := func(name, path string) crier.Feed {
		f := plFeed(name, quickURL(t, srv.URL+path, time.Hour))
		f.Schedule = "@every 1h"
		return f
	}
	never, recent, stale := feed("never", "/never"), feed("recent", "/recent"), feed("stale", "/stale")
	for f, last := range map[*crier.Feed]time.Time{&recent: time.Now().Add(-10 * time.Minute), &stale: time.Now().Add(-2 * time.Hour)} {
		if err := e.store.SaveFeedState(f.FeedID(), crier.FeedState{URL: f.URL, LastPoll: last}); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Apply([]crier.Feed{never, recent, stale}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(time.Second)
	if !waitFor(3*time.Second, func() bool { return srv.Hits("/never") == 1 && srv.Hits("/stale") == 1 }) {
		t.Fatalf("overdue feeds not polled at start: never %d, stale %d", srv.Hits("/never"), srv.Hits("/stale"))
	}
	time.Sleep(200 * time.Millisecond)
	if n := srv.Hits("/recent"); n != 0 {
		t.Errorf("a feed polled 10 minutes ago on an hourly schedule was polled %d times at start", n)
	}
}

func TestSchedulerApply(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	polled := map[string]int{} // by feed name, as the poll saw it
	e, s := newSchedEnv(t, func(o *PollerOptions) {
		o.OnPoll = func(f crier.Feed, _ Result, _ time.Duration) {
			mu.Lock()
			polled[f.Name]++
			mu.Unlock()
		}
	})
	_ = e
	names := func(name string) int {
		mu.Lock()
		defer mu.Unlock()
		return polled[name]
	}
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	a := plFeed("a", srv.URL+"/a")
	b := plFeed("b", srv.URL+"/b")
	a.Schedule, b.Schedule = "@every 1s", "@every 1s"

	if err := s.Apply([]crier.Feed{a, b}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(time.Second)
	if !waitFor(4*time.Second, func() bool { return srv.Hits("/a") >= 2 && srv.Hits("/b") >= 2 }) {
		t.Fatalf("every-second feeds polled a %d, b %d times", srv.Hits("/a"), srv.Hits("/b"))
	}

	// b removed, a slowed down to hourly: neither fires any more.
	slow := a
	slow.Schedule = "@every 1h"
	if err := s.Apply([]crier.Feed{slow}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // a poll that had already fired ends
	ha, hb := srv.Hits("/a"), srv.Hits("/b")
	time.Sleep(1500 * time.Millisecond)
	if srv.Hits("/a") != ha || srv.Hits("/b") != hb {
		t.Errorf("after Apply: a polled %d→%d (now hourly), b %d→%d (removed)", ha, srv.Hits("/a"), hb, srv.Hits("/b"))
	}
	if fs := s.Feeds(); len(fs) != 1 || fs[0].Schedule != "@every 1h" {
		t.Errorf("Feeds() = %+v, want only a, hourly", fs)
	}
	if next := s.Next(b.FeedID()); !next.IsZero() {
		t.Errorf("removed feed still due at %s", next)
	}
	if next := time.Until(s.Next(a.FeedID())); next < 59*time.Minute || next > time.Hour+time.Second {
		t.Errorf("hourly feed next due in %s", next)
	}

	// Back to every second under a new name: overdue, so polled at once,
	// then on schedule.
	a2 := a
	a2.Name = "a2"
	if err := s.Apply([]crier.Feed{a2}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(3*time.Second, func() bool { return names("a2") >= 2 }) {
		t.Fatalf("a back on @every 1s polled %d times as a2", names("a2"))
	}
	// A change other than the schedule applies to the next poll.
	a3 := a
	a3.Name = "a3"
	if err := s.Apply([]crier.Feed{a3}); err != nil {
		t.Fatal(err)
	}
	if !waitFor(3*time.Second, func() bool { return names("a3") >= 1 }) {
		t.Fatal("renamed feed's next poll did not use the new settings")
	}

	// A bad schedule is refused and leaves the running feeds alone.
	bad := a3
	bad.Schedule = "every now and then"
	if err := s.Apply([]crier.Feed{bad, b}); err == nil || !strings.Contains(err.Error(), "a3") {
		t.Errorf("Apply with a bad schedule: %v, want an error naming the feed", err)
	}
	if fs := s.Feeds(); len(fs) != 1 || fs[0].Name != "a3" || fs[0].Schedule != "@every 1s" {
		t.Errorf("after a refused Apply: Feeds() = %+v, want a3 unchanged", fs)
	}
}

func TestSchedulerStop(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		serveIn   time.Duration // 0: never answers
		grace     time.Duration
		pollNow   bool // the poll in flight is a PollNow, not a scheduled one
		wantOK    bool
		minT, max time.Duration
	}{
		{"poll finishes within grace", 300 * time.Millisecond, 5 * time.Second, false, true, 250 * time.Millisecond, 3 * time.Second},
		{"stuck poll cancelled after grace", 0, 300 * time.Millisecond, false, false, 300 * time.Millisecond, 3 * time.Second},
		{"stuck PollNow cancelled after grace", 0, 300 * time.Millisecond, true, false, 300 * time.Millisecond, 3 * time.Second},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, s := newSchedEnv(t, nil)
			arrived := make(chan struct{}, 1)
			cancelled := make(chan struct{})
			srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
				arrived <- struct{}{}
				if tc.serveIn == 0 {
					<-r.Context().Done()
					close(cancelled)
					return
				}
				time.Sleep(tc.serveIn)
				plServe(plRSS(1, 2, ""))(w, r)
			})
			f := plFeed("inflight", quickURL(t, srv.URL+"/feed", time.Hour))
			f.Schedule = "@every 1h"
			f.Timeout = 20 * time.Second
			if tc.pollNow {
				// Known to the scheduler but not due: only PollNow polls it.
				if err := e.store.SaveFeedState(f.FeedID(), crier.FeedState{URL: f.URL, LastPoll: time.Now()}); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Apply([]crier.Feed{f}); err != nil {
				t.Fatal(err)
			}
			s.Start()
			pollNowErr := make(chan error, 1)
			if tc.pollNow {
				go func() {
					_, err := s.PollNow(context.Background(), f.Name)
					pollNowErr <- err
				}()
			}
			select {
			case <-arrived:
			case <-time.After(3 * time.Second):
				t.Fatal("the poll never reached the server")
			}
			begin := time.Now()
			s.Stop(tc.grace)
			took := time.Since(begin)
			if took < tc.minT || took > tc.max {
				t.Errorf("Stop(%s) took %s, want %s..%s", tc.grace, took, tc.minT, tc.max)
			}
			st := e.state(t, f)
			if tc.wantOK && st.LastSuccess.IsZero() {
				t.Errorf("the poll in flight did not finish: %+v", st)
			}
			if !tc.wantOK {
				select {
				case <-cancelled:
				case <-time.After(2 * time.Second):
					t.Error("the stuck request was not cancelled")
				}
				if st.Failures != 0 || st.LastError != "" {
					t.Errorf("a poll cancelled by shutdown counted as the feed's failure: %+v", st)
				}
				if !strings.Contains(e.log.String(), "cancelling them") {
					t.Errorf("no warning about cancelled polls:\n%s", e.log)
				}
			}
			if tc.pollNow {
				if err := <-pollNowErr; !errors.Is(err, context.Canceled) {
					t.Errorf("PollNow cut short by Stop returned %v, want context.Canceled", err)
				}
			}
		})
	}
}

func TestSchedulerPollNow(t *testing.T) {
	t.Parallel()
	e, s := newSchedEnv(t, nil)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("held", srv.URL+"/feed")
	held := crier.FeedState{URL: f.URL, Failures: 3, LastError: "HTTP 503", FailingSince: time.Now().Add(-time.Hour), BackoffUntil: time.Now().Add(time.Hour)}
	if err := e.store.SaveFeedState(f.FeedID(), held); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]crier.Feed{f}); err != nil {
		t.Fatal(err)
	}
	// A scheduled-style poll is held back …
	if res, err := e.p.Poll(t.Context(), f, false); err != nil || !strings.HasPrefix(res.Skipped, "backing off until ") {
		t.Fatalf("poll during backoff: %+v %v", res, err)
	}
	// … PollNow is not.
	res, err := s.PollNow(t.Context(), "held")
	if err != nil || res.Skipped != "" || res.Items != 2 || srv.Hits("") != 1 {
		t.Fatalf("PollNow: %+v %v, %d requests", res, err, srv.Hits(""))
	}
	if st := e.state(t, f); st.Failures != 0 || !st.BackoffUntil.IsZero() {
		t.Errorf("after PollNow succeeded: Failures %d BackoffUntil %s", st.Failures, st.BackoffUntil)
	}
	if _, err := s.PollNow(t.Context(), "nope"); err == nil || !strings.Contains(err.Error(), `"nope"`) {
		t.Errorf("PollNow of an unknown feed: %v", err)
	}
}

// TestSchedulerSurvivesPanic: a poll that panics (here the metrics hook,
// the one place outside our parsing a panic can come from) is logged and
// the feed keeps its schedule.
func TestSchedulerSurvivesPanic(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	e, s := newSchedEnv(t, func(o *PollerOptions) {
		o.OnPoll = func(crier.Feed, Result, time.Duration) {
			if calls.Add(1) <= 2 {
				panic("metrics exploded")
			}
		}
	})
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("boom", srv.URL+"/feed")
	f.Schedule = "@every 1s"
	if err := s.Apply([]crier.Feed{f}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	defer s.Stop(time.Second)
	if !waitFor(5*time.Second, func() bool { return calls.Load() >= 4 }) {
		t.Fatalf("after panicking polls the feed was polled %d times:\n%s", calls.Load(), e.log)
	}
	if !strings.Contains(e.log.String(), "metrics exploded") {
		t.Errorf("the panic was not logged:\n%s", e.log)
	}
	// The poller's slots were given back: an unrelated poll goes through.
	if _, err := e.p.Poll(t.Context(), plFeed("after", srv.URL+"/after"), false); err != nil {
		t.Errorf("poll after panics: %v", err)
	}
}
