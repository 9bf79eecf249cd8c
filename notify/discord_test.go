package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupDiscord(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewDiscord()
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "webhook_url", fake.WebhookURL())
	nt := must(NewDiscord(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		m := lastAccepted(t, fake.Messages())
		if m.AllowedMentions == nil || len(m.AllowedMentions) != 0 {
			t.Errorf("allowed_mentions.parse = %v, want []", m.AllowedMentions)
		}
		if len(m.Pings) > 0 {
			t.Errorf("would ping %v", m.Pings)
		}
		if !m.Wait {
			t.Error("sent without ?wait=true")
		}
		for _, e := range m.Embeds {
			noBidi(t, "title", e.Title)
			noBidi(t, "description", e.Description)
			if e.URL != webLink(n.Link) {
				t.Errorf("embed url %q, want %q", e.URL, webLink(n.Link))
			}
		}
	}
}

func TestDiscordEmbed(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewDiscord()
	defer fake.Close()
	nt := must(NewDiscord(svcConfig("d", "discord", "webhook_url", fake.WebhookURL()), fake.Client()))
	n := svcItem()
	n.Title = "**Go** 1.26 @everyone"
	if err := nt.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	m := fake.Messages()[0]
	want := servicefake.DiscordEmbed{
		Title:       "Go Blog",
		URL:         "https://go.dev/blog/go1.26",
		Description: `\*\*Go\*\* 1.26 @everyone` + "\nToday the Go team is very happy to announce the release of Go 1.26.",
		Timestamp:   "2026-02-10T17:00:00Z",
	}
	if len(m.Embeds) != 1 || m.Embeds[0] != want || m.Content != "" {
		t.Errorf("got  %+v\nwant %+v", m.Embeds, want)
	}
}

func TestDiscordWebhookURLKeepsItsQuery(t *testing.T) {
	t.Parallel()
	recv := servicefake.NewWebhook()
	defer recv.Close()
	nt := must(NewDiscord(svcConfig("d", "discord", "webhook_url", recv.URL()+"/api/webhooks/1/t?thread_id=99"), recv.Client()))
	if err := nt.Send(context.Background(), svcItem()); err != nil {
		t.Fatal(err)
	}
	if p := recv.Received()[0].Path; p != "/api/webhooks/1/t?thread_id=99&wait=true" {
		t.Errorf("path %q", p)
	}
}

func TestDiscordUnknownWebhookIsPermanentAndHidesTheURL(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewDiscord()
	defer fake.Close()
	secret := "/api/webhooks/1/secret-token"
	nt := must(NewDiscord(svcConfig("d", "discord", "webhook_url", fake.URL()+secret), fake.Client()))
	err := nt.Send(context.Background(), svcItem())
	if err == nil || !Classify(err).Permanent || !strings.Contains(err.Error(), "Unknown Webhook") {
		t.Fatalf("err = %v, want permanent Unknown Webhook", err)
	}
	if strings.Contains(err.Error(), "secret-token") {
		t.Errorf("error leaks the webhook token: %v", err)
	}
}
