package notify

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

var updateServiceGolden = flag.Bool("update-services", false, "rewrite testdata/services golden files")

func svcItem() crier.Notification {
	return crier.Notification{
		Kind:       crier.KindItem,
		Feed:       "Go Blog",
		FeedURL:    "https://go.dev/blog/feed.atom",
		FeedLink:   "https://go.dev/blog",
		ItemID:     "g:tag:blog.golang.org,2013:blog.golang.org/go1.26",
		Title:      "Go 1.26 is released",
		Link:       "https://go.dev/blog/go1.26",
		Summary:    "Today the Go team is very happy to announce\nthe release of Go 1.26.",
		Published:  time.Date(2026, 2, 10, 17, 0, 0, 0, time.UTC),
		Categories: []string{"release", "go"},
		QueuedAt:   time.Date(2026, 2, 10, 17, 5, 0, 0, time.UTC),
	}
}

func svcSummary() crier.Notification {
	return crier.Notification{
		Kind:    crier.KindSummary,
		Feed:    "Hacker News",
		FeedURL: "https://news.ycombinator.com/rss",
		Count:   7,
		Items: []crier.Headline{
			{Title: "Show HN: crier", Link: "https://example.com/1"},
			{Title: "", Link: "https://example.com/2"},
			{Title: "Ask HN: feeds?", Link: "https://example.com/3"},
		},
		QueuedAt: time.Date(2026, 2, 10, 17, 5, 0, 0, time.UTC),
	}
}

// withDefault sets an option unless the test already did.
func withDefault(cfg crier.NotifierConfig, kv ...string) crier.NotifierConfig {
	for i := 0; i+1 < len(kv); i += 2 {
		if _, ok := cfg.Options[kv[i]]; !ok {
			cfg.Options[kv[i]] = kv[i+1]
		}
	}
	return cfg
}

func svcConfig(name, typ string, kv ...string) crier.NotifierConfig {
	cfg := crier.NotifierConfig{Name: name, Type: typ, Options: map[string]string{}, Lists: map[string][]string{}, Maps: map[string]map[string]string{}}
	for i := 0; i+1 < len(kv); i += 2 {
		cfg.Options[kv[i]] = kv[i+1]
	}
	return cfg
}

