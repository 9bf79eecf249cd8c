package feeds_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/feeds/hubfake"
	"github.com/crierd/crier/store/bolt"
)

// These tests run crier's WebSub subscriber against hubfake, a hub that
// speaks the W3C protocol: 202 then an asynchronous verification with a
// random challenge, leases, denial, and HMAC-signed content distribution.

const wait = 10 * time.Second // guards against hangs only

type wsClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *wsClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *wsClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// wsEnv is a publisher whose feed names hub, a poller and subscriber over
// one state file, and crier's callback listener at public.
type wsEnv struct {
	clock  *wsClock
	store  *bolt.Store
	poller *feeds.Poller
	ws     *feeds.WebSub
	hub    *hubfake.Hub
	public *httptest.Server
	pub    *httptest.Server // the publisher
	feed   crier.Feed
	topic  string

	mu      sync.Mutex
	items   int
	outcome chan string // OnPush
	renewed []bool
}

func newWSEnv(t *testing.T, hubOpt hubfake.Options) *wsEnv {
	t.Helper()
	e := &wsEnv{clock: &wsClock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}, items: 3, outcome: make(chan string, 64)}
	hubOpt.Now = e.clock.Now
	e.hub = hubfake.New(t, hubOpt)
	e.pub = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		io.WriteString(w, e.body())
	}))
	t.Cleanup(e.pub.Close)
	e.topic = e.pub.URL + "/feed"
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{Now: e.clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	e.poller = feeds.NewPoller(feeds.NewFetcher(nil, feeds.FetchOptions{}), st, feeds.PollerOptions{Now: e.clock.Now})
	e.feed = crier.Feed{
		Name: "news", URL: e.topic, Schedule: "@every 10m", Notify: []string{"phone"}, Timeout: 5 * time.Second,
		MaxItems: 500, WebSub: crier.WebSubAuto, WebSubFallback: time.Hour,
	}
	var handler http.Handler = http.NotFoundHandler()
	var hmu sync.Mutex
	e.public = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hmu.Lock()
		h := handler
		hmu.Unlock()
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(e.public.Close)
	e.ws = e.newSubscriber(t)
	hmu.Lock()
	handler = e.ws
	hmu.Unlock()
	return e
}

