package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

func TestPollRetryAfter(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		h    http.HandlerFunc
		// A poll skipAt after the answer makes no request, one at pollAt
		// does; exact is the BackoffUntil the answer asks for, if any.
		skipAt, pollAt, exact time.Duration
	}{
		{"503 Retry-After 120", plStatus(503, "Retry-After", "120"), 119 * time.Second, 120 * time.Second, 120 * time.Second},
		{"429 Retry-After 120", plStatus(429, "Retry-After", "120"), 119 * time.Second, 120 * time.Second, 120 * time.Second},
		{"429 Retry-After beyond the interval", plStatus(429, "Retry-After", "3600"), time.Hour - time.Second, time.Hour, time.Hour},
		// Without Retry-After the feed backs off: its next scheduled poll
		// is skipped, the one after is made.
		{"429 without Retry-After", plStatus(429), plInterval, 2 * plInterval, 0},
		{"503 without Retry-After", plStatus(503), plInterval, 2 * plInterval, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, nil)
			srv := newPLServer(t, tc.h)
			f := plFeed("throttled", srv.URL+"/feed")
			t0 := e.clock.Now()

			_, hit, err := e.poll(t, srv, f, false)
			var he *HTTPError
			if !hit || !errors.As(err, &he) {
				t.Fatalf("first poll: hit %v err %v, want an HTTPError", hit, err)
			}
			if !strings.Contains(err.Error(), "throttled") || !strings.Contains(err.Error(), srv.URL) {
				t.Errorf("error %q does not name the feed and its URL", err)
			}
			st := e.state(t, f)
			if !st.BackoffUntil.After(t0.Add(tc.skipAt)) {
				t.Errorf("BackoffUntil %s, want after %s", st.BackoffUntil, t0.Add(tc.skipAt))
			}
			if tc.exact > 0 && !st.BackoffUntil.Equal(t0.Add(tc.exact)) {
				t.Errorf("BackoffUntil %s, want exactly now+%s (%s)", st.BackoffUntil, tc.exact, t0.Add(tc.exact))
			}
			if st.LastError == "" || st.Failures != 1 {
				t.Errorf("state after throttling: LastError %q Failures %d", st.LastError, st.Failures)
			}

			srv.Set(plServe(plRSS(1, 2, "")))
			e.clock.Add(tc.skipAt)
			res, hit, err := e.poll(t, srv, f, false)
			if hit || err != nil || !strings.HasPrefix(res.Skipped, "backing off until ") {
				t.Fatalf("poll before Retry-After: hit %v err %v skipped %q; want no request, skipped \"backing off until …\"", hit, err, res.Skipped)
			}
			e.clock.Add(tc.pollAt - tc.skipAt)
			res, hit, err = e.poll(t, srv, f, false)
			if !hit || err != nil || res.Skipped != "" {
				t.Fatalf("poll after Retry-After: hit %v err %v skipped %q; want a successful fetch", hit, err, res.Skipped)
			}
			if st := e.state(t, f); !st.BackoffUntil.IsZero() || st.Failures != 0 || st.LastError != "" {
				t.Errorf("success left backoff state: %+v", st)
			}
		})
	}
}

