package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// The fleet tests run workers as a fleet runs them: each its own poller and
// FleetScheduler, all on one store (here one bbolt file and fakeClaims for
// the leases), on one fake clock. Nothing sleeps: the tests move the clock
// and watch the claims store.

// The daemon holds either scheduler behind one interface.
type daemonScheduler interface {
	Apply(feeds []crier.Feed) error
	Start()
	Stop(grace time.Duration)
	Next(feedID string) time.Time
	Feeds() []crier.Feed
	PollNow(ctx context.Context, name string) (Result, error)
	LastBeat() time.Time
}

var _, _ daemonScheduler = (*Scheduler)(nil), (*FleetScheduler)(nil)

type fleetEnv struct {
	*plEnv
	claims *fakeClaims
}

func newFleetEnv(t *testing.T) *fleetEnv {
	t.Helper()
	e := newPLEnv(t, FetchOptions{}, nil)
	return &fleetEnv{plEnv: e, claims: newFakeClaims(e.clock.Now)}
}

// worker is one crier process of the fleet, named owner.
func (e *fleetEnv) worker(owner string, feeds []crier.Feed) *FleetScheduler {
	log := slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})).With("worker", owner)
	p := NewPoller(NewFetcher(nil, FetchOptions{}), e.store, PollerOptions{
		Log: log, Now: e.clock.Now,
		Interval: func(f crier.Feed) time.Duration { return Interval(f.Schedule) },
	})
	s := NewFleetScheduler(p, e.claims, FleetOptions{Owner: owner, Lease: time.Minute, MaxInFlight: 2, Log: log, Clock: e.clock})
	if err := s.Apply(feeds); err != nil {
		panic(err)
	}
	return s
}

// until moves the clock by step whenever the claims store has been quiet
// for a moment, until done accepts an event; it returns that event. The
// quiet check only paces the test: what the workers do is decided by the
// fake clock alone.
func (e *fleetEnv) until(t *testing.T, step time.Duration, done func(claimEvent) bool) claimEvent {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case ev := <-e.claims.events:
			if done(ev) {
				return ev
			}
		case <-time.After(20 * time.Millisecond):
			e.clock.Add(step)
		case <-deadline:
			t.Fatalf("never happened; log:\n%s", e.log)
		}
	}
}

// inFlight counts concurrent requests per path, and the most there were.
type inFlight struct {
	mu       sync.Mutex
	now, max map[string]int
}

func (f *inFlight) wrap(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.now[r.URL.Path]++
		f.max[r.URL.Path] = max(f.max[r.URL.Path], f.now[r.URL.Path])
		f.mu.Unlock()
		defer func() { f.mu.Lock(); f.now[r.URL.Path]--; f.mu.Unlock() }()
		h(w, r)
	}
}

// Two workers sharing one store poll every feed once per due time, never
// the same feed at once, and between them poll all of them.
func TestFleetPollsEachFeedOncePerDueTime(t *testing.T) {
	t.Parallel()
	e := newFleetEnv(t)
	conc := &inFlight{now: map[string]int{}, max: map[string]int{}}
	srv := newPLServer(t, conc.wrap(plServe(plRSS(1, 3, ""))))
	var feeds []crier.Feed
	for i := range 5 {
		feeds = append(feeds, plFeed(fmt.Sprint("f", i), fmt.Sprintf("%s/f%d", srv.URL, i)))
	}
	a, b := e.worker("a", feeds), e.worker("b", feeds)
	a.Start()
	b.Start()
	const rounds = 4
	for round := 1; round <= rounds; round++ {
		if round > 1 {
			e.clock.Add(plInterval + time.Minute) // past every feed's jitter
		}
		polled := 0
		e.until(t, time.Second, func(ev claimEvent) bool {
			if ev.op == "reschedule" {
				polled++
			}
			return polled == len(feeds)
		})
		for i := range feeds {
			if n := srv.Hits(fmt.Sprintf("/f%d", i)); n != round {
				t.Fatalf("round %d: f%d fetched %d times, want %d\n%s", round, i, n, round, e.log)
			}
		}
	}
	a.Stop(time.Minute)
	b.Stop(time.Minute)
	for path, m := range conc.max {
		if m != 1 {
			t.Errorf("%s fetched by %d workers at once", path, m)
		}
	}
	if !strings.Contains(e.log.String(), "worker=a") || !strings.Contains(e.log.String(), "worker=b") {
		t.Errorf("one worker did all the polls:\n%s", e.log)
	}
}