func TestRenderDefaults(t *testing.T) {
	t.Parallel()
	p := 1
	tests := []struct {
		name string
		n    crier.Notification
		want Rendered
	}{
		{"item", svcItem(), Rendered{"Go Blog", "Go 1.26 is released\nToday the Go team is very happy to announce the release of Go 1.26."}},
		{"item without title", func() crier.Notification { n := svcItem(); n.Title = ""; return n }(),
			Rendered{"Go Blog", "Today the Go team is very happy to announce the release of Go 1.26."}},
		{"item with only a link", crier.Notification{Kind: crier.KindItem, Feed: "F", Link: "https://x.test/a"}, Rendered{"F", "https://x.test/a"}},
		{"summary", svcSummary(), Rendered{"7 new headlines from Hacker News", "Show HN: crier\nhttps://example.com/2\nAsk HN: feeds?\nand 4 more"}},
		{"summary without count", crier.Notification{Kind: crier.KindSummary, Feed: "F", Items: []crier.Headline{{Title: "a"}}},
			Rendered{"1 new headline from F", "a"}},
		{"test", crier.Notification{Kind: crier.KindTest, Priority: &p}, Rendered{"crier test", "This is a test notification from crier."}},
		{"alert", crier.Notification{Kind: crier.KindAlert, Feed: "F", Title: "F is failing", Summary: "HTTP 500 since 3 h"},
			Rendered{"crier: F", "F is failing\nHTTP 500 since 3 h"}},
		{"hostile controls", crier.Notification{Kind: crier.KindItem, Feed: "F\u202e", Title: "a\x00b\u202ec\u2066d\xff"},
			Rendered{"F", "abcd\uFFFD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, err := newRenderer(svcConfig("n", "ntfy"))
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.render(tt.n)
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestRenderTemplates(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, title, message string
		want                 Rendered
		wantErr              bool
	}{
		{"both", "{{.Feed | upper}}: {{.Title}}", "{{.Categories | join \", \"}} {{.Published | date \"2006-01-02\"}}",
			Rendered{"GO BLOG: Go 1.26 is released", "release, go 2026-02-10"}, false},
		{"blank falls back", "{{if .Count}}{{.Count}}{{end}}", "  ",
			Rendered{"Go Blog", "Go 1.26 is released\nToday the Go team is very happy to announce the release of Go 1.26."}, false},
		{"missing field", "{{.Nope}}", "", Rendered{}, true},
		{"bad call", "", "{{truncate -1 .Priority}}", Rendered{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := svcConfig("tpl", "ntfy")
			cfg.TitleTemplate, cfg.MessageTemplate = tt.title, tt.message
			r, err := newRenderer(cfg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := r.render(svcItem())
			if tt.wantErr {
				if err == nil || !Classify(err).Permanent || !strings.Contains(err.Error(), "notifier tpl: template:") {
					t.Fatalf("err = %v, want a permanent template error", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func TestTruncateHelpers(t *testing.T) {
	t.Parallel()
	if got := truncateUTF16(strings.Repeat("😀", 10), 5); got != "😀😀…" || utf16Len(got) > 5 {
		t.Errorf("truncateUTF16 = %q", got)
	}
	if got := truncateBytes(strings.Repeat("é", 10), 7); got != "éé…" || len(got) > 7 {
		t.Errorf("truncateBytes = %q (%d bytes)", got, len(got))
	}
	if got := truncateBytes("short", 7); got != "short" {
		t.Errorf("truncateBytes = %q", got)
	}
	if got := slackEscapeCut("a<b&c", 12); got != "a&lt;b&amp;c" {
		t.Errorf("slackEscapeCut = %q", got)
	}
	if got := slackEscapeCut("<<<<", 10); got != "&lt;&lt;…" {
		t.Errorf("slackEscapeCut = %q", got)
	}
}

// faker is what every HTTP fake offers.
type faker interface {
	Fail(...servicefake.Fault)
	Rejections() []string
	Requests() int
}

// harness builds one service's notifier against its fake. check asserts
// what the last accepted message must look like for the notification sent.
type harness struct {
	name  string
	setup func(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(t *testing.T, n crier.Notification))
}

// httpHarnesses covers every HTTP service.
func httpHarnesses() []harness {
	return []harness{
		{"ntfy", setupNtfy},
		{"gotify", setupGotify},
		{"telegram", setupTelegram},
		{"discord", setupDiscord},
		{"slack", setupSlack},
		{"webhook", setupWebhook},
	}
}

// must unwraps a constructor's result in tests; a constructor that fails
// on a valid config is a bug worth a panic.
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// lastAccepted is the newest message a fake accepted; with none the
// test cannot check anything, so it stops.
func lastAccepted[M any](t *testing.T, msgs []M) M {
	t.Helper()
	if len(msgs) == 0 {
		t.Fatal("nothing accepted")
	}
	return msgs[len(msgs)-1]
}

// noBidi checks that no bidirectional override survived.
func noBidi(t *testing.T, where, s string) {
	t.Helper()
	if strings.ContainsAny(s, "\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069") || !utf8.ValidString(s) {
		t.Errorf("%s carries bidi controls or invalid UTF-8: %q", where, crier.Truncate(s, 80))
	}
}

func hostileNotifications() map[string]crier.Notification {
	mk := func(title, summary, link string) crier.Notification {
		n := svcItem()
		n.Title, n.Summary, n.Link = title, summary, link
		return n
	}
	long := strings.Repeat("A", 5000)
	emoji := strings.Repeat("😀", 5000)
	items := make([]crier.Headline, 400)
	for i := range items {
		items[i] = crier.Headline{Title: "<b>@everyone</b> & " + strings.Repeat("x", 40), Link: "https://example.com/?a=1&b=2"}
	}
	return map[string]crier.Notification{
		"mentions":   mk("@everyone look", "@here <@123456789012345678> <!channel> <!everyone>", "https://example.com/a"),
		"script":     mk("<script>alert(1)</script>", "<img src=x onerror=alert(1)> &amp; &lt;b&gt;", "https://example.com/?q=<script>&x=\"y\""),
		"markdown":   mk("*_~`bold`~_* [x](https://evil.test) | >quote", "# heading\n> quote\n||spoiler||", "https://example.com/md"),
		"rtl":        mk("invoice\u202efdp.exe", "\u2066isolated\u2069 \u202bembedded\u202c", "https://example.com/rtl"),
		"long":       mk(long, long+long, "https://example.com/"+strings.Repeat("p", 3000)),
		"emoji":      mk(emoji, emoji, "https://example.com/emoji"),
		"invalid":    mk("bad \xff\xfe bytes \xc3", "more \xed\xa0\x80 bad", "https://example.com/inv\xffalid"),
		"no title":   mk("", "<script>x</script> "+long, ""),
		"everything": mk("@everyone <script> *_~` \u202e "+long+"\xff", emoji+"<>&\"'"+long, "https://example.com/?a=<>&b=|"),
		"summary": {Kind: crier.KindSummary, Feed: "<script>@everyone</script>", Count: 1000, Items: items,
			QueuedAt: time.Now()},
	}
}

// TestServicesHostileHeadline sends hostile text through every service:
// each must accept it (no refusal by the fake), escaped and within limits.
func TestServicesHostileHeadline(t *testing.T) {
	t.Parallel()
	for _, h := range httpHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			for name, n := range hostileNotifications() {
				t.Run(name, func(t *testing.T) {
					nt, fake, check := h.setup(t, svcConfig("hostile", h.name))
					if err := nt.Send(context.Background(), n); err != nil {
						t.Fatalf("send: %v", err)
					}
					if r := fake.Rejections(); len(r) > 0 {
						t.Fatalf("fake refused: %v", r)
					}
					check(t, n)
				})
			}
		})
	}
}

// TestServicesErrorClasses checks how every service's error replies are
// classified.
func TestServicesErrorClasses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name      string
		fault     servicefake.Fault
		permanent bool
		retry     time.Duration
	}{
		{"400", servicefake.Fault{Status: 400}, true, 0},
		{"401", servicefake.Fault{Status: 401}, true, 0},
		{"404", servicefake.Fault{Status: 404}, true, 0},
		{"429", servicefake.Fault{Status: 429, RetryAfter: 7 * time.Second}, false, 7 * time.Second},
		{"500", servicefake.Fault{Status: 500}, false, 0},
		{"503 with retry-after", servicefake.Fault{Status: 503, RetryAfter: 30 * time.Second}, false, 30 * time.Second},
	}
	for _, h := range httpHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					nt, fake, _ := h.setup(t, svcConfig("err", h.name))
					fake.Fail(tt.fault)
					err := nt.Send(context.Background(), svcItem())
					if err == nil {
						t.Fatal("send succeeded, want an error")
					}
					c := Classify(err)
					if c.Permanent != tt.permanent {
						t.Errorf("permanent = %v, want %v (%v)", c.Permanent, tt.permanent, err)
					}
					if c.RetryAfter != tt.retry {
						t.Errorf("retry after = %v, want %v (%v)", c.RetryAfter, tt.retry, err)
					}
					if !strings.Contains(err.Error(), "notifier err") {
						t.Errorf("error does not name the notifier: %v", err)
					}
					// The very next send goes through.
					if err := nt.Send(context.Background(), svcItem()); err != nil {
						t.Errorf("send after the fault: %v", err)
					}
				})
			}
		})
	}
}

