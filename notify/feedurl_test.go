package notify

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

// A feed URL with credentials reaches notifiers redacted, as everywhere
// else crier shows it: webhook and exec documents, webhook and text
// templates and jsonl lines are read by more people than the config is.
// The field names stay; only the value changes.
func TestNotifiersSeeFeedURLRedacted(t *testing.T) {
	t.Parallel()
	const (
		secretURL = "https://user:pass@host/x.xml?token=SECRET&page=2"
		shown     = "https://***@host/x.xml?token=***&page=2"
	)
	n := svcItem()
	n.FeedURL = secretURL
	noSecrets := func(t *testing.T, what, s string) {
		t.Helper()
		if strings.Contains(s, "pass") || strings.Contains(s, "SECRET") {
			t.Errorf("%s shows the feed URL's credentials:\n%s", what, s)
		}
	}

	t.Run("webhook document", func(t *testing.T) {
		t.Parallel()
		fake := servicefake.NewWebhook()
		defer fake.Close()
		cfg := svcConfig("w", "webhook", "url", fake.URL()+"/hook")
		cfg.MessageTemplate = "from {{.FeedURL}}"
		if err := must(NewWebhook(cfg, fake.Client())).Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		body := lastAccepted(t, fake.Received()).Body
		noSecrets(t, "the webhook document", string(body))
		var d Document
		if err := json.Unmarshal(body, &d); err != nil {
			t.Fatal(err)
		}
		if d.FeedURL != shown || d.Text.Message != "from "+shown {
			t.Errorf("feed_url %q, text.message %q; want %q in both", d.FeedURL, d.Text.Message, shown)
		}
	})
	t.Run("webhook template", func(t *testing.T) {
		t.Parallel()
		fake := servicefake.NewWebhook()
		defer fake.Close()
		cfg := svcConfig("w", "webhook", "url", fake.URL()+"/hook", "template", `{"feed": {{json .FeedURL}}}`)
		if err := must(NewWebhook(cfg, fake.Client())).Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		body := string(lastAccepted(t, fake.Received()).Body)
		if want := `{"feed": "` + shown + `"}`; body != want {
			t.Errorf("body %s, want %s", body, want)
		}
	})
	t.Run("jsonl", func(t *testing.T) {
		t.Parallel()
		path := filepath.Join(t.TempDir(), "out.jsonl")
		j := must(NewJSONL(crier.NotifierConfig{Name: "log", Type: "jsonl"}, path))
		if err := j.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		line, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		noSecrets(t, "the jsonl line", string(line))
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatal(err)
		}
		if rec["feed_url"] != shown {
			t.Errorf("feed_url %q, want %q", rec["feed_url"], shown)
		}
	})
}
