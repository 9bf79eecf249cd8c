package notify

import (
	"bytes"
	"context"
	"log/slog"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
)

// logBuffer collects log output written from several goroutines.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *logBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *logBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func pushoverConfig(api string, kv ...string) crier.NotifierConfig {
	cfg := crier.NotifierConfig{Name: "phone", Type: "pushover", Options: map[string]string{
		"token": pushoverfake.Token, "user": pushoverfake.User, "api_url": api,
	}}
	for i := 0; i < len(kv); i += 2 {
		cfg.Options[kv[i]] = kv[i+1]
	}
	return cfg
}

func newTestPushover(t *testing.T, fake *pushoverfake.Server, log *slog.Logger, kv ...string) *Pushover {
	t.Helper()
	p, err := NewPushover(pushoverConfig(fake.Endpoint(), kv...), fake.Client(), log)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func intPtrOf(i int) *int { return &i }

func sampleItem() crier.Notification {
	return crier.Notification{
		Kind:      crier.KindItem,
		Feed:      "Go Blog",
		FeedURL:   "https://go.dev/blog/feed.atom",
		ItemID:    "g:tag:go.dev,2024:1",
		Title:     "Go 1.26 is released",
		Link:      "https://go.dev/blog/go1.26",
		Summary:   "Today the Go team is happy\nto release Go 1.26.",
		Published: time.Date(2026, 2, 10, 17, 0, 0, 0, time.UTC),
		QueuedAt:  time.Date(2026, 2, 10, 17, 5, 0, 0, time.UTC),
	}
}

func TestPushoverFields(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	p := newTestPushover(t, fake, nil, "sound", "cosmic", "device", "pixel")
	summary := crier.Notification{
		Kind: crier.KindSummary, Feed: "HN", FeedLink: "https://news.ycombinator.com/", Count: 3,
		Title: "3 new headlines from HN",
		Items: []crier.Headline{{Title: "One", Link: "https://a/1"}, {Title: "Two"}, {Title: "", Link: "https://a/3"}},
	}
	tests := []struct {
		name string
		n    crier.Notification
		want pushoverfake.Message
	}{
		{"item", sampleItem(), pushoverfake.Message{
			Title: "Go Blog", Message: "Go 1.26 is released\nToday the Go team is happy to release Go 1.26.",
			URL: "https://go.dev/blog/go1.26", URLTitle: "Open story",
			Timestamp: sampleItem().Published.Unix(), Sound: "cosmic", Device: "pixel"}},
		{"untitled item", crier.Notification{Kind: crier.KindItem, Feed: "F", Link: "https://x/y"}, pushoverfake.Message{
			Title: "F", Message: "https://x/y", URL: "https://x/y", URLTitle: "Open story", Sound: "cosmic", Device: "pixel"}},
		{"title from summary", crier.Notification{Kind: crier.KindItem, Feed: "F", Summary: "Only a body here"}, pushoverfake.Message{
			Title: "F", Message: "Only a body here", Sound: "cosmic", Device: "pixel"}},
		{"summary", summary, pushoverfake.Message{
			Title: "3 new headlines from HN", Message: "One\nTwo\nhttps://a/3",
			URL: "https://news.ycombinator.com/", URLTitle: "3 new headlines from HN", Sound: "cosmic", Device: "pixel"}},
		{"test", crier.Notification{Kind: crier.KindTest, Title: "Test notification from crier"}, pushoverfake.Message{
			Title: "crier test", Message: "Test notification from crier", Sound: "cosmic", Device: "pixel"}},
	}
	for i, tc := range tests {
		if err := p.Send(context.Background(), tc.n); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		got := fake.Messages()[i]
		tc.want.Token, tc.want.User = pushoverfake.Token, pushoverfake.User
		got.Request, got.Received = "", time.Time{}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tc.name, got, tc.want)
		}
	}
}

func TestPushoverTruncatesHostileText(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	p := newTestPushover(t, fake, nil)
	hostile := strings.Repeat("Ünïcødé 🎉\x00\x1b[31m \xff", 500) // 5000+ chars, controls, invalid UTF-8
	n := crier.Notification{Kind: crier.KindItem, Feed: hostile, Title: hostile, Summary: hostile,
		Link: "https://example.com/?q=" + hostile}
	if err := p.Send(context.Background(), n); err != nil {
		t.Fatalf("hostile text must still be pushed: %v", err)
	}
	m := fake.Messages()[0]
	for _, f := range []struct {
		name, v string
		max     int
	}{{"title", m.Title, 250}, {"message", m.Message, 1024}, {"url", m.URL, 512}, {"url_title", m.URLTitle, 100}} {
		if n := utf8.RuneCountInString(f.v); n == 0 || n > f.max || !utf8.ValidString(f.v) || strings.ContainsRune(f.v, 0) {
			t.Errorf("%s: %d runes (max %d), valid=%v", f.name, n, f.max, utf8.ValidString(f.v))
		}
	}
	if !strings.HasSuffix(m.Message, "…") {
		t.Errorf("a cut message should say so: ...%q", m.Message[len(m.Message)-20:])
	}
}