// TestServicesTemplateError: a template that fails to execute is a
// permanent error and nothing is sent.
func TestServicesTemplateError(t *testing.T) {
	t.Parallel()
	for _, h := range httpHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			cfg := svcConfig("tpl", h.name)
			cfg.MessageTemplate = "{{.Nope}}"
			nt, fake, _ := h.setup(t, cfg)
			err := nt.Send(context.Background(), svcItem())
			if err == nil || !Classify(err).Permanent || !strings.Contains(err.Error(), "notifier tpl: template:") {
				t.Fatalf("err = %v, want a permanent template error", err)
			}
			if n := fake.Requests(); n != 0 {
				t.Errorf("%d requests reached the service", n)
			}
		})
	}
}

// TestServicesTimeout: a service that does not answer fails the send
// temporarily within the configured timeout.
func TestServicesTimeout(t *testing.T) {
	t.Parallel()
	for _, h := range httpHarnesses() {
		t.Run(h.name, func(t *testing.T) {
			t.Parallel()
			cfg := svcConfig("slow", h.name, "timeout", "200ms")
			nt, fake, _ := h.setup(t, cfg)
			fake.Fail(servicefake.Fault{Status: 200, Delay: 5 * time.Second})
			start := time.Now()
			err := nt.Send(context.Background(), svcItem())
			if err == nil || Classify(err).Permanent {
				t.Fatalf("err = %v, want a temporary error", err)
			}
			if d := time.Since(start); d > 2*time.Second {
				t.Errorf("send took %v with a 200ms timeout", d)
			}
			if !errors.Is(err, context.DeadlineExceeded) && !strings.Contains(err.Error(), "deadline") && !strings.Contains(err.Error(), "Timeout") {
				t.Errorf("error does not say it timed out: %v", err)
			}
		})
	}
}