func TestPollBackoffDoubles(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	// Each fetch takes 3 s of the poller's clock: the next scheduled poll
	// starts exactly one backoff after this one started, not after it ended.
	srv := newPLServer(t, nil)
	fail := func(w http.ResponseWriter, r *http.Request) {
		e.clock.Add(3 * time.Second)
		http.Error(w, "boom", http.StatusInternalServerError)
	}
	srv.Set(fail)
	f := plFeed("flaky", srv.URL+"/feed")
	f.MaxBackoff = 70 * time.Minute

	t0 := e.clock.Now()
	if _, _, err := e.poll(t, srv, f, false); err == nil {
		t.Fatal("500 did not fail the poll")
	}
	st := e.state(t, f)
	if st.Failures != 1 || !st.FailingSince.Equal(t0) || !strings.Contains(st.LastError, "HTTP 500") {
		t.Fatalf("after one failure: Failures %d FailingSince %s LastError %q", st.Failures, st.FailingSince, st.LastError)
	}
	if !st.BackoffUntil.IsZero() {
		t.Errorf("one failure backed off until %s; it should be retried at the next scheduled poll", st.BackoffUntil)
	}

	// Polls are due on the 10-minute grid. After the nth consecutive
	// failure the feed waits interval·2^(n-1), capped at max_backoff: the
	// scheduled poll just before that is skipped, the one at it is made.
	start := t0
	for n, wait := range []time.Duration{10 * time.Minute, 20 * time.Minute, 40 * time.Minute, 70 * time.Minute, 70 * time.Minute} {
		failures := n + 1
		if wait > plInterval {
			e.clock.Add(start.Add(wait - plInterval).Sub(e.clock.Now()))
			res, hit, err := e.poll(t, srv, f, false)
			if hit || err != nil || !strings.HasPrefix(res.Skipped, "backing off until ") {
				t.Fatalf("failure %d: poll %s after it: hit %v err %v skipped %q; want it skipped", failures, wait-plInterval, hit, err, res.Skipped)
			}
		}
		e.clock.Add(start.Add(wait).Sub(e.clock.Now()))
		start = e.clock.Now()
		_, hit, err := e.poll(t, srv, f, false)
		if !hit || err == nil {
			t.Fatalf("failure %d: poll %s after it: hit %v err %v; want a request that fails", failures, wait, hit, err)
		}
		st := e.state(t, f)
		if st.Failures != failures+1 || !st.FailingSince.Equal(t0) || st.LastError == "" {
			t.Fatalf("failure %d: Failures %d FailingSince %s LastError %q", failures+1, st.Failures, st.FailingSince, st.LastError)
		}
	}

	srv.Set(plServe(plRSS(1, 1, "")))
	_, hit, err := e.poll(t, srv, f, true)
	if !hit || err != nil {
		t.Fatalf("forced poll after recovery: hit %v err %v", hit, err)
	}
	st = e.state(t, f)
	if st.Failures != 0 || !st.BackoffUntil.IsZero() || st.LastError != "" || !st.FailingSince.IsZero() || !st.LastSuccess.Equal(e.clock.Now()) {
		t.Errorf("success did not reset the failure state: %+v", st)
	}
}

func TestPollGone(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	srv := newPLServer(t, plStatus(http.StatusGone))
	f := plFeed("retired", srv.URL+"/feed")

	_, hit, err := e.poll(t, srv, f, false)
	if !hit || err == nil {
		t.Fatalf("410: hit %v err %v, want a failed poll", hit, err)
	}
	if st := e.state(t, f); !st.Gone || st.LastStatus != 410 {
		t.Fatalf("after 410: Gone %v LastStatus %d", st.Gone, st.LastStatus)
	}
	for i := range 3 {
		e.clock.Add(48 * time.Hour) // beyond any backoff
		res, hit, err := e.poll(t, srv, f, false)
		if hit || err != nil || res.Skipped != "gone" {
			t.Fatalf("poll %d after 410: hit %v err %v skipped %q; want no request, skipped \"gone\"", i, hit, err, res.Skipped)
		}
	}
	if n := e.log.Count("feed is gone"); n != 1 {
		t.Errorf("gone warning logged %d times, want once:\n%s", n, e.log)
	}

	// A forced poll (crier poll --now) still tries, and one that succeeds
	// brings the feed back.
	if _, hit, err := e.poll(t, srv, f, true); !hit || err == nil {
		t.Fatalf("forced poll of a gone feed: hit %v err %v", hit, err)
	}
	if n := e.log.Count("feed is gone"); n != 1 {
		t.Errorf("gone warning logged %d times after a forced poll, want once", n)
	}
	srv.Set(plServe(plRSS(1, 1, "")))
	if _, hit, err := e.poll(t, srv, f, true); !hit || err != nil {
		t.Fatalf("forced poll of a revived feed: hit %v err %v", hit, err)
	}
	if st := e.state(t, f); st.Gone {
		t.Error("a feed that answered 200 is still marked gone")
	}
	e.clock.Add(plInterval)
	if res, hit, _ := e.poll(t, srv, f, false); !hit {
		t.Errorf("revived feed not polled on schedule: skipped %q", res.Skipped)
	}
}