func TestPushoverPriority(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	cfg := pushoverConfig(fake.Endpoint(), "retry", "45", "expire", "2h")
	cfg.Priority = -1
	p, err := NewPushover(cfg, fake.Client(), nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		over       *int
		want       int
		retry, exp int
	}{{nil, -1, 0, 0}, {intPtrOf(1), 1, 0, 0}, {intPtrOf(0), 0, 0, 0}, {intPtrOf(2), 2, 45, 7200}, {intPtrOf(7), 2, 45, 7200}}
	for i, tc := range tests {
		n := sampleItem()
		n.Priority = tc.over
		if err := p.Send(context.Background(), n); err != nil {
			t.Fatalf("#%d: %v", i, err)
		}
		m := fake.Messages()[i]
		if m.Priority != tc.want || m.Retry != tc.retry || m.Expire != tc.exp {
			t.Errorf("#%d: priority %d retry %d expire %d, want %d %d %d", i, m.Priority, m.Retry, m.Expire, tc.want, tc.retry, tc.exp)
		}
	}
}

func TestPushoverErrors(t *testing.T) {
	t.Parallel()
	reset := time.Now().Add(3 * time.Hour).Truncate(time.Second)
	tests := []struct {
		name      string
		setup     func(*pushoverfake.Server)
		token     string
		permanent bool
		parked    bool
	}{
		{"bad token is permanent", nil, strings.Repeat("x", 30), true, false},
		{"400 is permanent", func(s *pushoverfake.Server) { s.FailNext(1, 400) }, "", true, false},
		{"500 is temporary", func(s *pushoverfake.Server) { s.FailNext(1, 500) }, "", false, false},
		{"503 is temporary", func(s *pushoverfake.Server) { s.SetFailing(503) }, "", false, false},
		{"429 parks until reset", func(s *pushoverfake.Server) { s.SetRemaining(0, reset) }, "", false, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			fake := pushoverfake.New()
			defer fake.Close()
			if tc.setup != nil {
				tc.setup(fake)
			}
			kv := []string{}
			if tc.token != "" {
				kv = append(kv, "token", tc.token)
			}
			p := newTestPushover(t, fake, nil, kv...)
			err := p.Send(context.Background(), sampleItem())
			if err == nil {
				t.Fatal("Send succeeded")
			}
			c := Classify(err)
			if c.Permanent != tc.permanent {
				t.Errorf("permanent = %v, want %v (%v)", c.Permanent, tc.permanent, err)
			}
			if tc.parked != !c.ParkUntil.IsZero() {
				t.Errorf("parked until %v, want parked=%v (%v)", c.ParkUntil, tc.parked, err)
			}
			if tc.parked && !c.ParkUntil.Equal(reset) {
				t.Errorf("parked until %v, want the quota reset %v", c.ParkUntil, reset)
			}
			if len(fake.Messages()) != 0 {
				t.Errorf("fake accepted %d messages", len(fake.Messages()))
			}
		})
	}
}

func TestPushoverQuota(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	var logs logBuffer
	p := newTestPushover(t, fake, slog.New(slog.NewTextHandler(&logs, nil)))
	if _, _, _, known := p.Quota(); known {
		t.Fatal("quota known before any send")
	}
	reset := time.Now().Add(24 * time.Hour).Truncate(time.Second)
	fake.SetLimit(100)
	fake.SetRemaining(12, reset)
	for i := 0; i < 12; i++ {
		if err := p.Send(context.Background(), sampleItem()); err != nil {
			t.Fatalf("send %d: %v", i, err)
		}
	}
	limit, remaining, gotReset, known := p.Quota()
	if !known || limit != 100 || remaining != 0 || !gotReset.Equal(reset) {
		t.Fatalf("Quota() = %d %d %v %v", limit, remaining, gotReset, known)
	}
	// Exhausted: the next sends park without spending a request.
	before := fake.Requests()
	for i := 0; i < 3; i++ {
		err := p.Send(context.Background(), sampleItem())
		if c := Classify(err); !c.ParkUntil.Equal(reset) {
			t.Fatalf("send over quota: %v (park until %v)", err, c.ParkUntil)
		}
	}
	if fake.Requests() != before {
		t.Errorf("parked sends still hit the API (%d requests)", fake.Requests()-before)
	}
	out := logs.String()
	if n := strings.Count(out, "quota running low"); n != 1 {
		t.Errorf("low-quota warning logged %d times, want once:\n%s", n, out)
	}
	if n := strings.Count(out, "quota used up"); n != 1 {
		t.Errorf("exhausted warning logged %d times, want once:\n%s", n, out)
	}
	if !strings.Contains(out, "notifier=phone") {
		t.Errorf("warnings do not name the notifier:\n%s", out)
	}
}

