package feeds

import (
	"bytes"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// The poller tests drive one Poller with an injected clock against real
// httptest servers and a real bbolt file, and assert what a user would see
// in the feed's state, the outbox and the log.

// plClock is a settable clock shared by the poller, the store and the
// scheduler. Its After fires when Add moves the time past the deadline;
// asked hears of every After call (dropped when nobody listens).
type plClock struct {
	mu    sync.Mutex
	t     time.Time
	waits []plWait
	asked chan time.Duration
}

type plWait struct {
	at time.Time
	ch chan time.Time
}

func newPLClock() *plClock {
	return &plClock{t: plStart, asked: make(chan time.Duration, 64)}
}

func (c *plClock) After(d time.Duration) <-chan time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	ch := make(chan time.Time, 1)
	if d <= 0 {
		ch <- c.t
	} else {
		c.waits = append(c.waits, plWait{at: c.t.Add(d), ch: ch})
	}
	select {
	case c.asked <- d:
	default:
	}
	return ch
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
	kept := c.waits[:0]
	for _, w := range c.waits {
		if w.at.After(c.t) {
			kept = append(kept, w)
			continue
		}
		w.ch <- c.t
	}
	c.waits = kept
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
	store *bolt.Store
	log   *plLog
	p     *Poller
}

// plStart is a fixed local time, so that day boundaries are the test's own.
var plStart = time.Date(2025, 3, 10, 10, 0, 0, 0, time.Local)

func newPLEnv(t *testing.T, fo FetchOptions, edit func(*PollerOptions)) *plEnv {
	t.Helper()
	e := &plEnv{clock: newPLClock(), log: &plLog{}}
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{Now: e.clock.Now, NoSync: true})
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

func (e *plEnv) alerts(t *testing.T) []crier.Entry {
	t.Helper()
	all, err := e.store.Outbox()
	if err != nil {
		t.Fatal(err)
	}
	var out []crier.Entry
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
