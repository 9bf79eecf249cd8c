package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupWebhook(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewWebhook()
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "url", fake.URL()+"/hook")
	nt := must(NewWebhook(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		var d Document
		if err := json.Unmarshal(lastAccepted(t, fake.Received()).Body, &d); err != nil {
			t.Fatalf("body is not a JSON document: %v", err)
		}
		if d.Kind != n.Kind || d.Feed != n.Feed && n.Feed == sanitize(n.Feed) {
			t.Errorf("document %+v does not describe %+v", d, n)
		}
		noBidi(t, "text.title", d.Text.Title)
		noBidi(t, "text.message", d.Text.Message)
	}
}

func TestWebhookDocument(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewWebhook()
	defer fake.Close()
	cfg := svcConfig("w", "webhook", "url", fake.URL()+"/hook")
	cfg.Maps["headers"] = map[string]string{"Authorization": "Bearer xyz"}
	cfg.Priority = 1
	nt := must(NewWebhook(cfg, fake.Client()))
	for _, n := range []crier.Notification{svcItem(), svcSummary()} {
		if err := nt.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	reqs := fake.Received()
	if len(reqs) != 2 {
		t.Fatalf("%d requests", len(reqs))
	}
	if r := reqs[0]; r.Method != http.MethodPost || r.Path != "/hook" || r.Header.Get("Authorization") != "Bearer xyz" ||
		r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("request %s %s %v", r.Method, r.Path, r.Header)
	}
	// Every documented key is present, even when empty.
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(reqs[1].Body, &raw); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"kind", "feed", "feed_url", "feed_link", "id", "title", "link", "summary", "published",
		"categories", "image", "priority", "count", "items", "queued_at", "text"} {
		if _, ok := raw[k]; !ok {
			t.Errorf("summary document lacks %q", k)
		}
	}
	if string(raw["published"]) != "null" || string(raw["categories"]) != "[]" {
		t.Errorf("published %s categories %s, want null and []", raw["published"], raw["categories"])
	}
	var d Document
	if err := json.Unmarshal(reqs[1].Body, &d); err != nil {
		t.Fatal(err)
	}
	if d.Count != 7 || len(d.Items) != 3 || d.Items[1].Link != "https://example.com/2" || d.Priority != 1 ||
		!d.QueuedAt.Equal(time.Date(2026, 2, 10, 17, 5, 0, 0, time.UTC)) || d.Text.Title != "7 new headlines from Hacker News" {
		t.Errorf("document %+v", d)
	}
}

func TestWebhookTemplate(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewWebhook()
	defer fake.Close()
	tests := []struct {
		name, tpl, ctype string
		headers          map[string]string
		want             string
		permanent        bool
	}{
		{"text", "{{.Feed}}: {{.Title | upper}}", "text/plain; charset=utf-8", nil, "Go Blog: GO 1.26 IS RELEASED", false},
		{"configured type", `{"t":"{{.Title}}"}`, "application/vnd.x+json", map[string]string{"content-type": "application/vnd.x+json"}, `{"t":"Go 1.26 is released"}`, false},
		{"exec error", "{{.Nope}}", "", nil, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(fake.Received())
			cfg := svcConfig("w", "webhook", "url", fake.URL(), "template", tt.tpl)
			cfg.Maps["headers"] = tt.headers
			nt := must(NewWebhook(cfg, fake.Client()))
			err := nt.Send(context.Background(), svcItem())
			if tt.permanent {
				if err == nil || !Classify(err).Permanent {
					t.Fatalf("err = %v, want permanent", err)
				}
				if len(fake.Received()) != before {
					t.Error("a request went out")
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			r := fake.Received()[before]
			if string(r.Body) != tt.want || r.Header.Get("Content-Type") != tt.ctype {
				t.Errorf("body %q type %q, want %q %q", r.Body, r.Header.Get("Content-Type"), tt.want, tt.ctype)
			}
		})
	}
}

// TestWebhookTemplateJSON: with the json function a hostile headline stays
// inside its string and cannot add keys to the body.
func TestWebhookTemplateJSON(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewWebhook()
	defer fake.Close()
	tpl := `{"title": {{json .Title}}, "link": {{.Link | json}}, "published": {{json .Published}}, ` +
		`"priority": {{json .Priority}}, "count": {{json .Count}}, "categories": {{json .Categories}}}`
	cfg := svcConfig("w", "webhook", "url", fake.URL(), "template", tpl)
	nt := must(NewWebhook(cfg, fake.Client()))
	n := svcItem()
	n.Title = `Evil", "admin": true, "x": "` + "</script>\x00\u2028"
	if err := nt.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	body := lastAccepted(t, fake.Received()).Body
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, body)
	}
	want := map[string]any{
		"title": n.Title, "link": n.Link, "published": "2026-02-10T17:00:00Z",
		"priority": nil, "count": 0.0, "categories": []any{"release", "go"},
	}
	if len(got) != len(want) {
		t.Errorf("keys %v, want exactly %v", got, want)
	}
	for k, v := range want {
		if gv, ok := got[k]; !ok || fmt.Sprint(gv) != fmt.Sprint(v) {
			t.Errorf("%s = %#v, want %#v", k, gv, v)
		}
	}
	if strings.Contains(string(body), `\u003c`) {
		t.Errorf("json escaped HTML needlessly: %s", body)
	}
}

// TestExampleWebhookTemplate loads config.example.yaml and sends a hostile
// headline through its webhook template: the body must stay valid JSON.
func TestExampleWebhookTemplate(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile("../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	// Any secret will do: 30 letters pass as Pushover keys, URLs as URLs.
	key := "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
	opt := crier.LoadOptions{
		Env: func(name string) (string, bool) {
			if strings.Contains(name, "URL") {
				return "https://hooks.example.org/x", true
			}
			return key, true
		},
		Home: t.TempDir(),
		ReadFile: func(p string) ([]byte, error) {
			if strings.Contains(p, "webhook") {
				return []byte("https://hooks.example.org/x\n"), nil
			}
			return []byte(key + "\n"), nil
		},
	}
	// The example ships its other notifiers commented out; turn them on.
	example := regexp.MustCompile(`(?m)^  # (- |  )`).ReplaceAllString(string(data), "  $1")
	cfg, err := crier.Load(strings.NewReader(example), "config.example.yaml", opt)
	if err != nil {
		t.Fatalf("example config: %v", err)
	}
	var hook *crier.NotifierConfig
	for i := range cfg.Notifiers {
		if cfg.Notifiers[i].Type == "webhook" {
			hook = &cfg.Notifiers[i]
		}
	}
	if hook == nil || hook.Option("template", "") == "" {
		t.Fatal("the example has no webhook with a template")
	}
	fake := servicefake.NewWebhook()
	defer fake.Close()
	hook.Options["url"] = fake.URL() + "/hook"
	nt := must(NewWebhook(*hook, fake.Client()))
	n := svcItem()
	n.Title = `", "admin": true, "x": "` + "\\\"\n\t"
	if err := nt.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	body := lastAccepted(t, fake.Received()).Body
	var got map[string]any
	if err := json.Unmarshal(body, &got); err != nil {
		t.Fatalf("the example template makes invalid JSON from a hostile title: %v\n%s", err, body)
	}
	if _, ok := got["admin"]; ok {
		t.Errorf("the title injected a key: %s", body)
	}
	if !strings.Contains(fmt.Sprint(got), n.Title) {
		t.Errorf("the title is not in the body: %s", body)
	}
}
