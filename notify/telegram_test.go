package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupTelegram(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewTelegram()
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "api_url", fake.URL(), "token", servicefake.TelegramToken, "chat_id", servicefake.TelegramChatID)
	nt := must(NewTelegram(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		m := lastAccepted(t, fake.Messages())
		// The fake parsed the HTML strictly: a raw <script> would have
		// been refused as an unsupported tag.
		noBidi(t, "text", m.Plain)
		if n := servicefake.UTF16Len(m.Plain); n > servicefake.TelegramMaxText {
			t.Errorf("visible text is %d UTF-16 units", n)
		}
		if len(m.Links) > 1 || (len(m.Links) == 1 && m.Links[0] != webLink(n.Link)) {
			t.Errorf("links %q, want only %q", m.Links, webLink(n.Link))
		}
		if strings.Contains(n.Title, "<script>") && len(n.Title) < 100 && !strings.Contains(m.Plain, "<script>") {
			t.Errorf("the literal title did not survive escaping: %q", m.Plain)
		}
	}
}

func TestTelegramMessage(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewTelegram()
	defer fake.Close()
	for _, preview := range []string{"true", "false"} {
		cfg := svcConfig("tg", "telegram", "api_url", fake.URL(), "token", servicefake.TelegramToken,
			"chat_id", servicefake.TelegramChatID, "link_preview", preview)
		nt := must(NewTelegram(cfg, fake.Client()))
		n := svcItem()
		n.Title = "Go 1.26 & <generics>"
		if err := nt.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
		msgs := fake.Messages()
		m := msgs[len(msgs)-1]
		wantPlain := "Go Blog\nGo 1.26 & <generics>\nToday the Go team is very happy to announce the release of Go 1.26.\nhttps://go.dev/blog/go1.26"
		if m.Plain != wantPlain || m.ParseMode != "HTML" || len(m.Bold) != 1 || m.Bold[0] != "Go Blog" {
			t.Errorf("got %+v\nwant plain %q", m, wantPlain)
		}
		if m.LinkPreviewDisabled != (preview == "false") {
			t.Errorf("link_preview %s: is_disabled = %v", preview, m.LinkPreviewDisabled)
		}
	}
}

func TestTelegramErrors(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewTelegram()
	defer fake.Close()
	tests := []struct {
		name      string
		token     string
		chat      string
		permanent bool
	}{
		{"wrong token", "1:wrong", servicefake.TelegramChatID, true},
		{"unknown chat", servicefake.TelegramToken, "42", true},
	}
	for _, tt := range tests {
		nt := must(NewTelegram(svcConfig("tg", "telegram", "api_url", fake.URL(), "token", tt.token, "chat_id", tt.chat), fake.Client()))
		err := nt.Send(context.Background(), svcItem())
		if err == nil || Classify(err).Permanent != tt.permanent {
			t.Errorf("%s: err = %v", tt.name, err)
		}
		if err != nil && strings.Contains(err.Error(), tt.token) && tt.token != "" {
			t.Errorf("%s: error leaks the bot token: %v", tt.name, err)
		}
	}
}

func TestTelegramTokenNotInTransportErrors(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewTelegram()
	url := fake.URL()
	fake.Close() // connection refused from now on
	nt := must(NewTelegram(svcConfig("tg", "telegram", "api_url", url, "token", servicefake.TelegramToken, "chat_id", "1"), nil))
	err := nt.Send(context.Background(), svcItem())
	if err == nil || Classify(err).Permanent {
		t.Fatalf("err = %v, want temporary", err)
	}
	if strings.Contains(err.Error(), servicefake.TelegramToken) {
		t.Errorf("error leaks the bot token: %v", err)
	}
}
