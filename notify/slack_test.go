package notify

import (
	"context"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func setupSlack(t *testing.T, cfg crier.NotifierConfig) (Notifier, faker, func(*testing.T, crier.Notification)) {
	fake := servicefake.NewSlack()
	t.Cleanup(fake.Close)
	cfg = withDefault(cfg, "webhook_url", fake.WebhookURL(), "blocks", "true")
	nt := must(NewSlack(cfg, fake.Client()))
	return nt, fake, func(t *testing.T, n crier.Notification) {
		m := lastAccepted(t, fake.Messages())
		if len(m.Mentions) > 0 {
			t.Errorf("text carries mentions %v", m.Mentions)
		}
		link := webLink(n.Link)
		if len(link) > slackMaxLink {
			link = "" // dropped rather than crowding out the message
		}
		if (link == "" && len(m.Links) != 0) || (link != "" && (len(m.Links) != 1 || m.Links[0] != slackDecodedURL(link))) {
			t.Errorf("links %.200q, want only %.200q", m.Links, link)
		}
		noBidi(t, "text", m.Text)
	}
}

// slackDecodedURL is the link as Slack reads it back from <url|…>: the
// characters that would end the sequence are percent-encoded.
var slackDecodedURL = strings.NewReplacer("<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace

func TestSlackText(t *testing.T) {
	t.Parallel()
	fake := servicefake.NewSlack()
	defer fake.Close()
	tests := []struct {
		name        string
		n           crier.Notification
		blocks      string
		wantText    string
		wantDisplay string
	}{
		{"item", svcItem(), "false",
			"<https://go.dev/blog/go1.26|Go Blog>\nGo 1.26 is released\nToday the Go team is very happy to announce the release of Go 1.26.",
			"Go Blog\nGo 1.26 is released\nToday the Go team is very happy to announce the release of Go 1.26."},
		{"hostile title", func() crier.Notification {
			n := svcItem()
			n.Feed = "A|B <!channel> & co"
			n.Title = "<script>"
			n.Summary = ""
			n.Link = "https://x.test/?a=1&b=|2"
			return n
		}(), "true",
			"<https://x.test/?a=1&amp;b=%7C2|A¦B &lt;!channel&gt; &amp; co>\n&lt;script&gt;",
			"A¦B <!channel> & co\n<script>"},
		{"no link", func() crier.Notification { n := svcItem(); n.Link = ""; n.Summary = ""; return n }(), "false",
			"Go Blog\nGo 1.26 is released", "Go Blog\nGo 1.26 is released"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			nt := must(NewSlack(svcConfig("s", "slack", "webhook_url", fake.WebhookURL(), "blocks", tt.blocks), fake.Client()))
			if err := nt.Send(context.Background(), tt.n); err != nil {
				t.Fatal(err)
			}
			msgs := fake.Messages()
			m := msgs[len(msgs)-1]
			if m.Text != tt.wantText || m.Display != tt.wantDisplay || len(m.Mentions) != 0 {
				t.Errorf("text    %q\nwant    %q\ndisplay %q\nwant    %q", m.Text, tt.wantText, m.Display, tt.wantDisplay)
			}
			if (tt.blocks == "true") != (len(m.Blocks) == 1) {
				t.Errorf("blocks=%s sent %d blocks", tt.blocks, len(m.Blocks))
			}
			if len(m.Blocks) == 1 && (m.Blocks[0].Text.Type != "mrkdwn" || m.Blocks[0].Text.Text != m.Text) {
				t.Errorf("block %+v", m.Blocks[0])
			}
		})
	}
}
