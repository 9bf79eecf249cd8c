package main

import (
	"bytes"
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
)

// testFeed is a feed whose items and health the test controls.
type testFeed struct {
	mu     sync.Mutex
	format string // rss or atom
	prefix string // of titles; the format by default
	ids    string // part of every GUID and link: changing it rotates them all
	items  []string
	status int    // 0 = 200
	hub    string // a WebSub hub the atom feed names, with itself as self
	srv    *httptest.Server
}

func newTestFeed(t *testing.T, format string, items int) *testFeed {
	f := &testFeed{format: format, prefix: format}
	for range items {
		f.add()
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.srv.Close)
	return f
}

// add publishes one item and returns its title.
func (f *testFeed) add() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	title := fmt.Sprintf("%s story %d & more", f.prefix, len(f.items)+1)
	f.items = append(f.items, title)
	return title
}

// retitle changes the title of the i-th item (0 = the first published),
// keeping its GUID and link: an edit, not a new story.
func (f *testFeed) retitle(i int, title string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items[i] = title
}

// rotate gives every item a new GUID and link, as some CMSs do on a redeploy.
func (f *testFeed) rotate(ids string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.ids = ids
}

func (f *testFeed) setStatus(code int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.status = code
}

func (f *testFeed) serve(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.status != 0 {
		http.Error(w, "broken", f.status)
		return
	}
	var b bytes.Buffer
	base := "http://" + r.Host
	if f.format == "atom" {
		b.WriteString(`<?xml version="1.0" encoding="utf-8"?><feed xmlns="http://www.w3.org/2005/Atom"><title>Atom Test</title><link href="` + base + `/"/><id>urn:t</id><updated>2026-01-01T00:00:00Z</updated>`)
		if f.hub != "" {
			fmt.Fprintf(&b, `<link rel="hub" href="%s"/><link rel="self" href="%s"/>`, html.EscapeString(f.hub), html.EscapeString(base+r.URL.RequestURI()))
		}
		for i := len(f.items) - 1; i >= 0; i-- {
			fmt.Fprintf(&b, `<entry><title>%s</title><link href="%s/a/%d"/><id>urn:a:%d</id><updated>2026-01-0%dT00:00:00Z</updated><summary>Summary &lt;b&gt;%d&lt;/b&gt;</summary></entry>`,
				html.EscapeString(f.items[i]), base, i, i, 1+i%9, i)
		}
		b.WriteString(`</feed>`)
		w.Header().Set("Content-Type", "application/atom+xml")
	} else {
		b.WriteString(`<?xml version="1.0"?><rss version="2.0"><channel><title>RSS Test</title><link>` + base + `/</link>`)
		for i := len(f.items) - 1; i >= 0; i-- {
			fmt.Fprintf(&b, `<item><title>%s</title><link>%s/r%s/%d?utm_source=x</link><guid>rss%s-%d</guid><description>&lt;p&gt;Body %d&lt;/p&gt;</description></item>`,
				html.EscapeString(f.items[i]), base, f.ids, i, f.ids, i, i)
		}
		b.WriteString(`</channel></rss>`)
		w.Header().Set("Content-Type", "application/rss+xml")
	}
	w.Write(b.Bytes())
}

type harness struct {
	t      *testing.T
	dir    string
	config string
	env    map[string]string
}

func newHarness(t *testing.T, push *pushoverfake.Server, feeds map[string]*testFeed) *harness {
	t.Helper()
	dir := t.TempDir()
	userFile := filepath.Join(dir, "pushover-user")
	if err := os.WriteFile(userFile, []byte(pushoverfake.User+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	var fb strings.Builder
	for name, f := range feeds {
		fmt.Fprintf(&fb, "  - name: %s\n    url: %s/feed\n", name, f.srv.URL)
	}
	cfg := fmt.Sprintf(`state_dir: %s
defaults:
  schedule: "@every 1m"
  timeout: 5s
notifiers:
  - name: phone
    type: pushover
    token: ${PUSHOVER_TOKEN}
    user_file: %s
    api_url: %s
feeds:
%s`, filepath.Join(dir, "state"), userFile, push.Endpoint(), fb.String())
	path := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(path, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	return &harness{t: t, dir: dir, config: path, env: map[string]string{"PUSHOVER_TOKEN": pushoverfake.Token}}
}

// crier runs one command in-process and returns its exit code and output.
func (h *harness) crier(args ...string) (int, string, string) {
	h.t.Helper()
	var stdout, stderr bytes.Buffer
	env := &cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(k string) (string, bool) {
		v, ok := h.env[k]
		return v, ok
	}}
	args = append(args[:1:1], append([]string{"--config", h.config}, args[1:]...)...)
	code := realMain(env, args)
	return code, stdout.String(), stderr.String()
}

func titles(msgs []pushoverfake.Message) []string {
	var out []string
	for _, m := range msgs {
		out = append(out, m.Title+": "+strings.SplitN(m.Message, "\n", 2)[0])
	}
	return out
}

func TestEndToEnd(t *testing.T) {
	push := pushoverfake.New()
	defer push.Close()
	rss, atom, flaky := newTestFeed(t, "rss", 30), newTestFeed(t, "atom", 12), newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": rss, "Journal": atom, "Flaky": flaky})

	// The first run seeds: 45 old items, no push.
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed run: exit %d\n%s", code, errOut)
	}
	if got := push.Messages(); len(got) != 0 {
		t.Fatalf("seed run pushed %d messages, want 0: %q", len(got), titles(got))
	}

	// Two new items per feed: exactly those six pushes.
	want := map[string]bool{}
	for name, f := range map[string]*testFeed{"Wire": rss, "Journal": atom, "Flaky": flaky} {
		for range 2 {
			want[name+": "+f.add()] = true
		}
	}
	code, _, errOut := h.crier("run", "--once")
	if code != 0 {
		t.Fatalf("second run: exit %d\n%s", code, errOut)
	}
	if !strings.Contains(errOut, "polled 3 feeds (0 failed), queued 6, delivered 6, pending 0") {
		t.Errorf("summary line missing from stderr:\n%s", errOut)
	}
	msgs := push.Messages()
	if len(msgs) != 6 {
		t.Fatalf("got %d pushes, want 6: %q", len(msgs), titles(msgs))
	}
	for _, m := range msgs {
		key := m.Title + ": " + strings.SplitN(m.Message, "\n", 2)[0]
		if !want[key] {
			t.Errorf("unexpected push %q", key)
		}
		delete(want, key)
		if !strings.HasPrefix(m.URL, "http://127.0.0.1:") || strings.Contains(m.URL, "utm_") && m.Title == "Journal" {
			t.Errorf("push %q has url %q", key, m.URL)
		}
		if strings.Contains(m.Message, "<") {
			t.Errorf("push %q carries HTML: %q", key, m.Message)
		}
	}
	if len(want) != 0 {
		t.Errorf("never pushed: %v", want)
	}

	// Nothing changed: nothing pushed.
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("unchanged run: exit %d\n%s", code, errOut)
	}
	if n := len(push.Messages()); n != 6 {
		t.Fatalf("unchanged run pushed %d more", n-6)
	}

	// A feed that breaks does not stop the others; the run reports it.
	flaky.setStatus(http.StatusInternalServerError)
	fresh := rss.add()
	code, _, errOut = h.crier("run", "--once")
	if code != 1 || !strings.Contains(errOut, "polled 3 feeds (1 failed), queued 1, delivered 1, pending 0") {
		t.Fatalf("run with a broken feed: exit %d, stderr:\n%s", code, errOut)
	}
	msgs = push.Messages()
	if len(msgs) != 7 || msgs[6].Title != "Wire" || !strings.HasPrefix(msgs[6].Message, fresh) {
		t.Fatalf("after the broken run: %q", titles(msgs))
	}
}

