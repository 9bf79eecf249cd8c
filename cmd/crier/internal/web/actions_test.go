package web

import (
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// pagePost posts form to path as the status page's <form method=post> does
// in a browser (same Origin, Accept: text/html) and returns the status and
// where it redirects.
func pagePost(t *testing.T, base, path string, form url.Values, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest("POST", base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "text/html,application/xhtml+xml,*/*;q=0.8")
	req.Header.Set("Origin", origin)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if loc != "" {
		u, err := req.URL.Parse(loc)
		if err != nil {
			t.Fatal(err)
		}
		loc = u.String()
	}
	return resp.StatusCode, loc
}

func getPage(t *testing.T, u string) *html.Node {
	t.Helper()
	r := do(t, "GET", u, "", nil)
	if r.code != 200 {
		t.Fatalf("GET %s: %d", u, r.code)
	}
	doc, err := html.Parse(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

// note is the outcome the page shows after an action, and whether it is
// shown as a failure.
func note(t *testing.T, doc *html.Node) (string, bool) {
	t.Helper()
	n := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "note" })
	if len(n) != 1 {
		t.Fatalf("%d notes on the page, want 1", len(n))
	}
	return text(n[0]), hasClass(n[0], "bad")
}

// TestPageActions drives every action through the page's own forms, as a
// browser without JavaScript would: each POST answers 303 back to the page,
// which says what happened, and the change is visible.
func TestPageActions(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)

	// Under "no-referrer" a browser posts the page's forms with "Origin:
	// null", which the guard refuses (found in Chromium).
	resp, err := http.Get(srv.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if p := resp.Header.Get("Referrer-Policy"); p != "same-origin" {
		t.Errorf("Referrer-Policy %q, want same-origin so that the page's forms carry its Origin", p)
	}

	// The page offers a form for each action, posting where the API listens.
	doc := getPage(t, srv.URL+"/")
	actions := map[string]bool{}
	for _, form := range findAll(doc, func(n *html.Node) bool { return n.Data == "form" }) {
		if attr(form, "method") != "post" {
			t.Errorf("form %v is not a POST", form.Attr)
		}
		actions[attr(form, "action")] = true
	}
	for _, a := range []string{"api/poll", "api/pause", "api/redeliver", "api/test-notify"} {
		if !actions[a] {
			t.Errorf("no form posting to %s; forms: %v", a, actions)
		}
	}

	for _, tc := range []struct {
		name     string
		path     string
		form     url.Values
		wantNote string
		bad      bool
		check    func(t *testing.T, doc *html.Node)
	}{
		{"pause", "api/pause", url.Values{"feed": {"good"}}, "Paused good", false, func(t *testing.T, doc *html.Node) {
			card := row(t, doc, "feed", "data-feed", "good")
			if attr(card, "data-paused") != "true" || cell(t, card, "next-poll") != "paused" {
				t.Errorf("good after pause: data-paused %q, next poll %q", attr(card, "data-paused"), cell(t, card, "next-poll"))
			}
			if forms := findAll(card, func(n *html.Node) bool { return attr(n, "action") == "api/resume" }); len(forms) != 1 {
				t.Error("a paused feed offers no resume")
			}
		}},
		{"poll now", "api/poll", url.Values{"feed": {"good"}}, "Polled good: ok, 3 items, 1 new, 1 queued", false, func(t *testing.T, _ *html.Node) {
			if _, polled := f.daemon.counts(); !slices.Equal(polled, []string{"good"}) {
				t.Errorf("polled %v, want [good]", polled)
			}
		}},
		{"resume", "api/resume", url.Values{"feed": {"good"}}, "Resumed good", false, func(t *testing.T, doc *html.Node) {
			if card := row(t, doc, "feed", "data-feed", "good"); attr(card, "data-paused") != "false" {
				t.Error("good still paused after resume")
			}
		}},
		{"redeliver one", "api/redeliver", url.Values{"id": {strconv.FormatUint(f.deadID, 10)}}, "Queued 1 dead letter again", false, func(t *testing.T, doc *html.Node) {
			if n := findAll(doc, func(n *html.Node) bool { return hasClass(n, "dead") }); len(n) != 0 {
				t.Errorf("%d dead letters left", len(n))
			}
			if kicks, _ := f.daemon.counts(); kicks != 1 {
				t.Errorf("dispatcher kicked %d times, want 1", kicks)
			}
		}},
		{"redeliver all, none left", "api/redeliver", url.Values{"all": {"1"}}, "Queued 0 dead letters again", false, nil},
		{"test notification", "api/test-notify", url.Values{"notifier": {"phone"}}, "Test notification sent through phone", false, nil},
		{"unknown feed", "api/pause", url.Values{"feed": {"nope"}}, `no feed named "nope"`, true, nil},
	} {
		code, loc := pagePost(t, srv.URL+"/", tc.path, tc.form, srv.URL)
		if code != http.StatusSeeOther || !strings.HasPrefix(loc, srv.URL+"/?note=") {
			t.Fatalf("%s: %d to %q, want 303 back to the page", tc.name, code, loc)
		}
		doc := getPage(t, loc)
		if got, bad := note(t, doc); !strings.Contains(got, tc.wantNote) || bad != tc.bad {
			t.Errorf("%s: note %q (failure %v), want %q (failure %v)", tc.name, got, bad, tc.wantNote, tc.bad)
		}
		if tc.check != nil {
			tc.check(t, doc)
		}
	}

	f.daemon.mu.Lock()
	f.daemon.testErr = errors.New("pushover: HTTP 400: invalid user key")
	f.daemon.mu.Unlock()
	_, loc := pagePost(t, srv.URL+"/", "api/test-notify", url.Values{"notifier": {"phone"}}, srv.URL)
	if got, bad := note(t, getPage(t, loc)); !bad || !strings.Contains(got, "invalid user key") {
		t.Errorf("failed test notification: note %q (failure %v)", got, bad)
	}

	// Another site's form cannot act through the user's browser.
	if code, _ := pagePost(t, srv.URL+"/", "api/pause", url.Values{"feed": {"good"}}, "https://evil.example"); code != http.StatusForbidden {
		t.Errorf("cross-origin form post: %d, want 403", code)
	}
	if paused, _ := f.store.IsPaused(f.daemon.feeds[0].FeedID()); paused {
		t.Error("a cross-origin form paused the feed")
	}
	// A note that does not exist (or expired) shows nothing.
	if n := findAll(getPage(t, srv.URL+"/?note=forged"), func(n *html.Node) bool { return attr(n, "id") == "note" }); len(n) != 0 {
		t.Error("a forged note id shows a note")
	}
}

// TestPageActionsNeedAListenerThatAllowsThem: behind a remote listener the
// page offers no forms (they would be refused) and says how to act.
func TestPageActionsNeedAListenerThatAllowsThem(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler("s3cret"), listenerRemote)
	doc := getPage(t, srv.URL+"/")
	if forms := findAll(doc, func(n *html.Node) bool { return n.Data == "form" }); len(forms) != 0 {
		t.Errorf("%d forms on a page whose posts would be refused", len(forms))
	}
	if hint := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "actions-hint" }); len(hint) != 1 {
		t.Error("no hint on how to act")
	}
}

