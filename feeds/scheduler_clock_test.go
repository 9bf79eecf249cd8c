package feeds

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// These scheduler tests run on the fake clock: catch-up, jitter and the
// shutdown grace are decided by it, so nothing here sleeps. (cron still
// fires schedules on the real clock; the feeds here are hourly.)

// newClockSchedEnv is a poller and a scheduler on e.clock; polled hears the
// name of every feed polled.
func newClockSchedEnv(t *testing.T) (*plEnv, *Scheduler, <-chan string) {
	t.Helper()
	polled := make(chan string, 16)
	e := newPLEnv(t, FetchOptions{}, func(o *PollerOptions) {
		o.OnPoll = func(f crier.Feed, _ Result, _ time.Duration) { polled <- f.Name }
	})
	return e, NewScheduler(e.p, e.p.opt.Log, e.clock), polled
}

// within fails the test unless ch yields within a generous real-time bound;
// it guards against hanging, it does not time anything.
func within[T any](t *testing.T, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(10 * time.Second):
		t.Fatalf("%s: never happened", what)
		panic("unreachable")
	}
}

// At start a feed is polled at once when it has not been polled for its
// interval or longer (crier was stopped), after its stable jitter; a feed
// polled more recently waits for its schedule.
func TestSchedulerCatchUpAfterRestart(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		ago    time.Duration // since the last poll; 0: never polled
		polled bool
	}{
		{"never polled", 0, true},
		{"polled a second less than an hour ago", time.Hour - time.Second, false},
		{"polled ten minutes ago", 10 * time.Minute, false},
		{"polled exactly an hour ago", time.Hour, true},
		{"polled an hour and a second ago", time.Hour + time.Second, true},
		{"polled a day ago", 24 * time.Hour, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e, s, polled := newClockSchedEnv(t)
			srv := newPLServer(t, plServe(plRSS(1, 2, "")))
			f := plFeed("hourly", srv.URL+"/feed")
			f.Schedule = "@every 1h"
			if tc.ago > 0 {
				st := crier.FeedState{URL: f.URL, LastPoll: e.clock.Now().Add(-tc.ago)}
				if err := e.store.SaveFeedState(f.FeedID(), st); err != nil {
					t.Fatal(err)
				}
			}
			if err := s.Apply([]crier.Feed{f}); err != nil {
				t.Fatal(err)
			}
			s.Start()
			// Start decides synchronously; the log says what it decided.
			if got := strings.Contains(e.log.String(), "feed overdue"); got != tc.polled {
				t.Fatalf("caught up at start: %v, want %v\n%s", got, tc.polled, e.log)
			}
			if tc.polled {
				jitter := Jitter(f.FeedID(), time.Hour)
				if got := within(t, e.clock.asked, "the catch-up poll's jitter wait"); got != jitter {
					t.Errorf("catch-up waited %s, want the feed's jitter %s", got, jitter)
				}
				e.clock.Add(jitter)
				within(t, polled, "the catch-up poll")
			}
			s.Stop(time.Minute)
			if want := map[bool]int{true: 1, false: 0}[tc.polled]; srv.Hits("/feed") != want {
				t.Errorf("feed fetched %d times, want %d", srv.Hits("/feed"), want)
			}
		})
	}
}

// A poll still waiting out its jitter when crier stops is dropped at once:
// it neither delays the shutdown by the grace period nor fetches.
func TestSchedulerStopDuringJitter(t *testing.T) {
	t.Parallel()
	e, s, _ := newClockSchedEnv(t)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("waiting", srv.URL+"/feed")
	f.Schedule = "@every 1h"
	if Jitter(f.FeedID(), time.Hour) == 0 {
		t.Fatal("setup: pick a URL with a jitter")
	}
	if err := s.Apply([]crier.Feed{f}); err != nil {
		t.Fatal(err)
	}
	s.Start()
	within(t, e.clock.asked, "the jitter wait")
	stopped := make(chan struct{})
	go func() {
		s.Stop(time.Hour) // the fake clock never reaches the grace
		close(stopped)
	}()
	within(t, stopped, "Stop returning while a poll waits for its jitter")
	e.clock.Add(time.Hour)
	if n := srv.Hits("/feed"); n != 0 {
		t.Errorf("a poll dropped at shutdown fetched %d times", n)
	}
}

// PollNow (the API's "poll now" button) during or after shutdown is
// refused: it must not start a poll the shutdown no longer waits for.
func TestSchedulerPollNowAfterStop(t *testing.T) {
	t.Parallel()
	e, s, _ := newClockSchedEnv(t)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("late", srv.URL+"/feed")
	f.Schedule = "@every 1h"
	if err := e.store.SaveFeedState(f.FeedID(), crier.FeedState{URL: f.URL, LastPoll: e.clock.Now()}); err != nil {
		t.Fatal(err)
	}
	if err := s.Apply([]crier.Feed{f}); err != nil {
		t.Fatal(err)
	}
	s.Start()

	// Racing Stop: each PollNow either polls or is refused, and the race
	// detector and WaitGroup see no Add after Wait.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Go(func() {
			_, err := s.PollNow(context.Background(), f.Name)
			errs <- err
		})
	}
	s.Stop(time.Minute)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil && !errors.Is(err, ErrStopped) {
			t.Errorf("PollNow racing Stop: %v, want success or ErrStopped", err)
		}
	}

	before := srv.Hits("/feed")
	_, err := s.PollNow(context.Background(), f.Name)
	if !errors.Is(err, ErrStopped) || !strings.Contains(err.Error(), f.Name) {
		t.Errorf("PollNow after Stop: %v, want ErrStopped naming the feed", err)
	}
	if n := srv.Hits("/feed"); n != before {
		t.Errorf("PollNow after Stop fetched the feed (%d → %d)", before, n)
	}
}