// TestRestartDeliversQueued: the notifier fails while items are queued, the
// process ends, the notifier recovers, the next run delivers each item once.
func TestRestartDeliversQueued(t *testing.T) {
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "atom", 5)
	h := newHarness(t, push, map[string]*testFeed{"News": feed})
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	a, b := feed.add(), feed.add()
	push.SetFailing(http.StatusInternalServerError)
	code, _, errOut := h.crier("run", "--once")
	if code != 1 || !strings.Contains(errOut, "queued 2, delivered 0, pending 2") {
		t.Fatalf("failing notifier: exit %d\n%s", code, errOut)
	}
	push.SetFailing(0)
	// Nothing new in the feed: the next run only drains the outbox.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, _, errOut = h.crier("run", "--once")
		if code == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(500 * time.Millisecond) // the outbox honours its backoff
	}
	if code != 0 {
		t.Fatalf("after recovery: exit %d\n%s", code, errOut)
	}
	msgs := push.Messages()
	if len(msgs) != 2 || !strings.HasPrefix(msgs[0].Message, a) || !strings.HasPrefix(msgs[1].Message, b) {
		t.Fatalf("after recovery got %q, want %q then %q once each", titles(msgs), a, b)
	}
}

func TestDiscover(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head><title>Site</title>
<link rel="alternate" type="application/rss+xml" title="All news" href="/rss.xml">
<link rel="alternate" type="application/atom+xml" title="Sport" href="https://sport.example/atom">
</head><body>hello</body></html>`)
	}))
	defer page.Close()
	var stdout, stderr bytes.Buffer
	code := realMain(&cliEnv{stdout: &stdout, stderr: &stderr, getenv: func(string) (string, bool) { return "", false }}, []string{"discover", page.URL})
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	want := fmt.Sprintf("  - name: \"All news\"\n    url: %s/rss.xml\n  - name: \"Sport\"\n    url: https://sport.example/atom\n", page.URL)
	if !strings.Contains(stdout.String(), want) {
		t.Errorf("discover printed:\n%s\nwant it to contain:\n%s", stdout.String(), want)
	}
}

// TestDiscoverNeverExpandsVariables: what discover prints is pasted into a
// config, so a page's ${VAR} must read back as those characters.
func TestDiscoverNeverExpandsVariables(t *testing.T) {
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, `<!doctype html><html><head>
<link rel="alternate" type="application/rss+xml" title="${CRIER_SECRET}" href="/rss.xml?k=${CRIER_SECRET}">
</head></html>`)
	}))
	defer page.Close()
	env := map[string]string{"CRIER_SECRET": "hunter2"}
	code, out, errOut := runCLI(env, "discover", page.URL)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	src := "state_dir: " + t.TempDir() + "\nnotifiers: [{type: console}]\nfeeds:\n" + out
	cfg, err := crier.Load(strings.NewReader(src), "", crier.LoadOptions{Env: func(k string) (string, bool) { v, ok := env[k]; return v, ok }})
	if err != nil {
		t.Fatalf("%v\n%s", err, src)
	}
	if f := cfg.Feeds[0]; f.Name != "${CRIER_SECRET}" || f.URL != page.URL+"/rss.xml?k=${CRIER_SECRET}" {
		t.Errorf("pasted feed reads back as %q %q", f.Name, f.URL)
	}
}