func TestPollMovedPermanently(t *testing.T) {
	t.Parallel()
	cases := []struct {
		status    int
		permanent bool
	}{
		{http.StatusMovedPermanently, true},
		{http.StatusPermanentRedirect, true},
		{http.StatusFound, false},
		{http.StatusTemporaryRedirect, false},
	}
	for _, tc := range cases {
		t.Run(fmt.Sprint(tc.status), func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, nil)
			srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
				if r.URL.Path == "/old" {
					http.Redirect(w, r, "/new", tc.status)
					return
				}
				plServe(plRSS(1, 2, ""))(w, r)
			})
			f := plFeed("moving", srv.URL+"/old")
			for i := range 3 {
				if _, err := e.p.Poll(t.Context(), f, false); err != nil {
					t.Fatalf("poll %d: %v", i, err)
				}
				e.clock.Add(plInterval)
			}
			st := e.state(t, f)
			wantOld, wantMoved, wantLogs := 3, "", 0
			if tc.permanent {
				wantOld, wantMoved, wantLogs = 1, srv.URL+"/new", 1
			}
			if got := srv.Hits("/old"); got != wantOld || srv.Hits("/new") != 3 {
				t.Errorf("requests: /old %d /new %d; want /old %d /new 3", got, srv.Hits("/new"), wantOld)
			}
			if st.MovedTo != wantMoved {
				t.Errorf("MovedTo %q, want %q", st.MovedTo, wantMoved)
			}
			if n := e.log.Count("feed moved permanently"); n != wantLogs {
				t.Errorf("moved warning logged %d times, want %d:\n%s", n, wantLogs, e.log)
			}
			if tc.permanent && !strings.Contains(e.log.String(), "moved_to="+srv.URL+"/new") {
				t.Errorf("moved warning does not name the new location:\n%s", e.log)
			}
		})
	}
}

func TestPollRespectTTL(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		respect bool
		extra   string // channel elements
		header  string // Cache-Control
		floor   time.Duration
	}{
		{"ttl respected", true, "<ttl>60</ttl>", "", time.Hour},
		{"ttl ignored without opt-in", false, "<ttl>60</ttl>", "", 0},
		{"sy:updatePeriod respected", true, "<sy:updatePeriod>hourly</sy:updatePeriod><sy:updateFrequency>2</sy:updateFrequency>", "", 30 * time.Minute},
		{"max-age respected", true, "", "public, max-age=3600", time.Hour},
		{"max-age ignored without opt-in", false, "", "max-age=3600", 0},
		{"ttl below the schedule changes nothing", true, "<ttl>5</ttl>", "", 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, nil)
			var n atomic.Int32
			srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
				e.clock.Add(2 * time.Second) // a fetch takes time
				if tc.header != "" {
					w.Header().Set("Cache-Control", tc.header)
				}
				plServe(plRSS(1, int(n.Add(1)), tc.extra))(w, r) // a new item every time
			})
			f := plFeed("ttl", srv.URL+"/feed")
			f.RespectTTL = tc.respect

			// Poll on the 10-minute grid for two hours and note which
			// scheduled polls fetched.
			t0 := e.clock.Now()
			var fetched []time.Duration
			for slot := time.Duration(0); slot <= 2*time.Hour; slot += plInterval {
				e.clock.Add(t0.Add(slot).Sub(e.clock.Now()))
				res, hit, err := e.poll(t, srv, f, false)
				if err != nil {
					t.Fatalf("poll at +%s: %v", slot, err)
				}
				if hit {
					fetched = append(fetched, slot)
				} else if !strings.HasPrefix(res.Skipped, "publisher asked not before ") {
					t.Fatalf("poll at +%s skipped for %q", slot, res.Skipped)
				}
			}
			step := max(tc.floor, plInterval)
			var want []time.Duration
			for slot := time.Duration(0); slot <= 2*time.Hour; slot += step {
				want = append(want, slot)
			}
			if fmt.Sprint(fetched) != fmt.Sprint(want) {
				t.Errorf("fetched at %v, want %v", fetched, want)
			}
		})
	}
}

