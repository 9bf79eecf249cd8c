package feeds

import (
	"net/http"
	"slices"
	"sync"
	"testing"

	"github.com/crierd/crier"
)

// fakeSubs is a Subscriptions that records what polls discovered and
// answers Pushing from a set the test controls.
type fakeSubs struct {
	mu      sync.Mutex
	found   map[string]HubLinks
	pushing map[string]bool
}

func (f *fakeSubs) Discovered(feed crier.Feed, l HubLinks) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.found[feed.Name] = l
}

func (f *fakeSubs) Pushing(feedID string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.pushing[feedID]
}

func (e *plEnv) titles(t *testing.T) []string {
	t.Helper()
	all, err := e.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, en := range all {
		out = append(out, en.Notification.Title)
	}
	return out
}

// A pushed body is an early poll: its new items are announced once, the
// poll that later fetches them finds nothing new, and the push leaves the
// poll's validators, last poll time and health alone.
func TestPushIsAnEarlyPoll(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("ETag", `"v1"`)
		plServe(plRSS(1, 3, ""))(w, r)
	})
	f := plFeed("pushed", srv.URL+"/feed")
	if _, err := e.p.Poll(t.Context(), f, false); err != nil {
		t.Fatal(err)
	}
	before := e.state(t, f)

	e.clock.Add(plInterval / 2)
	res, err := e.p.Push(t.Context(), f, []byte(plRSS(1, 4, "")), "application/rss+xml")
	if err != nil || res.New != 1 || res.Queued != 1 {
		t.Fatalf("Push = %+v, %v; want one new item queued", res, err)
	}
	if got := e.titles(t); !slices.Equal(got, []string{"Story 4"}) {
		t.Fatalf("outbox after the push = %q, want Story 4", got)
	}
	after := e.state(t, f)
	if after.ETag != `"v1"` || !after.LastPoll.Equal(before.LastPoll) || after.NewTotal != 1 {
		t.Errorf("after push: ETag %q LastPoll %s NewTotal %d; want validators and poll time kept, the new item counted",
			after.ETag, after.LastPoll, after.NewTotal)
	}

	// The same bytes again (a hub retrying) and the poll that catches up
	// with the publisher announce nothing more.
	if res, err := e.p.Push(t.Context(), f, []byte(plRSS(1, 4, "")), ""); err != nil || res.New != 0 || !res.Unchanged {
		t.Errorf("repeated push = %+v, %v; want unchanged", res, err)
	}
	srv.Set(plServe(plRSS(1, 4, "")))
	e.clock.Add(plInterval)
	if res, err := e.p.Poll(t.Context(), f, false); err != nil || res.New != 0 {
		t.Errorf("poll after the push = %+v, %v; want nothing new", res, err)
	}
	if got := e.titles(t); len(got) != 1 {
		t.Errorf("outbox = %q, want Story 4 once", got)
	}
}

// A pushed body that does not parse is the push's error, not the feed's:
// its polls go on unhindered.
func TestPushGarbageLeavesFeedHealthy(t *testing.T) {
	t.Parallel()
	e := newPLEnv(t, FetchOptions{}, nil)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("garbage", srv.URL+"/feed")
	if _, err := e.p.Poll(t.Context(), f, false); err != nil {
		t.Fatal(err)
	}
	if _, err := e.p.Push(t.Context(), f, []byte("<html><body>oops</body></html>"), "text/html"); err == nil {
		t.Fatal("Push of an HTML page succeeded")
	}
	if st := e.state(t, f); st.Failures != 0 || !st.BackoffUntil.IsZero() || st.LastError != "" {
		t.Errorf("after a bad push: failures %d backoff %s error %q; want the feed untouched", st.Failures, st.BackoffUntil, st.LastError)
	}
}

// Polls report the hub links of every parsed body of a websub: auto feed.
func TestPollReportsHubLinks(t *testing.T) {
	t.Parallel()
	subs := &fakeSubs{found: map[string]HubLinks{}, pushing: map[string]bool{}}
	e := newPLEnv(t, FetchOptions{}, nil)
	e.p.SetSubscriptions(subs)
	srv := newPLServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Add("Link", `<https://hub.example/>; rel="hub"`)
		w.Header().Add("Link", `<https://site.example/feed>; rel="self"`)
		plServe(plRSS(1, 2, ""))(w, r)
	})
	auto := plFeed("auto", srv.URL+"/a")
	auto.WebSub = crier.WebSubAuto
	off := plFeed("off", srv.URL+"/b")
	off.WebSub = crier.WebSubOff
	for _, f := range []crier.Feed{auto, off} {
		if _, err := e.p.Poll(t.Context(), f, false); err != nil {
			t.Fatal(err)
		}
	}
	got, ok := subs.found["auto"]
	if !ok || !slices.Equal(got.Hubs, []string{"https://hub.example/"}) || got.Self != "https://site.example/feed" {
		t.Errorf("discovered for auto = %+v (%v)", got, ok)
	}
	if _, ok := subs.found["off"]; ok {
		t.Errorf("a websub: off feed reported its hub")
	}
}

// While its hub pushes, a feed is polled at its websub_fallback pace, not
// its schedule; a forced poll still fetches, and a hub that stops pushing
// brings the schedule back at once.
func TestPollFallsBackWhilePushed(t *testing.T) {
	t.Parallel()
	subs := &fakeSubs{found: map[string]HubLinks{}, pushing: map[string]bool{}}
	e := newPLEnv(t, FetchOptions{}, nil)
	e.p.SetSubscriptions(subs)
	srv := newPLServer(t, plServe(plRSS(1, 2, "")))
	f := plFeed("slow", srv.URL+"/feed")
	f.WebSub, f.WebSubFallback = crier.WebSubAuto, 6*plInterval
	subs.pushing[f.FeedID()] = true

	var fetched []bool
	for range 7 {
		_, hit, err := e.poll(t, srv, f, false)
		if err != nil {
			t.Fatal(err)
		}
		fetched = append(fetched, hit)
		e.clock.Add(plInterval)
	}
	want := []bool{true, false, false, false, false, false, true}
	if !slices.Equal(fetched, want) {
		t.Errorf("scheduled polls fetched %v, want %v (every websub_fallback)", fetched, want)
	}
	if _, hit, _ := e.poll(t, srv, f, true); !hit {
		t.Errorf("a forced poll did not fetch")
	}
	e.clock.Add(plInterval)
	subs.mu.Lock()
	subs.pushing[f.FeedID()] = false
	subs.mu.Unlock()
	if _, hit, _ := e.poll(t, srv, f, false); !hit {
		t.Errorf("the hub stopped pushing but the scheduled poll did not fetch")
	}
}