// TestAPIPauseResumeTestNotify: the JSON side of the new actions.
func TestAPIPauseResumeTestNotify(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler("tok"), listenerRemote)
	auth := map[string]string{"Authorization": "Bearer tok"}
	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		code         int
		want         string
	}{
		{"POST", "/api/pause?feed=good", nil, 403, ""},
		{"POST", "/api/pause?feed=good", auth, 200, `"paused": true`},
		{"GET", "/api/feeds", nil, 200, `"paused": true`},
		{"POST", "/api/pause?feed=nope", auth, 404, `no feed named \"nope\"`},
		{"POST", "/api/pause", auth, 400, "say which feed"},
		{"POST", "/api/resume?feed=good", auth, 200, `"paused": false`},
		{"POST", "/api/test-notify?notifier=phone", auth, 200, `"result": "sent"`},
		{"POST", "/api/test-notify?notifier=nope", auth, 404, `no notifier named \"nope\"`},
		{"POST", "/api/test-notify", nil, 403, ""},
	} {
		r := do(t, tc.method, srv.URL+tc.path, "", tc.hdr)
		if r.code != tc.code || !strings.Contains(r.body, tc.want) {
			t.Errorf("%s %s: %d %s, want %d with %s", tc.method, tc.path, r.code, r.body, tc.code, tc.want)
		}
	}
	f.daemon.mu.Lock()
	tested := f.daemon.tested
	f.daemon.testErr = errors.New("ntfy: HTTP 401")
	f.daemon.mu.Unlock()
	if !slices.Equal(tested, []string{"phone"}) {
		t.Errorf("tested %v, want [phone]", tested)
	}
	r := do(t, "POST", srv.URL+"/api/test-notify?notifier=mail", "", auth)
	if r.code != http.StatusBadGateway || !strings.Contains(r.body, `"result": "failed"`) || !strings.Contains(r.body, "HTTP 401") {
		t.Errorf("failed test notification: %d %s, want 502 with the error", r.code, r.body)
	}
}
