package web

import (
	"net/http"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierd/crier"
)

// TestFeedSecretsNotShown: a feed URL's credentials appear nowhere in the
// API or on the status page, not even from a state an older crier stored
// unredacted, while the rest of the URL still names the feed.
func TestFeedSecretsNotShown(t *testing.T) {
	t.Parallel()
	now := time.Now().Truncate(time.Second)
	s := openStore(t, nil)
	secretURL := "https://reader:hunter2@feeds.example/x.xml?token=s3cr3t-t0k3n&edition=uk"
	d := &fakeDaemon{healthy: true, feeds: []crier.Feed{
		feed("private", secretURL),
		feed("relocated", "https://feeds.example/old.xml"),
	}}
	legacy := "fetch " + secretURL + ": HTTP 500 Internal Server Error " + strings.Repeat("<p>oops</p>", 20000)
	for name, st := range map[string]crier.FeedState{
		"private": {URL: secretURL, LastPoll: now.Add(-time.Minute), LastError: legacy, Failures: 3,
			LastStatus: 500, BackoffUntil: now.Add(time.Hour)},
		"relocated": {URL: "https://feeds.example/old.xml", LastPoll: now.Add(-time.Minute), LastSuccess: now.Add(-time.Minute),
			MovedTo: "https://cdn.example/new.xml?X-Amz-Signature=m0ved-s1g"},
	} {
		var f crier.Feed
		for _, c := range d.feeds {
			if c.Name == name {
				f = c
			}
		}
		if err := s.SaveFeedState(f.FeedID(), st); err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, NewHandler(Options{Store: s, Daemon: d, Now: func() time.Time { return now }}), listenerRemote)

	api := do(t, "GET", srv.URL+"/api/feeds", "", nil)
	page := do(t, "GET", srv.URL+"/", "", nil)
	for what, body := range map[string]string{"/api/feeds": api.body, "status page": page.body} {
		for _, secret := range []string{"hunter2", "reader", "s3cr3t-t0k3n", "m0ved-s1g"} {
			if strings.Contains(body, secret) {
				t.Errorf("%s shows %q", what, secret)
			}
		}
		for _, want := range []string{"feeds.example/x.xml?token=***&amp;edition=uk", "X-Amz-Signature=***"} {
			if what == "/api/feeds" {
				want = strings.ReplaceAll(want, "&amp;", `\u0026`)
			}
			if !strings.Contains(body, want) {
				t.Errorf("%s lacks %s: the user must still recognise the feed", what, want)
			}
		}
	}
	fv := decode[struct {
		Feeds []map[string]any `json:"feeds"`
	}](t, api).Feeds
	for _, v := range fv {
		for _, k := range []string{"last_error", "status_text"} {
			if n := utf8.RuneCountInString(v[k].(string)); n > 1100 {
				t.Errorf("feed %s: %s has %d runes, want about 1 KiB at most", v["name"], k, n)
			}
		}
	}
}

// TestLoopbackHostRule: on a loopback listener every route refuses a Host
// that is not a loopback name (a DNS-rebinding page would send its own),
// unless the request carries the bearer token; unix sockets and remote
// listeners are not affected.
func TestLoopbackHostRule(t *testing.T) {
	t.Parallel()
	const token = "s3cret-token"
	routes := []string{"/", "/healthz", "/metrics", "/api/feeds", "/api/status", "/api/outbox", "/api/deadletters"}
	for _, tc := range []struct {
		name string
		kind listenerKind
		hdr  map[string]string
		code int
	}{
		{"loopback, rebound name", listenerLoopback, map[string]string{"Host": "evil.example:8080"}, http.StatusForbidden},
		{"loopback, rebound name without port", listenerLoopback, map[string]string{"Host": "evil.example"}, http.StatusForbidden},
		{"loopback, a name ending in localhost", listenerLoopback, map[string]string{"Host": "localhost.evil.example"}, http.StatusForbidden},
		{"loopback, wrong token", listenerLoopback, map[string]string{"Host": "evil.example", "Authorization": "Bearer nope"}, http.StatusForbidden},
		{"loopback, 127.0.0.1", listenerLoopback, nil, http.StatusOK},
		{"loopback, localhost", listenerLoopback, map[string]string{"Host": "localhost:8080"}, http.StatusOK},
		{"loopback, LOCALHOST without port", listenerLoopback, map[string]string{"Host": "LOCALHOST"}, http.StatusOK},
		{"loopback, 127.1.2.3", listenerLoopback, map[string]string{"Host": "127.1.2.3:9"}, http.StatusOK},
		{"loopback, [::1]", listenerLoopback, map[string]string{"Host": "[::1]:8080"}, http.StatusOK},
		{"loopback, proxy with the token", listenerLoopback, map[string]string{"Host": "crier.example.org", "Authorization": "Bearer " + token}, http.StatusOK},
		{"unix socket, any Host", listenerUnix, map[string]string{"Host": "crier"}, http.StatusOK},
		{"remote listener, its own name", listenerRemote, map[string]string{"Host": "crier.example.org"}, http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFixture(t)
			h := NewHandler(Options{Store: f.store, Daemon: f.daemon, Token: token,
				Metrics: NewMetrics(prometheus.NewRegistry(), f.store, f.daemon.Feeds)})
			srv := serve(t, h, tc.kind)
			for _, path := range routes {
				r := do(t, "GET", srv.URL+path, "", tc.hdr)
				if r.code != tc.code {
					t.Errorf("GET %s: %d, want %d: %.200s", path, r.code, tc.code, r.body)
				}
				if tc.code == http.StatusForbidden && !strings.Contains(r.body, "DNS rebinding") {
					t.Errorf("GET %s: refusal %q does not say why", path, r.body)
				}
			}
		})
	}
}

// TestNoSniff: no response may be sniffed into something else by a
// browser; JSON in particular.
func TestNoSniff(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)
	for _, c := range []struct{ method, path string }{
		{"GET", "/api/feeds"}, {"GET", "/api/status"}, {"GET", "/api/outbox"}, {"GET", "/api/deadletters"},
		{"GET", "/"}, {"GET", "/healthz"}, {"POST", "/api/poll"}, // 400: an error is JSON too
	} {
		req, err := http.NewRequest(c.method, srv.URL+c.path, nil)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := testClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if got := resp.Header.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s (%d): X-Content-Type-Options %q, want nosniff", c.method, c.path, resp.StatusCode, got)
		}
	}
	// The refusal of a rebound Host as well.
	req, _ := http.NewRequest("GET", srv.URL+"/api/feeds", nil)
	req.Host = "evil.example"
	resp, err := testClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Content-Type") != "application/json" {
		t.Errorf("refusal: %d %v", resp.StatusCode, resp.Header)
	}
}
