package web

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"
)

// Small DOM helpers over golang.org/x/net/html.

func findAll(n *html.Node, match func(*html.Node) bool) []*html.Node {
	var out []*html.Node
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && match(n) {
			out = append(out, n)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

func hasClass(n *html.Node, class string) bool {
	return strings.Contains(" "+attr(n, "class")+" ", " "+class+" ")
}

func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return strings.TrimSpace(b.String())
}

// row finds the single element of class class whose attribute key is val:
// a feed's card, a story, a queue.
func row(t *testing.T, doc *html.Node, class, key, val string) *html.Node {
	t.Helper()
	rows := findAll(doc, func(n *html.Node) bool { return hasClass(n, class) && attr(n, key) == val })
	if len(rows) != 1 {
		t.Fatalf("%d elements of class %q with %s=%q, want 1", len(rows), class, key, val)
	}
	return rows[0]
}

// cell is the text of the single element of class class inside card.
func cell(t *testing.T, card *html.Node, class string) string {
	t.Helper()
	cells := findAll(card, func(n *html.Node) bool { return hasClass(n, class) })
	if len(cells) != 1 {
		t.Fatalf("element %v: %d children of class %q, want 1", card.Attr, len(cells), class)
	}
	return text(cells[0])
}

// chartValues is the data-values of the single chart of class class in card.
func chartValues(t *testing.T, card *html.Node, class string) []string {
	t.Helper()
	charts := findAll(card, func(n *html.Node) bool { return n.Data == "svg" && hasClass(n, class) })
	if len(charts) != 1 {
		t.Fatalf("element %v: %d charts of class %q, want 1", card.Attr, len(charts), class)
	}
	return strings.Split(attr(charts[0], "data-values"), ",")
}

// checkStatusPage asserts what a user reads on the page built from f.
func checkStatusPage(t *testing.T, doc *html.Node, f *fixture) {
	t.Helper()
	for _, tc := range []struct{ feed, status, text, newToday string }{
		{"good", "ok", "ok", "4"},
		{"broken", "error", "HTTP 500: server on fire", "0"},
		{"slow", "backoff", "backing off until " + clock(f.now.Add(2*time.Hour)) + ": HTTP 429", "0"},
		{"gone", "gone", "gone (410)", "0"},
		{"moved", "moved", "moved to https://new.example/feed", "0"},
		{"fresh", "pending", "not polled yet", "0"},
		{"<img src=x onerror=alert(1)>", "error", hostileTitle, "0"},
	} {
		tr := row(t, doc, "feed", "data-feed", tc.feed)
		if got := attr(tr, "data-status"); got != tc.status {
			t.Errorf("feed %s: data-status %q, want %q", tc.feed, got, tc.status)
		}
		if got := cell(t, tr, "status"); got != tc.text {
			t.Errorf("feed %s: status %q, want %q", tc.feed, got, tc.text)
		}
		if got := cell(t, tr, "new-today"); got != tc.newToday {
			t.Errorf("feed %s: new today %q, want %q", tc.feed, got, tc.newToday)
		}
		if got := cell(t, tr, "name"); !strings.HasPrefix(got, tc.feed) {
			t.Errorf("feed %s: name cell %q", tc.feed, got)
		}
	}
	if got := cell(t, row(t, doc, "feed", "data-feed", "good"), "next-poll"); got != "in 7m" {
		t.Errorf("good: next poll %q, want \"in 7m\"", got)
	}
	if got := cell(t, row(t, doc, "feed", "data-feed", "gone"), "next-poll"); got != "never" {
		t.Errorf("gone: next poll %q, want never", got)
	}

	// One story per delivered headline, naming every notifier it reached.
	recent := findAll(doc, func(n *html.Node) bool { return hasClass(n, "story") })
	if len(recent) != 1 || cell(t, recent[0], "title") != "Delivered headline" || cell(t, recent[0], "feed-name") != "good" {
		t.Fatalf("recent deliveries: %d stories, want the one", len(recent))
	}
	var reached []string
	for _, n := range findAll(recent[0], func(n *html.Node) bool { return hasClass(n, "notifier") }) {
		reached = append(reached, text(n))
	}
	if strings.Join(reached, " ") != "mail phone" {
		t.Errorf("story reached %q, want mail and phone", reached)
	}

	// Charts: 14 days each, today last.
	good := row(t, doc, "feed", "data-feed", "good")
	if v := chartValues(t, good, "chart-new"); len(v) != 14 || v[13] != "2" {
		t.Errorf("good: new-items chart %v, want 14 days ending in 2", v)
	}
	for _, name := range []string{"phone", "mail"} {
		if v := chartValues(t, row(t, doc, "notifier-card", "data-notifier", name), "chart-sent"); len(v) != 14 || v[13] != "1" {
			t.Errorf("%s: sent chart %v, want 14 days ending in 1", name, v)
		}
	}
	polls := row(t, doc, "chart-card", "id", "polls-chart")
	if v := chartValues(t, polls, "chart-polls"); len(v) != 14 || v[13] != "1+1" {
		t.Errorf("polls chart %v, want 14 days ending in 1 ok + 1 failed", v)
	}
	if v := chartValues(t, row(t, doc, "chart-card", "id", "duration-chart"), "chart-duration"); len(v) != 14 || v[13] != "3" {
		t.Errorf("poll duration chart %v, want 14 days ending in a mean of 3 s", v)
	}

	q := row(t, doc, "queue", "data-notifier", "phone")
	if got := cell(t, q, "depth"); got != "1" {
		t.Errorf("outbox depth %q, want 1", got)
	}
	if got := cell(t, q, "oldest"); got != "1h00m ago" {
		t.Errorf("outbox oldest %q, want 1h00m ago", got)
	}

	dead := row(t, doc, "dead", "data-id", strconv.FormatUint(f.deadID, 10))
	for class, want := range map[string]string{
		"title": hostileTitle, "reason": "pushover: HTTP 400: invalid user key", "notifier": "phone", "feed-name": "good",
	} {
		if got := cell(t, dead, class); got != want {
			t.Errorf("dead letter %s %q, want %q", class, got, want)
		}
	}

	// Hostile text stays text: no element came from a feed.
	for _, tag := range []string{"script", "img", "b", "iframe"} {
		if n := findAll(doc, func(n *html.Node) bool { return n.Data == tag }); len(n) > 0 {
			t.Errorf("page has %d <%s> elements; feed text was not escaped", len(n), tag)
		}
	}
	for _, a := range findAll(doc, func(n *html.Node) bool { return n.Data == "a" }) {
		if href := attr(a, "href"); strings.HasPrefix(strings.ToLower(href), "javascript:") {
			t.Errorf("link to %q survived", href)
		}
	}
	// The document's title, not the charts' tooltips.
	titles := findAll(doc, func(n *html.Node) bool { return n.Data == "title" && n.Parent.Data == "head" })
	if len(titles) != 1 || text(titles[0]) != "crier (4 failing)" {
		t.Errorf("document title %q, want \"crier (4 failing)\"", text(titles[0]))
	}
}

func TestStatusPage(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerRemote)
	r := do(t, "GET", srv.URL+"/", "", nil)
	if r.code != 200 || r.ct != "text/html; charset=utf-8" {
		t.Fatalf("GET /: %d %s", r.code, r.ct)
	}
	if !strings.Contains(r.body, `name="viewport"`) {
		t.Error("no viewport meta: unreadable on a phone")
	}
	doc, err := html.Parse(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	checkStatusPage(t, doc, f)
}

func TestStatusPageEmpty(t *testing.T) {
	t.Parallel()
	srv := serve(t, NewHandler(Options{Store: openStore(t, nil), Daemon: &fakeDaemon{healthy: false, reason: "dispatcher silent for 5m0s"}}), listenerRemote)
	r := do(t, "GET", srv.URL+"/", "", nil)
	doc, err := html.Parse(strings.NewReader(r.body))
	if r.code != 200 || err != nil {
		t.Fatalf("GET /: %d %v", r.code, err)
	}
	health := findAll(doc, func(n *html.Node) bool { return attr(n, "id") == "health" })
	if len(health) != 1 || attr(health[0], "data-healthy") != "false" || !strings.Contains(text(health[0]), "dispatcher silent") {
		t.Errorf("health banner missing or wrong")
	}
	if n := len(findAll(doc, func(n *html.Node) bool { return hasClass(n, "empty") })); n != 4 {
		t.Errorf("%d empty-list notes, want 4 (feeds, recent, outbox, dead letters)", n)
	}
}

// TestStatusPageInChromium renders the page in a real headless browser:
// what a user sees, after the browser's own parsing, with scripts enabled.
func TestStatusPageInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)

	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+t.TempDir(), "--dump-dom", srv.URL+"/")
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("chromium: %v\n%s", err, stderr.String())
	}
	doc, err := html.Parse(strings.NewReader(string(out)))
	if err != nil {
		t.Fatal(err)
	}
	checkStatusPage(t, doc, f)
}
