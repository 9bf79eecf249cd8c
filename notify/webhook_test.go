package notify

import (
	"context"
	"encoding/json"
	"net/http"
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
		"categories", "priority", "count", "items", "queued_at", "text"} {
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