// TestPollTTLSurvivesUnchangedBodies: a publisher floor keeps holding while
// the feed answers 304 or the same bytes, although neither is parsed.
func TestPollTTLSurvivesUnchangedBodies(t *testing.T) {
	t.Parallel()
	for _, etag := range []bool{true, false} {
		t.Run(fmt.Sprint("etag=", etag), func(t *testing.T) {
			t.Parallel()
			e := newPLEnv(t, FetchOptions{}, nil)
			body := plRSS(1, 3, "<ttl>30</ttl>")
			srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
				if etag {
					if r.Header.Get("If-None-Match") == `"v1"` {
						w.WriteHeader(http.StatusNotModified)
						return
					}
					w.Header().Set("ETag", `"v1"`)
				}
				plServe(body)(w, r)
			})
			f := plFeed("ttl-unchanged", srv.URL+"/feed")
			f.RespectTTL = true
			t0 := e.clock.Now()
			var fetched []time.Duration
			for slot := time.Duration(0); slot <= 2*time.Hour; slot += plInterval {
				e.clock.Add(t0.Add(slot).Sub(e.clock.Now()))
				if _, hit, err := e.poll(t, srv, f, false); err != nil {
					t.Fatalf("poll at +%s: %v", slot, err)
				} else if hit {
					fetched = append(fetched, slot)
				}
			}
			if want := "[0s 30m0s 1h0m0s 1h30m0s 2h0m0s]"; fmt.Sprint(fetched) != want {
				t.Errorf("fetched at %v, want %s", fetched, want)
			}
		})
	}
}

func TestPollUnchangedBodySkipsParsing(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	body := plRSS(1, 3, "")
	srv := newPLServer(t, plServe(body)) // no ETag, no Last-Modified
	f := plFeed("static", srv.URL+"/feed")

	res, err := e.p.Poll(t.Context(), f, false)
	if err != nil || res.Unchanged || res.Items != 3 {
		t.Fatalf("first poll: %+v %v", res, err)
	}
	sum := sha256.Sum256([]byte(body))
	if st := e.state(t, f); st.BodyHash != hex.EncodeToString(sum[:]) || st.Title != "Poll Test" {
		t.Fatalf("after first poll: BodyHash %q Title %q", st.BodyHash, st.Title)
	}

	// Plant a title the feed does not have: parsing and recording the body
	// again would overwrite it with "Poll Test"; skipping it leaves it.
	st := e.state(t, f)
	st.Title = "planted"
	if err := e.store.SaveFeedState(f.FeedID(), st); err != nil {
		t.Fatal(err)
	}
	now := e.clock.Add(plInterval)
	res, err = e.p.Poll(t.Context(), f, false)
	if err != nil || !res.Unchanged || res.NotModified || res.Items != 0 || res.New != 0 || res.Status != 200 {
		t.Fatalf("identical body: %+v %v; want Unchanged with nothing parsed", res, err)
	}
	st = e.state(t, f)
	if st.Title != "planted" || !st.LastPoll.Equal(now) || !st.LastSuccess.Equal(now) {
		t.Errorf("identical body: Title %q LastPoll %s LastSuccess %s; want the body not recorded again, the poll recorded", st.Title, st.LastPoll, st.LastSuccess)
	}

	// One byte more and it is parsed again.
	srv.Set(plServe(body + " "))
	e.clock.Add(plInterval)
	res, err = e.p.Poll(t.Context(), f, false)
	if err != nil || res.Unchanged || res.Items != 3 {
		t.Fatalf("changed body: %+v %v", res, err)
	}
	if st := e.state(t, f); st.Title != "Poll Test" {
		t.Errorf("changed body not recorded: Title %q", st.Title)
	}
}

func TestPollNotModifiedKeepsValidators(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	const lastMod = "Mon, 10 Mar 2025 09:00:00 GMT"
	etag := `"v1"`
	var mu sync.Mutex
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		cur := etag
		mu.Unlock()
		if r.Header.Get("If-None-Match") == cur {
			if cur == `"v2"` {
				w.Header().Set("ETag", cur) // a 304 may refresh the validator
			}
			w.WriteHeader(http.StatusNotModified)
			return
		}
		w.Header().Set("ETag", cur)
		w.Header().Set("Last-Modified", lastMod)
		plServe(plRSS(1, 2, ""))(w, r)
	})
	f := plFeed("conditional", srv.URL+"/feed")
	if _, err := e.p.Poll(t.Context(), f, false); err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		e.clock.Add(plInterval)
		res, err := e.p.Poll(t.Context(), f, false)
		if err != nil || !res.NotModified || res.Status != 304 {
			t.Fatalf("poll %d: %+v %v; want 304", i, res, err)
		}
		if got := srv.LastHeader("If-None-Match"); got != `"v1"` {
			t.Errorf("poll %d sent If-None-Match %q, want \"v1\"", i, got)
		}
		if got := srv.LastHeader("If-Modified-Since"); got != lastMod {
			t.Errorf("poll %d sent If-Modified-Since %q, want %q", i, got, lastMod)
		}
		if st := e.state(t, f); st.ETag != `"v1"` || st.LastModified != lastMod || st.LastStatus != 304 {
			t.Errorf("after 304: ETag %q LastModified %q LastStatus %d", st.ETag, st.LastModified, st.LastStatus)
		}
	}
	// The server changes its ETag scheme and says so in a 304.
	mu.Lock()
	etag = `"v2"`
	mu.Unlock()
	e.clock.Add(plInterval)
	if res, err := e.p.Poll(t.Context(), f, false); err != nil || res.NotModified {
		t.Fatalf("after the ETag changed: %+v %v; want a full fetch", res, err)
	}
	e.clock.Add(plInterval)
	if res, err := e.p.Poll(t.Context(), f, false); err != nil || !res.NotModified {
		t.Fatalf("with the new ETag: %+v %v; want 304", res, err)
	}
	if st := e.state(t, f); st.ETag != `"v2"` {
		t.Errorf("ETag %q, want \"v2\"", st.ETag)
	}
}