// TestServicesGolden pins every service's request (method, path, the
// headers that matter, body) for one item with a picture: the wire format
// is a contract.
func TestServicesGolden(t *testing.T) {
	t.Parallel()
	type wire struct {
		name  string
		build func(url string) (Notifier, error)
	}
	recv := servicefake.NewWebhook()
	defer recv.Close()
	recv.Status = http.StatusOK
	cases := []wire{
		{"ntfy", func(u string) (Notifier, error) {
			cfg := svcConfig("golden", "ntfy", "url", u, "topic", "crier-news", "token", servicefake.NtfyToken)
			cfg.Lists["tags"] = []string{"newspaper"}
			cfg.Priority = 1
			return NewNtfy(cfg, recv.Client())
		}},
		{"gotify", func(u string) (Notifier, error) {
			return NewGotify(svcConfig("golden", "gotify", "url", u+"/gotify/", "token", servicefake.GotifyToken), recv.Client())
		}},
		{"telegram", func(u string) (Notifier, error) {
			return NewTelegram(svcConfig("golden", "telegram", "api_url", u, "token", servicefake.TelegramToken, "chat_id", servicefake.TelegramChatID), recv.Client())
		}},
		{"telegram-text", func(u string) (Notifier, error) {
			return NewTelegram(svcConfig("golden", "telegram", "api_url", u, "token", servicefake.TelegramToken, "chat_id", servicefake.TelegramChatID,
				"images", "false"), recv.Client())
		}},
		{"discord", func(u string) (Notifier, error) {
			return NewDiscord(svcConfig("golden", "discord", "webhook_url", u+"/api/webhooks/1/tok"), recv.Client())
		}},
		{"slack", func(u string) (Notifier, error) {
			return NewSlack(svcConfig("golden", "slack", "webhook_url", u+"/services/T1/B1/x", "blocks", "true"), recv.Client())
		}},
		{"webhook", func(u string) (Notifier, error) {
			cfg := svcConfig("golden", "webhook", "url", u+"/hook")
			cfg.Maps["headers"] = map[string]string{"X-Token": "s3cret"}
			return NewWebhook(cfg, recv.Client())
		}},
		{"webhook-template", func(u string) (Notifier, error) {
			cfg := svcConfig("golden", "webhook", "url", u+"/hook", "method", "PUT", "template", "{{.Feed}}: {{.Title}} <{{.Link}}>\n")
			return NewWebhook(cfg, recv.Client())
		}},
	}
	for i, c := range cases {
		nt, err := c.build(recv.URL())
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		n := svcItem()
		n.Image = "https://go.dev/blog/go1.26/cover.png"
		if err := nt.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		got := recv.Received()
		if len(got) != i+1 {
			t.Fatalf("%s: %d requests recorded", c.name, len(got))
		}
		compareGolden(t, c.name, wireDump(got[i]))
	}
}

func wireDump(r servicefake.Request) string {
	var b strings.Builder
	b.WriteString(r.Method + " " + r.Path + "\n")
	for _, k := range []string{"Content-Type", "Authorization", "X-Gotify-Key", "X-Token"} {
		if v := r.Header.Get(k); v != "" {
			b.WriteString(k + ": " + v + "\n")
		}
	}
	b.WriteString("\n")
	var pretty strings.Builder
	var v any
	if json.Unmarshal(r.Body, &v) == nil {
		enc := json.NewEncoder(&pretty)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		_ = enc.Encode(v)
	} else {
		pretty.Write(r.Body)
	}
	b.WriteString(pretty.String())
	return b.String()
}

func compareGolden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", "services", name+".golden")
	if *updateServiceGolden {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./notify -run Golden -update-services)", err)
	}
	if got != string(want) {
		t.Errorf("%s: wire format changed\n--- got\n%s\n--- want\n%s", name, got, want)
	}
}