func TestPushoverAcceptedWithoutLimitHeaders(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	fake.OmitLimitHeaders(true)
	p := newTestPushover(t, fake, nil)
	if err := p.Send(context.Background(), sampleItem()); err != nil {
		t.Fatalf("an accepted message must count as delivered: %v", err)
	}
	if fake.Requests() != 1 || len(fake.Messages()) != 1 {
		t.Fatalf("requests %d, messages %d; want exactly one", fake.Requests(), len(fake.Messages()))
	}
	if _, _, _, known := p.Quota(); known {
		t.Error("quota known without headers")
	}
}

func TestPushoverTimeout(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	fake.SetDelay(time.Hour)
	p := newTestPushover(t, fake, nil, "timeout", "150ms")
	start := time.Now()
	err := p.Send(context.Background(), sampleItem())
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("Send took %v despite a 150ms timeout", d)
	}
	if c := Classify(err); err == nil || c.Permanent || !c.ParkUntil.IsZero() {
		t.Fatalf("hanging server: %v, want a temporary error", err)
	}

	// The caller's context bounds it too.
	p = newTestPushover(t, fake, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start = time.Now()
	if err := p.Send(ctx, sampleItem()); err == nil || time.Since(start) > 2*time.Second {
		t.Fatalf("ctx deadline: err %v after %v", err, time.Since(start))
	}
}

func TestNewPushoverRejectsBadConfig(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		kv   []string
		want string
	}{
		{"no token", []string{"token", ""}, "empty API token"},
		{"short token", []string{"token", "abc"}, "invalid API token"},
		{"no user", []string{"user", ""}, "empty recipient"},
		{"bad user", []string{"user", "u-" + strings.Repeat("a", 28)}, "invalid recipient"},
		{"bad device", []string{"device", "my phone"}, "device"},
		{"bad api_url", []string{"api_url", "ftp://x"}, "api_url"},
		{"bad timeout", []string{"timeout", "soon"}, "timeout"},
	}
	for _, tc := range tests {
		_, err := NewPushover(pushoverConfig("http://127.0.0.1:1/1", tc.kv...), nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "phone") {
			t.Errorf("%s: err %v, want one naming the notifier and mentioning %q", tc.name, err, tc.want)
		}
	}
	if p, err := NewPushover(pushoverConfig("http://127.0.0.1:1/1"), nil, nil); err != nil || p.MinBackoff() != 5*time.Second {
		t.Fatalf("valid config: %v", err)
	}
}

// TestPushoverLinkFilter: Pushover gets the same http(s)-only click target
// as every other service; a javascript: or data: link never reaches the
// phone, and neither does a link title for a link that was dropped.
func TestPushoverLinkFilter(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	p := newTestPushover(t, fake, nil)
	tests := []struct {
		name, link, feedLink string
		kind                 string
		want                 string
	}{
		{"javascript", "javascript:alert(document.cookie)", "", crier.KindItem, ""},
		{"javascript in capitals with spaces", "  JavaScript:alert(1)", "", crier.KindItem, ""},
		{"data", "data:text/html,<script>alert(1)</script>", "", crier.KindItem, ""},
		{"file", "file:///etc/passwd", "", crier.KindItem, ""},
		{"relative", "/2026/05/story", "", crier.KindItem, ""},
		{"summary's feed link", "", "javascript:alert(1)", crier.KindSummary, ""},
		{"https stays", "https://example.com/a b", "", crier.KindItem, "https://example.com/a%20b"},
		{"http stays", "http://example.com/x", "", crier.KindItem, "http://example.com/x"},
	}
	for i, tc := range tests {
		n := crier.Notification{Kind: tc.kind, Feed: "F", Title: "Headline", Link: tc.link, FeedLink: tc.feedLink, Count: 1,
			Items: []crier.Headline{{Title: "Headline"}}}
		if err := p.Send(context.Background(), n); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		m := fake.Messages()[i]
		if m.URL != tc.want {
			t.Errorf("%s: url %q, want %q", tc.name, m.URL, tc.want)
		}
		if tc.want == "" && m.URLTitle != "" {
			t.Errorf("%s: url_title %q without a url", tc.name, m.URLTitle)
		}
	}
}