// A worker that dies (stops answering, its leases left behind) hands its
// feeds to the others within one lease: not before it runs out, and at the
// first claim after.
func TestFleetDeadWorkersFeedsMove(t *testing.T) {
	t.Parallel()
	e := newFleetEnv(t)
	release := make(chan struct{})
	var once sync.Once
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		first := false
		once.Do(func() { first = true })
		if first { // the dying worker's poll hangs
			select {
			case <-release:
			case <-r.Context().Done():
			}
			return
		}
		plServe(plRSS(1, 3, ""))(w, r)
	})
	unhang := sync.OnceFunc(func() { close(release) })
	defer unhang()
	f := plFeed("moves", srv.URL+"/feed")
	f.Timeout = 30 * time.Second // the lease: max(1 min, 2 × 30 s)
	a := e.worker("a", []crier.Feed{f})
	a.Start()
	claimed := e.until(t, time.Second, func(ev claimEvent) bool { return ev.op == "claim" && len(ev.ids) == 1 })
	if !waitFor(10*time.Second, func() bool { return srv.Hits("/feed") == 1 }) {
		t.Fatal("a's poll never reached the feed")
	}
	e.claims.kill("a")

	b := e.worker("b", []crier.Feed{f})
	b.Start()
	took := e.until(t, 5*time.Second, func(ev claimEvent) bool {
		return ev.op == "claim" && ev.owner == "b" && len(ev.ids) == 1
	})
	if after := took.at.Sub(claimed.at); after < time.Minute || after > time.Minute+10*time.Second {
		t.Errorf("b claimed the dead worker's feed %s after a claimed it, want within a few seconds after its 1 min lease", after)
	}
	e.until(t, time.Second, func(ev claimEvent) bool { return ev.op == "reschedule" && ev.owner == "b" })
	if n := srv.Hits("/feed"); n != 2 {
		t.Errorf("feed fetched %d times, want a's hung poll and b's", n)
	}
	b.Stop(time.Minute)
	e.clock.Add(time.Second)
	unhang()
	a.Stop(time.Minute)
	if !strings.Contains(e.log.String(), `msg="poll outlived its lease; another worker may have polled the feed too" worker=a feed=moves`) {
		t.Errorf("a's poll outliving its lease not logged:\n%s", e.log)
	}
	if b.LastBeat().Before(took.at) {
		t.Errorf("b's heartbeat %s is older than its last claim at %s", b.LastBeat(), took.at)
	}
}

// A claimed feed that this worker's config lacks (another worker runs a
// newer config) goes back to the store unpolled, due again shortly.
func TestFleetUnknownClaimedFeedIsHandedBack(t *testing.T) {
	t.Parallel()
	e := newFleetEnv(t)
	srv := newPLServer(t, plServe(plRSS(1, 3, "")))
	known, added := plFeed("known", srv.URL+"/known"), plFeed("added", srv.URL+"/added")
	a := e.worker("a", []crier.Feed{known})
	e.worker("b", []crier.Feed{known, added}) // applied, not started
	a.Start()
	back := e.until(t, time.Second, func(ev claimEvent) bool {
		return ev.op == "reschedule" && ev.ids[0] == added.FeedID()
	})
	e.until(t, time.Second, func(ev claimEvent) bool {
		return ev.op == "reschedule" && ev.ids[0] == known.FeedID()
	})
	a.Stop(time.Minute)
	if want := back.at.Add(unknownFeedDelay); !back.next.Equal(want) {
		t.Errorf("unknown feed due again at %s, want %s", back.next, want)
	}
	if n := srv.Hits("/added"); n != 0 {
		t.Errorf("a worker polled a feed its config does not have (%d fetches)", n)
	}
	if n := srv.Hits("/known"); n != 1 {
		t.Errorf("known feed fetched %d times, want 1", n)
	}
	if !strings.Contains(e.log.String(), "does not have") {
		t.Errorf("hand-back not logged:\n%s", e.log)
	}
}

