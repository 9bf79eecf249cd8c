package feeds

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

// The poller tests drive one Poller with an injected clock against real
// httptest servers and a real bbolt file, and assert what a user would see
// in the feed's state, the outbox and the log.

// plClock is a settable clock shared by the poller and the store.
type plClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *plClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *plClock) Add(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// plLog is a goroutine-safe buffer for slog output.
type plLog struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (l *plLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.Write(p)
}

func (l *plLog) Count(msg string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.buf.String(), msg)
}

func (l *plLog) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.buf.String()
}

// plServer is an httptest server whose handler can be swapped and which
// counts requests per path.
type plServer struct {
	*httptest.Server
	mu      sync.Mutex
	handler http.HandlerFunc
	hits    map[string]int
	last    *http.Request
}

func newPLServer(t *testing.T, h http.HandlerFunc) *plServer {
	t.Helper()
	s := &plServer{handler: h, hits: map[string]int{}}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.hits[r.URL.Path]++
		s.last = r
		h := s.handler
		s.mu.Unlock()
		h(w, r)
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *plServer) Set(h http.HandlerFunc) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.handler = h
}

// Hits counts requests for path, or for every path when path is "".
func (s *plServer) Hits(path string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if path != "" {
		return s.hits[path]
	}
	n := 0
	for _, c := range s.hits {
		n += c
	}
	return n
}

func (s *plServer) LastHeader(name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.last == nil {
		return ""
	}
	return s.last.Header.Get(name)
}

// plEnv is one poller over one state file.
type plEnv struct {
	clock *plClock
	store *store.Store
	log   *plLog
	p     *Poller
}

// plStart is a fixed local time, so that day boundaries are the test's own.
var plStart = time.Date(2025, 3, 10, 10, 0, 0, 0, time.Local)

func newPLEnv(t *testing.T, fo FetchOptions, edit func(*PollerOptions)) *plEnv {
	t.Helper()
	e := &plEnv{clock: &plClock{t: plStart}, log: &plLog{}}
	st, err := store.Open(filepath.Join(t.TempDir(), "state.db"), store.Options{Now: e.clock.Now, NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	opt := PollerOptions{
		Log:      slog.New(slog.NewTextHandler(e.log, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Now:      e.clock.Now,
		Interval: func(f crier.Feed) time.Duration { return Interval(f.Schedule) },
	}
	if edit != nil {
		edit(&opt)
	}
	e.p = NewPoller(NewFetcher(nil, fo), st, opt)
	return e
}

func (e *plEnv) state(t *testing.T, f crier.Feed) crier.FeedState {
	t.Helper()
	st, _, err := e.store.FeedState(f.FeedID())
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func (e *plEnv) alerts(t *testing.T) []store.Entry {
	t.Helper()
	all, err := e.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []store.Entry
	for _, en := range all {
		if en.Notification.Kind == crier.KindAlert {
			out = append(out, en)
		}
	}
	return out
}

// plFeed is a feed as Load would produce it: every 10 minutes, 30 s timeout.
func plFeed(name, url string) crier.Feed {
	return crier.Feed{
		Name: name, URL: url, Schedule: "@every 10m", Notify: []string{"phone"},
		Timeout: 5 * time.Second, MaxItems: 500, MaxBackoff: 24 * time.Hour, AlertAfter: 24 * time.Hour,
	}
}

const plInterval = 10 * time.Minute

// plRSS is a feed whose items are numbered first..last; extra goes into
// the channel (ttl, sy:…).
func plRSS(first, last int, extra string) string {
	var b strings.Builder
	b.WriteString(`<?xml version="1.0" encoding="utf-8"?>` + "\n" +
		`<rss version="2.0" xmlns:sy="http://purl.org/rss/1.0/modules/syndication/"><channel><title>Poll Test</title><link>https://site.example/</link>` + extra + "\n")
	for i := last; i >= first; i-- {
		fmt.Fprintf(&b, "<item><title>Story %d</title><link>https://site.example/%d</link><guid>urn:poll:%d</guid></item>\n", i, i, i)
	}
	b.WriteString("</channel></rss>\n")
	return b.String()
}

func plServe(body string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/rss+xml")
		w.Write([]byte(body))
	}
}

func plStatus(code int, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		w.WriteHeader(code)
	}
}

// poll polls f at the clock's current time and reports whether a request
// reached srv.
func (e *plEnv) poll(t *testing.T, srv *plServer, f crier.Feed, force bool) (Result, bool, error) {
	t.Helper()
	before := srv.Hits("")
	res, err := e.p.Poll(t.Context(), f, force)
	return res, srv.Hits("") > before, err
}

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
