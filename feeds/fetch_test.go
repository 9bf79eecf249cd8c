package feeds

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestPerHostLimit: no more than PerHost fetches reach one host at once,
// and a fetch waiting for a slot gives up with its ctx.
func TestPerHostLimit(t *testing.T) {
	t.Parallel()
	var inFlight, peak atomic.Int32
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := inFlight.Add(1)
		defer inFlight.Add(-1)
		for {
			p := peak.Load()
			if n <= p || peak.CompareAndSwap(p, n) {
				break
			}
		}
		select {
		case <-release:
		case <-r.Context().Done():
		}
		w.Write([]byte(rssDoc("p", 1)))
	}))
	defer srv.Close()
	f := NewFetcher(nil, FetchOptions{PerHost: 2})

	var wg sync.WaitGroup
	errs := make(chan error, 5)
	for range 5 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := f.Fetch(t.Context(), srv.URL, Validators{})
			errs <- err
		}()
	}
	// With two fetches parked in the handler, a sixth must time out waiting.
	deadline := time.Now().Add(2 * time.Second)
	for inFlight.Load() < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	_, err := f.Fetch(ctx, srv.URL, Validators{})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "waiting for a slot") {
		t.Errorf("waiting fetch: %v, want a deadline while waiting for a slot", err)
	}
	close(release)
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if p := peak.Load(); p != 2 {
		t.Errorf("peak concurrency %d, want 2", p)
	}
}

func TestFetchKeepsCallersClient(t *testing.T) {
	t.Parallel()
	called := false
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { called = true; return nil }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/" {
			http.Redirect(w, r, "/x", http.StatusFound)
			return
		}
		w.Write([]byte("ok"))
	}))
	defer srv.Close()
	if _, err := NewFetcher(c, FetchOptions{}).Fetch(t.Context(), srv.URL+"/", Validators{}); err != nil {
		t.Fatal(err)
	}
	if called {
		t.Error("the caller's CheckRedirect ran: Fetcher must use its own redirect policy on a copy")
	}
	if c.CheckRedirect == nil {
		t.Error("the caller's client was modified")
	}
}

func TestFetchRejectsNonHTTP(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"file:///etc/passwd", "ftp://x/y", "no scheme", "http://"} {
		_, err := NewFetcher(nil, FetchOptions{}).Fetch(t.Context(), u, Validators{})
		if err == nil || !strings.Contains(err.Error(), u) {
			t.Errorf("Fetch(%q) = %v, want an error naming it", u, err)
		}
	}
}

func TestHeaderParsing(t *testing.T) {
	t.Parallel()
	now := time.Date(2024, 1, 1, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"30", 30 * time.Second}, {"-5", 0}, {"soon", 0},
		{"Mon, 01 Jan 2024 12:05:00 GMT", 5 * time.Minute},
		{"Mon, 01 Jan 2024 11:00:00 GMT", 0},
		{"99999999999", 24 * time.Hour},
	} {
		if got := parseRetryAfter(tc.in, now); got != tc.want {
			t.Errorf("parseRetryAfter(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	for _, tc := range []struct {
		in   string
		want time.Duration
	}{
		{"", 0}, {"max-age=300", 5 * time.Minute}, {"public, Max-Age=\"60\"", time.Minute},
		{"max-age=300, no-cache", 0}, {"s-maxage=10", 0}, {"max-age=x", 0},
	} {
		if got := parseMaxAge(tc.in); got != tc.want {
			t.Errorf("parseMaxAge(%q) = %s, want %s", tc.in, got, tc.want)
		}
	}
	e := &HTTPError{Status: 503, RetryAfter: time.Minute, URL: "https://e.example/f"}
	if got := e.Error(); got != "fetch https://e.example/f: HTTP 503 Service Unavailable (retry after 1m0s)" || !e.Temporary() || e.Gone() {
		t.Errorf("HTTPError: %q temporary=%v gone=%v", got, e.Temporary(), e.Gone())
	}
}