// Stop waits for polls in flight up to its grace; a poll that outlasts
// the grace is cancelled, and its feed is due at once for the others.
func TestFleetStopWaitsForPolls(t *testing.T) {
	t.Parallel()
	for _, finish := range []bool{true, false} {
		t.Run(map[bool]string{true: "poll finishes", false: "grace runs out"}[finish], func(t *testing.T) {
			t.Parallel()
			e := newFleetEnv(t)
			release := make(chan struct{})
			srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
				select {
				case <-release:
					plServe(plRSS(1, 3, ""))(w, r)
				case <-r.Context().Done():
				}
			})
			f := plFeed("slow", srv.URL+"/feed")
			a := e.worker("a", []crier.Feed{f})
			a.Start()
			if !waitFor(10*time.Second, func() bool { return srv.Hits("/feed") == 1 }) {
				t.Fatal("the poll never reached the feed")
			}
			stopped := make(chan struct{})
			go func() {
				a.Stop(time.Hour)
				close(stopped)
			}()
			for within(t, e.clock.asked, "Stop's grace wait") != time.Hour {
			}
			select {
			case <-stopped:
				t.Fatal("Stop returned with a poll in flight")
			default:
			}
			if finish {
				close(release)
			} else {
				e.clock.Add(time.Hour)
			}
			within(t, stopped, "Stop returning")
			polled := !e.state(t, f).LastPoll.IsZero()
			if polled != finish {
				t.Errorf("poll recorded: %v, want %v", polled, finish)
			}
			if !finish {
				close(release)
				if due := e.claims.due(f.FeedID()); due.After(e.clock.Now()) {
					t.Errorf("cancelled poll's feed due at %s, want now (%s)", due, e.clock.Now())
				}
			}
		})
	}
}

// Apply puts each feed in the store due as Scheduler would catch it up: at
// once when not polled for its interval, else an interval after its last
// poll. A refused Apply changes nothing, here or in the store.
func TestFleetApplyDue(t *testing.T) {
	t.Parallel()
	e := newFleetEnv(t)
	now := e.clock.Now()
	cases := []struct {
		name string
		ago  time.Duration // since the last poll; 0: never polled
		due  time.Time
	}{
		{"never polled", 0, now},
		{"polled 5 min ago", 5 * time.Minute, now.Add(5 * time.Minute)},
		{"polled 10 min ago", 10 * time.Minute, now},
		{"polled a day ago", 24 * time.Hour, now},
	}
	var feeds []crier.Feed
	for i, tc := range cases {
		f := plFeed(tc.name, fmt.Sprintf("https://feeds.example/%d", i))
		if tc.ago > 0 {
			if err := e.store.SaveFeedState(f.FeedID(), crier.FeedState{URL: f.URL, LastPoll: now.Add(-tc.ago)}); err != nil {
				t.Fatal(err)
			}
		}
		feeds = append(feeds, f)
	}
	s := e.worker("a", feeds)
	for i, tc := range cases {
		if got := e.claims.due(feeds[i].FeedID()); !got.Equal(tc.due) {
			t.Errorf("%s: due %s, want %s", tc.name, got, tc.due)
		}
		if got := s.Next(feeds[i].FeedID()); !got.Equal(tc.due) {
			t.Errorf("%s: Next %s, want %s", tc.name, got, tc.due)
		}
	}

	bad := plFeed("bad", "https://feeds.example/bad")
	bad.Schedule = "every now and then"
	if err := s.Apply([]crier.Feed{feeds[0], bad}); err == nil || !strings.Contains(err.Error(), "bad") {
		t.Fatalf("Apply with a bad schedule: %v, want an error naming the feed", err)
	}
	if n := len(s.Feeds()); n != len(feeds) {
		t.Errorf("after a refused Apply %d feeds scheduled, want the %d before", n, len(feeds))
	}
	if e.claims.due(feeds[1].FeedID()).IsZero() {
		t.Error("a refused Apply removed a feed from the store")
	}
}
