package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

// picturePush is what one service shows of a push: its text and the
// picture URL it was given ("" for none).
type picturePush struct{ text, image string }

// Every service that can show a picture gets the item's, in its own
// field; Telegram and Slack download it before they accept the message,
// so a broken picture there must still let the text through.
func TestServicesShowItemImage(t *testing.T) {
	t.Parallel()
	host := newImageHost(t)
	type service struct {
		name  string
		build func(images string) (Notifier, func() []picturePush)
	}
	services := []service{
		{"ntfy", func(images string) (Notifier, func() []picturePush) {
			fake := servicefake.NewNtfy(false)
			t.Cleanup(fake.Close)
			n := must(NewNtfy(svcConfig("n", "ntfy", "url", fake.URL(), "topic", "news", "images", images), fake.Client()))
			return n, func() (out []picturePush) {
				for _, m := range fake.Messages() {
					out = append(out, picturePush{m.Title, m.Attach})
				}
				return out
			}
		}},
		{"gotify", func(images string) (Notifier, func() []picturePush) {
			fake := servicefake.NewGotify()
			t.Cleanup(fake.Close)
			n := must(NewGotify(svcConfig("g", "gotify", "url", fake.URL(), "token", servicefake.GotifyToken, "images", images), fake.Client()))
			return n, func() (out []picturePush) {
				for _, m := range fake.Messages() {
					if m.ClickURL() == "" {
						t.Errorf("gotify: the click URL was lost next to the picture")
					}
					out = append(out, picturePush{m.Title, m.BigImageURL()})
				}
				return out
			}
		}},
		{"telegram", func(images string) (Notifier, func() []picturePush) {
			fake := servicefake.NewTelegram()
			t.Cleanup(fake.Close)
			n := must(NewTelegram(svcConfig("tg", "telegram", "api_url", fake.URL(), "token", servicefake.TelegramToken,
				"chat_id", servicefake.TelegramChatID, "images", images), fake.Client()))
			return n, func() (out []picturePush) {
				for _, m := range fake.Messages() {
					out = append(out, picturePush{m.Bold[0], m.Photo})
				}
				return out
			}
		}},
		{"discord", func(images string) (Notifier, func() []picturePush) {
			fake := servicefake.NewDiscord()
			t.Cleanup(fake.Close)
			n := must(NewDiscord(svcConfig("d", "discord", "webhook_url", fake.WebhookURL(), "images", images), fake.Client()))
			return n, func() (out []picturePush) {
				for _, m := range fake.Messages() {
					p := picturePush{text: m.Embeds[0].Title}
					if m.Embeds[0].Image != nil {
						p.image = m.Embeds[0].Image.URL
					}
					out = append(out, p)
				}
				return out
			}
		}},
		{"slack", func(images string) (Notifier, func() []picturePush) {
			fake := servicefake.NewSlack()
			t.Cleanup(fake.Close)
			n := must(NewSlack(svcConfig("s", "slack", "webhook_url", fake.WebhookURL(), "blocks", "true", "images", images), fake.Client()))
			return n, func() (out []picturePush) {
				for _, m := range fake.Messages() {
					p := picturePush{text: m.Display}
					for _, b := range m.Blocks {
						if b.Type == "image" {
							p.image = b.ImageURL
						}
					}
					out = append(out, p)
				}
				return out
			}
		}},
	}
	good, broken := host.URL+"/photo.png", host.URL+"/missing.png"
	// What each service shows of a broken picture: the services that
	// download it at once drop it, the others pass it on for the app.
	brokenShown := map[string]string{"ntfy": broken, "gotify": broken, "discord": broken}
	for _, svc := range services {
		for _, tc := range []struct {
			name, images, image, want string
			kind                      string
		}{
			{"picture", "true", good, good, crier.KindItem},
			{"broken picture", "true", broken, brokenShown[svc.name], crier.KindItem},
			{"images off", "false", good, "", crier.KindItem},
			{"javascript picture", "true", "javascript:alert(1)", "", crier.KindItem},
			{"summary", "true", good, "", crier.KindSummary},
		} {
			t.Run(svc.name+"/"+tc.name, func(t *testing.T) {
				n, pushes := svc.build(tc.images)
				msg := sampleItem()
				msg.Kind, msg.Image = tc.kind, tc.image
				if tc.kind == crier.KindSummary {
					msg.Count, msg.Items = 2, []crier.Headline{{Title: "a"}, {Title: "b"}}
				}
				if err := n.Send(context.Background(), msg); err != nil {
					t.Fatalf("send: %v", err)
				}
				got := pushes()
				if len(got) != 1 || got[0].text == "" {
					t.Fatalf("%d pushes arrived (%+v), want the one", len(got), got)
				}
				if got[0].image != tc.want {
					t.Errorf("picture %q, want %q", got[0].image, tc.want)
				}
			})
		}
	}
}

// A long item still goes as a photo: its caption is cut to the caption's
// limit rather than being refused and falling back to plain text.
func TestTelegramLongCaption(t *testing.T) {
	t.Parallel()
	host := newImageHost(t)
	fake := servicefake.NewTelegram()
	defer fake.Close()
	n := must(NewTelegram(svcConfig("tg", "telegram", "api_url", fake.URL(), "token", servicefake.TelegramToken,
		"chat_id", servicefake.TelegramChatID, "message_template", "{{.Summary}}"), fake.Client()))
	msg := sampleItem()
	msg.Image = host.URL + "/photo.png"
	msg.Summary = strings.Repeat("Ünïcode words & <tags> ", 200)
	if err := n.Send(context.Background(), msg); err != nil {
		t.Fatal(err)
	}
	m := lastAccepted(t, fake.Messages())
	if m.Photo != msg.Image || servicefake.UTF16Len(m.Plain) > servicefake.TelegramMaxCaption {
		t.Errorf("photo %q with a caption of %d units; want the picture with at most %d", m.Photo, servicefake.UTF16Len(m.Plain), servicefake.TelegramMaxCaption)
	}
	if r := fake.Rejections(); len(r) != 0 {
		t.Errorf("the fake refused: %q", r)
	}
}
