// Package feedgen serves generated, news-like feeds on loopback. The demo
// runs the daemon against it and the benchmarks measure the pipeline with
// it, so both exercise real HTTP and real parsing without the internet.
package feedgen

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Options shape the generated feeds.
type Options struct {
	Feeds      int  // number of feeds, served at /feed/0 … /feed/N-1
	MinItems   int  // items per feed vary between MinItems and MaxItems
	MaxItems   int  //
	DescBytes  int  // approximate size of each item's HTML description
	Validators bool // send ETag and honour If-None-Match (SetValidators changes it)
	// Control serves POST /control/publish?n=N and
	// POST /control/validators?on=true|false, so that a process other than
	// the one serving (a benchmark measuring only its own CPU) can drive
	// the feeds; see Remote.
	Control bool
}

// Server serves the feeds on 127.0.0.1.
type Server struct {
	URL string // base URL, without trailing slash

	opt        Options
	validators atomic.Bool
	srv        *http.Server
	done       chan struct{}

	mu    sync.Mutex
	gen   []int       // per feed: how many items it has published in total
	cache map[int]doc // rendered bodies, rebuilt when a feed changes
	epoch time.Time
}

type doc struct {
	body        []byte
	etag        string
	contentType string
}

// Start listens on a loopback port and serves until Close.
func Start(opt Options) (*Server, error) {
	if opt.Feeds <= 0 {
		opt.Feeds = 1
	}
	if opt.MinItems <= 0 {
		opt.MinItems = 20
	}
	if opt.MaxItems < opt.MinItems {
		opt.MaxItems = opt.MinItems
	}
	if opt.DescBytes <= 0 {
		opt.DescBytes = 600
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("feedgen: listen: %w", err)
	}
	s := &Server{
		URL:   "http://" + ln.Addr().String(),
		opt:   opt,
		gen:   make([]int, opt.Feeds),
		cache: map[int]doc{},
		done:  make(chan struct{}),
		epoch: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
	}
	for i := range s.gen {
		s.gen[i] = s.itemsFor(i)
	}
	s.validators.Store(opt.Validators)
	mux := http.NewServeMux()
	mux.HandleFunc("/feed/", s.serve)
	if opt.Control {
		mux.HandleFunc("POST /control/publish", s.controlPublish)
		mux.HandleFunc("POST /control/validators", s.controlValidators)
	}
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		defer close(s.done)
		_ = s.srv.Serve(ln)
	}()
	return s, nil
}

// Close stops the server and waits for it.
func (s *Server) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	err := s.srv.Shutdown(ctx)
	<-s.done
	return err
}

// FeedURL is the address of feed i.
func (s *Server) FeedURL(i int) string { return s.URL + "/feed/" + strconv.Itoa(i) }

// Publish adds n new items to every feed (the oldest ones drop off, as
// on a real news feed) and renders every feed again before returning, so
// that the polls that follow measure fetching, not generating.
func (s *Server) Publish(n int) {
	s.mu.Lock()
	for i := range s.gen {
		s.gen[i] += n
	}
	clear(s.cache)
	s.mu.Unlock()
	s.Warm()
}

// Warm renders every feed not rendered yet.
func (s *Server) Warm() {
	for i := range s.opt.Feeds {
		s.render(i)
	}
}

// SetValidators turns ETags and 304 answers on or off for the requests
// that follow.
func (s *Server) SetValidators(on bool) { s.validators.Store(on) }

// Size returns the byte size of feed i's current document.
func (s *Server) Size(i int) int { return len(s.render(i).body) }

// Published returns how many items feed i has published in total.
func (s *Server) Published(i int) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.gen[i]
}

func (s *Server) itemsFor(i int) int {
	span := s.opt.MaxItems - s.opt.MinItems + 1
	return s.opt.MinItems + (i*7919)%span
}

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, "/feed/")
	i, err := strconv.Atoi(rest)
	if !ok || err != nil || i < 0 || i >= s.opt.Feeds {
		http.NotFound(w, r)
		return
	}
	d := s.render(i)
	w.Header().Set("Content-Type", d.contentType)
	if s.validators.Load() {
		w.Header().Set("ETag", d.etag)
		if r.Header.Get("If-None-Match") == d.etag {
			w.WriteHeader(http.StatusNotModified)
			return
		}
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(d.body)))
	_, _ = w.Write(d.body)
}

func (s *Server) render(i int) doc {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d, ok := s.cache[i]; ok {
		return d
	}
	total := s.gen[i]
	shown := min(total, s.itemsFor(i))
	var b strings.Builder
	var ct string
	switch i % 3 {
	case 0:
		ct = "application/rss+xml; charset=utf-8"
		s.rss(&b, i, total, shown)
	case 1:
		ct = "application/atom+xml; charset=utf-8"
		s.atom(&b, i, total, shown)
	default:
		ct = "application/feed+json"
		s.json(&b, i, total, shown)
	}
	sum := sha256.Sum256([]byte(b.String()))
	d := doc{body: []byte(b.String()), etag: `"` + hex.EncodeToString(sum[:8]) + `"`, contentType: ct}
	s.cache[i] = d
	return d
}