// failOnceStore fails the next Ingest, as a full disk would.
type failOnceStore struct {
	*bolt.Store
	fail atomic.Bool
}

func (f *failOnceStore) Ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func([]crier.NewItem, bool) []crier.Delivery) (crier.IngestResult, error) {
	if f.fail.CompareAndSwap(true, false) {
		return crier.IngestResult{}, errors.New("disk full")
	}
	return f.Store.Ingest(feedID, st, items, plan)
}

func (f *failOnceStore) IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
	plan func([]crier.NewItem, bool, crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	if f.fail.CompareAndSwap(true, false) {
		return crier.IngestResult{}, errors.New("disk full")
	}
	return f.Store.IngestStories(feedID, st, items, window, plan)
}

// TestPollFailedIngestKeepsOldValidators: when the items of a fetch could
// not be recorded, the next poll must fetch them again, not be told "not
// modified" because the new ETag was remembered.
func TestPollFailedIngestKeepsOldValidators(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	flaky := &failOnceStore{Store: e.store}
	e.p = NewPoller(NewFetcher(nil, FetchOptions{}), flaky, e.p.opt)
	body := plRSS(1, 3, "")
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		etag := fmt.Sprintf(`"%x"`, sha256.Sum256([]byte(body)))
		w.Header().Set("ETag", etag)
		if r.Header.Get("If-None-Match") == etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
		plServe(body)(w, r)
	})
	f := plFeed("Flaky disk", srv.URL+"/feed")
	if _, _, err := e.poll(t, srv, f, false); err != nil {
		t.Fatal(err)
	}
	body = plRSS(1, 4, "") // Story 4 is published
	flaky.fail.Store(true)
	if _, _, err := e.poll(t, srv, f, false); err == nil {
		t.Fatal("the failed ingest was not reported")
	}
	e.clock.Add(storeMinPause) // polls pause while the state file fails
	res, _, err := e.poll(t, srv, f, false)
	if err != nil || res.NotModified || res.Unchanged || res.New != 1 || res.Queued != 1 {
		t.Fatalf("poll after the failed ingest: %+v, %v; want Story 4 fetched and queued", res, err)
	}
}

// TestPollOneAtATimePerFeed: a poll-now while the scheduled poll of the same
// feed runs waits for it instead of fetching in parallel.
func TestPollOneAtATimePerFeed(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	var inFlight, most atomic.Int32
	arrived, release := make(chan struct{}, 2), make(chan struct{})
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for m := most.Load(); n > m && !most.CompareAndSwap(m, n); m = most.Load() {
		}
		arrived <- struct{}{}
		<-release
		plServe(plRSS(1, 3, ""))(w, r)
	})
	f := plFeed("Busy", srv.URL+"/feed")
	done := make(chan error, 2)
	go func() { _, err := e.p.Poll(t.Context(), f, false); done <- err }()
	<-arrived
	go func() { _, err := e.p.Poll(t.Context(), f, true); done <- err }()
	time.Sleep(200 * time.Millisecond) // the second poll would have arrived by now
	close(release)
	for range 2 {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	if most.Load() != 1 {
		t.Fatalf("%d polls of one feed fetched at once", most.Load())
	}
}
