package crier

import (
	"strings"
	"testing"
)

// Every notifier that can show a picture takes `images`, on by default;
// the others refuse the key as unknown rather than ignore it.
func TestLoadNotifierImages(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `notifiers:
  - {type: pushover, token: t, user: u}
  - {type: ntfy, topic: news, images: false}
  - {type: gotify, url: "https://g.example", token: t, images: off}
  - {type: telegram, token: t, chat_id: "1"}
  - {type: discord, webhook_url: "https://discord.example/api/webhooks/1/x"}
  - {type: slack, webhook_url: "https://hooks.example/x", images: no}
  - {type: email, host: smtp.example, from: a@example.org, to: [b@example.org], images: true}
`, nil, nil)
	want := map[string]string{"pushover": "true", "ntfy": "false", "gotify": "false", "telegram": "true",
		"discord": "true", "slack": "false", "email": "true"}
	for _, nc := range cfg.Notifiers {
		if got := nc.Options["images"]; got != want[nc.Type] {
			t.Errorf("%s: images = %q, want %q", nc.Type, got, want[nc.Type])
		}
	}

	_, err := loadString(t, "notifiers:\n  - {type: ntfy, topic: news, images: sometimes}\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "images") {
		t.Errorf("images: sometimes loaded: %v", err)
	}
	_, err = loadString(t, "notifiers:\n  - {type: webhook, url: \"https://h.example/\", images: false}\n", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "notifiers[0].images: unknown key") {
		t.Errorf("images on a webhook: %v", err)
	}
}