// newSubscriber builds a subscriber over e's store, as a restart would.
func (e *wsEnv) newSubscriber(t *testing.T) *feeds.WebSub {
	t.Helper()
	ws, err := feeds.NewWebSub(e.store, e.poller, feeds.WebSubOptions{
		PublicURL: e.public.URL + "/", Now: e.clock.Now, Lease: 24 * time.Hour,
		Log:    slog.New(slog.DiscardHandler),
		OnPush: func(r string) { e.outcome <- r },
		OnRenewal: func(ok bool) {
			e.mu.Lock()
			defer e.mu.Unlock()
			e.renewed = append(e.renewed, ok)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ws.Apply([]crier.Feed{e.feed})
	e.poller.SetSubscriptions(ws)
	return ws
}

func (e *wsEnv) body() string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return rssWithHub(e.hub.URL, e.topic, e.items)
}

func rssWithHub(hub, self string, n int) string {
	return rssWindow(hub, self, 1, n)
}

// rssWindow is a feed of stories first..last, newest first.
func rssWindow(hub, self string, first, last int) string {
	var b strings.Builder
	fmt.Fprintf(&b, `<rss version="2.0" xmlns:atom="http://www.w3.org/2005/Atom"><channel><title>News</title><link>https://news.example/</link>
<atom:link rel="hub" href="%s"/><atom:link rel="self" href="%s"/>`, hub, self)
	for i := last; i >= first; i-- {
		fmt.Fprintf(&b, "<item><title>Story %d</title><link>https://news.example/%d</link><guid>urn:news:%d</guid></item>\n", i, i, i)
	}
	b.WriteString("</channel></rss>")
	return b.String()
}

func (e *wsEnv) publish(n int) {
	e.mu.Lock()
	e.items = n
	e.mu.Unlock()
}

// subscribe polls (which discovers the hub), lets the subscriber ask the
// hub and waits for the hub's verification.
func (e *wsEnv) subscribe(t *testing.T) {
	t.Helper()
	if _, err := e.poller.Poll(t.Context(), e.feed, false); err != nil {
		t.Fatal(err)
	}
	e.ws.Step(t.Context())
	e.expectVerified(t, "subscribe")
}

func (e *wsEnv) expectVerified(t *testing.T, mode string) {
	t.Helper()
	ev, err := e.hub.Next(t.Context(), wait)
	if err != nil {
		t.Fatal(err)
	}
	if ev.Mode != mode || !ev.Verified {
		t.Fatalf("hub verification = %+v, want %s verified", ev, mode)
	}
}

func (e *wsEnv) nextOutcome(t *testing.T) string {
	t.Helper()
	select {
	case r := <-e.outcome:
		return r
	case <-time.After(wait):
		t.Fatal("no push outcome")
		return ""
	}
}

func (e *wsEnv) sub(t *testing.T) crier.Subscription {
	t.Helper()
	subs, err := e.store.Subscriptions()
	if err != nil || len(subs) != 1 {
		t.Fatalf("stored subscriptions = %+v, %v; want one", subs, err)
	}
	return subs[0]
}

func (e *wsEnv) outbox(t *testing.T) []string {
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

func TestWebSubSubscribeAndPush(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, hubfake.Options{})
	e.subscribe(t)

	reqs := e.hub.Requests()
	if len(reqs) != 1 {
		t.Fatalf("hub got %d requests, want 1", len(reqs))
	}
	r := reqs[0]
	cb := r.Get("hub.callback")
	if r.Get("hub.mode") != "subscribe" || r.Get("hub.topic") != e.topic || !strings.HasPrefix(cb, e.public.URL+"/websub/") ||
		r.Get("hub.lease_seconds") != "86400" || len(r.Get("hub.secret")) < 32 {
		t.Errorf("subscribe request = %v", r)
	}
	sub := e.sub(t)
	if sub.State != crier.SubActive || !sub.LeaseExpires.Equal(e.clock.Now().Add(24*time.Hour)) || sub.Secret != r.Get("hub.secret") {
		t.Errorf("stored subscription = %+v", sub)
	}
	if !e.ws.Pushing(e.feed.FeedID()) {
		t.Errorf("Pushing = false after verification")
	}

	// The publisher adds a story; the hub pushes the feed.
	e.publish(4)
	got := e.hub.Publish(e.topic, "application/rss+xml", []byte(e.body()))
	if got[cb] != http.StatusAccepted {
		t.Fatalf("delivery statuses = %v, want 202", got)
	}
	if o := e.nextOutcome(t); o != feeds.PushAccepted {
		t.Fatalf("push outcome %q", o)
	}
	if titles := e.outbox(t); !slices.Equal(titles, []string{"Story 4"}) {
		t.Errorf("outbox = %q, want Story 4 from the push", titles)
	}

	// A restart keeps the subscription: the new subscriber knows the
	// secret and the lease, and sends nothing.
	ws2 := e.newSubscriber(t)
	if !ws2.Pushing(e.feed.FeedID()) {
		t.Errorf("after a restart the subscription is not active")
	}
	ws2.Step(t.Context())
	if n := len(e.hub.Requests()); n != 1 {
		t.Errorf("a restart sent %d more requests to the hub", n-1)
	}
}

// Every signature algorithm the spec names is checked, and content signed
// with anything but the subscription's secret is dropped (answered 2xx,
// as §8 allows, and counted as rejected).
func TestWebSubSignatures(t *testing.T) {
	t.Parallel()
	for _, algo := range []string{"sha1", "sha256", "sha384", "sha512"} {
		t.Run(algo, func(t *testing.T) {
			t.Parallel()
			e := newWSEnv(t, hubfake.Options{Algo: algo})
			e.subscribe(t)
			cb := e.sub(t).CallbackURL
			e.publish(4)
			if got := e.hub.Publish(e.topic, "application/rss+xml", []byte(e.body())); got[cb] != http.StatusAccepted {
				t.Fatalf("delivery = %v", got)
			}
			if o := e.nextOutcome(t); o != feeds.PushAccepted {
				t.Fatalf("%s-signed push: %q", algo, o)
			}

			e.publish(5)
			forged := []struct {
				name, algo, secret string
				header             string
			}{
				{name: "wrong secret", algo: algo, secret: "guessed"},
				{name: "no signature"},
				{name: "unknown method", header: "md5=00"},
				{name: "not hex", header: algo + "=zz"},
			}
			for _, f := range forged {
				var status int
				var err error
				if f.header != "" {
					status, err = postRaw(cb, e.body(), f.header)
				} else {
					status, err = hubfake.Deliver(t.Context(), cb, e.hub.URL, e.topic, "application/rss+xml", []byte(e.body()), f.algo, f.secret)
				}
				if err != nil || status/100 != 2 {
					t.Errorf("%s: status %d, %v; want 2xx", f.name, status, err)
				}
				if o := e.nextOutcome(t); o != feeds.PushRejected {
					t.Errorf("%s: outcome %q, want rejected", f.name, o)
				}
			}
			if titles := e.outbox(t); !slices.Equal(titles, []string{"Story 4"}) {
				t.Errorf("outbox = %q; forged pushes must not announce Story 5", titles)
			}
		})
	}
}

func postRaw(callback, body, sigHeader string) (int, error) {
	req, _ := http.NewRequest(http.MethodPost, callback, strings.NewReader(body))
	req.Header.Set("X-Hub-Signature", sigHeader)
	// Not http.DefaultClient: parallel tests' httptest servers close its
	// connections, even one under a request in flight.
	resp, err := (&http.Client{Transport: &http.Transport{}}).Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

// A verification is confirmed only for a request crier sent: a replayed
// or forged one, one for another topic, or one for a callback crier does
// not have, is 404 and changes nothing.
func TestWebSubRefusesVerificationsNotAskedFor(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, hubfake.Options{})
	e.subscribe(t)
	cb := e.sub(t).CallbackURL
	before := e.sub(t)

	tests := []struct {
		name     string
		callback string
		q        url.Values
	}{
		{"subscribe again, nothing pending", cb, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {e.topic}, "hub.challenge": {"c1"}, "hub.lease_seconds": {"999999"}}},
		{"unsubscribe crier did not ask for", cb, url.Values{"hub.mode": {"unsubscribe"}, "hub.topic": {e.topic}, "hub.challenge": {"c2"}}},
		{"denial of nothing", cb, url.Values{"hub.mode": {"denied"}, "hub.topic": {e.topic}, "hub.reason": {"spam"}}},
		{"unknown callback", e.public.URL + "/websub/0123456789abcdef", url.Values{"hub.mode": {"subscribe"}, "hub.topic": {e.topic}, "hub.challenge": {"c3"}}},
	}
	for _, tt := range tests {
		status, body, err := hubfake.Verify(t.Context(), tt.callback, tt.q)
		if err != nil || status != http.StatusNotFound || strings.Contains(body, "c1") || strings.Contains(body, "c2") || strings.Contains(body, "c3") {
			t.Errorf("%s: %d %q %v; want 404 without the challenge", tt.name, status, body, err)
		}
	}
	if after := e.sub(t); after.State != before.State || !after.LeaseExpires.Equal(before.LeaseExpires) {
		t.Errorf("refused verifications changed the subscription: %+v -> %+v", before, after)
	}

	// While a renewal is pending, a verification for another topic is
	// still refused, and the real one still succeeds.
	e.clock.Add(23 * time.Hour)
	e.ws.Step(t.Context())
	status, _, _ := hubfake.Verify(t.Context(), cb, url.Values{"hub.mode": {"subscribe"}, "hub.topic": {e.pub.URL + "/other"}, "hub.challenge": {"x"}})
	if status != http.StatusNotFound {
		t.Errorf("verification for a topic crier did not ask for: %d, want 404", status)
	}
	e.expectVerified(t, "subscribe")
}

// Leases are renewed before they run out, from the lease the hub granted
// (here less than crier asked for).
func TestWebSubRenewsLease(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, hubfake.Options{MaxLease: time.Hour})
	e.subscribe(t)
	if s := e.sub(t); s.LeaseSeconds != 3600 {
		t.Fatalf("lease = %ds, want the hub's 3600", s.LeaseSeconds)
	}
	e.clock.Add(50 * time.Minute)
	if next := e.ws.Step(t.Context()); len(e.hub.Requests()) != 1 || !next.After(e.clock.Now()) {
		t.Fatalf("renewed at 50 of 60 minutes; next step at %s", next)
	}
	e.clock.Add(2 * time.Minute) // 52 of 60: past 85 %
	e.ws.Step(t.Context())
	if !e.ws.Pushing(e.feed.FeedID()) {
		t.Errorf("the subscription stopped counting while the renewal was pending")
	}
	e.expectVerified(t, "subscribe")
	s := e.sub(t)
	if want := e.clock.Now().Add(time.Hour); !s.LeaseExpires.Equal(want) || s.State != crier.SubActive {
		t.Errorf("after renewal: %+v, want active until %s", s, want)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if !slices.Equal(e.renewed, []bool{true}) {
		t.Errorf("renewals observed = %v, want one accepted", e.renewed)
	}
}

// A feed removed from the config is unsubscribed at the hub; its pushes
// get 410 meanwhile, and once the hub verified, the subscription is gone.
func TestWebSubUnsubscribesRemovedFeeds(t *testing.T) {
	t.Parallel()
	e := newWSEnv(t, hubfake.Options{})
	e.subscribe(t)
	cb := e.sub(t).CallbackURL
	e.ws.Apply(nil)
	e.ws.Step(t.Context())
	e.expectVerified(t, "unsubscribe")
	reqs := e.hub.Requests()
	if last := reqs[len(reqs)-1]; last.Get("hub.mode") != "unsubscribe" || last.Get("hub.callback") != cb || last.Get("hub.topic") != e.topic {
		t.Errorf("unsubscribe request = %v", last)
	}
	if subs, _ := e.store.Subscriptions(); len(subs) != 0 {
		t.Errorf("stored subscriptions after unsubscribe: %+v", subs)
	}
	if len(e.hub.Subs(e.topic)) != 0 {
		t.Errorf("the hub still has the subscription")
	}
	status, err := hubfake.Deliver(t.Context(), cb, e.hub.URL, e.topic, "application/rss+xml", []byte(e.body()), "sha256", "x")
	if err != nil || status != http.StatusGone {
		t.Errorf("push to a dropped subscription: %d %v, want 410", status, err)
	}
}

// A hub that refuses, or is down, costs nothing but the push: the feed
// is polled on its own schedule, and crier asks again later.
func TestWebSubHubDeniesOrIsDown(t *testing.T) {
	t.Parallel()
	t.Run("denied", func(t *testing.T) {
		t.Parallel()
		e := newWSEnv(t, hubfake.Options{})
		e.hub.Deny(e.topic, "not on this hub")
		if _, err := e.poller.Poll(t.Context(), e.feed, false); err != nil {
			t.Fatal(err)
		}
		e.ws.Step(t.Context())
		if ev, err := e.hub.Next(t.Context(), wait); err != nil || ev.Mode != "denied" || ev.Status != http.StatusOK {
			t.Fatalf("denial: %+v %v", ev, err)
		}
		if s := e.sub(t); s.State != crier.SubDenied || !strings.Contains(s.LastError, "not on this hub") {
			t.Errorf("after denial: %+v", s)
		}
		if e.ws.Pushing(e.feed.FeedID()) {
			t.Errorf("a denied subscription counts as pushing")
		}
	})
	t.Run("down", func(t *testing.T) {
		t.Parallel()
		e := newWSEnv(t, hubfake.Options{})
		e.hub.Close()
		if _, err := e.poller.Poll(t.Context(), e.feed, false); err != nil {
			t.Fatal(err)
		}
		next := e.ws.Step(t.Context())
		s := e.sub(t)
		if s.State != crier.SubFailed || s.LastError == "" || !s.RetryAt.After(e.clock.Now()) || next.After(s.RetryAt) {
			t.Errorf("hub down: %+v, next step %s", s, next)
		}
		// The feed keeps its normal schedule.
		e.clock.Add(10 * time.Minute)
		e.publish(4)
		if res, err := e.poller.Poll(t.Context(), e.feed, false); err != nil || res.Skipped != "" || res.New != 1 {
			t.Errorf("poll with the hub down = %+v, %v; want it fetched", res, err)
		}
	})
}
