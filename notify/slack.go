package notify

import (
	"context"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/crierd/crier"
)

// Slack's limit for a section block's text; we hold the top-level text to
// it as well so both forms carry the same words.
const (
	slackMaxText  = 3000
	slackMaxTitle = 250
	slackMaxLink  = 1500
)

// Slack posts to a Slack incoming webhook. Text is mrkdwn: &, < and > are
// escaped so a headline cannot open a link, a mention (<!channel>) or a
// special command; the title becomes the label of a <link|title> when the
// notification has a link.
type Slack struct {
	service
	endpoint string // the webhook URL is a credential: never log it
	blocks   bool
}

// NewSlack builds a Slack notifier. client may be nil.
func NewSlack(cfg crier.NotifierConfig, client *http.Client) (*Slack, error) {
	endpoint, err := svcURL(cfg, "webhook_url", "")
	if err != nil {
		return nil, err
	}
	blocks, err := svcBool(cfg, "blocks", false)
	if err != nil {
		return nil, err
	}
	svc, err := newService(cfg, client, "slack", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &Slack{service: svc, endpoint: endpoint, blocks: blocks}, nil
}

type slackText struct {
	Type string `json:"type"`
	Text string `json:"text"`
}

type slackBlock struct {
	Type     string     `json:"type"`
	Text     *slackText `json:"text,omitempty"`
	ImageURL string     `json:"image_url,omitempty"` // type image
	AltText  string     `json:"alt_text,omitempty"`  // type image, required
}

// Slack's image block limits.
const (
	slackMaxImageURL = 3000
	slackMaxAltText  = 2000
)

type slackMessage struct {
	Text   string       `json:"text"`
	Blocks []slackBlock `json:"blocks,omitempty"`
}

// slackEscapeCut escapes s for mrkdwn and cuts it so that the escaped
// form is at most max runes, never splitting an entity.
func slackEscapeCut(s string, max int) string {
	esc := slackEscape(strings.ToValidUTF8(s, "\uFFFD"))
	if utf8.RuneCountInString(esc) <= max {
		return esc
	}
	if max <= 0 {
		return ""
	}
	var b strings.Builder
	used := 0
	for _, r := range s {
		piece := slackEscape(string(r))
		w := utf8.RuneCountInString(piece)
		if used+w > max-1 {
			break
		}
		b.WriteString(piece)
		used += w
	}
	return strings.TrimRight(b.String(), " \t\n") + "…"
}

var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;").Replace

// slackLinkURL makes a URL safe inside <url|label>.
var slackLinkURL = strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace

// slackBody builds the mrkdwn text: "<link|title>\nmessage".
func slackBody(r Rendered, link string) string {
	// A "|" would end the link's URL part early: show a broken bar instead.
	title := slackEscapeCut(strings.ReplaceAll(collapse(r.Title), "|", "¦"), slackMaxTitle)
	head := title
	if len(link) > slackMaxLink {
		link = "" // it would crowd out the message; the title stays
	}
	if link != "" {
		if title == "" {
			title = slackEscapeCut(link, slackMaxTitle)
		}
		head = "<" + slackLinkURL(link) + "|" + title + ">"
	}
	budget := slackMaxText - utf8.RuneCountInString(head) - 1
	msg := slackEscapeCut(strings.TrimSpace(r.Message), max(budget, 0))
	return joinNonEmpty("\n", head, msg)
}

// Send posts n to the webhook.
func (s *Slack) Send(ctx context.Context, n crier.Notification) error {
	text, err := s.render.render(n)
	if err != nil {
		return err
	}
	msg := slackMessage{Text: slackBody(text, webLink(n.Link))}
	if msg.Text == "" {
		msg.Text = "(empty)" // Slack answers no_text
	}
	if !s.blocks {
		// Errors are plain words (invalid_payload, no_service,
		// channel_is_archived…): the default detail quotes them.
		return s.postJSON(ctx, s.endpoint, nil, msg, nil)
	}
	msg.Blocks = []slackBlock{{Type: "section", Text: &slackText{Type: "mrkdwn", Text: msg.Text}}}
	img := s.image(n)
	if img == "" || len(img) > slackMaxImageURL {
		return s.postJSON(ctx, s.endpoint, nil, msg, nil)
	}
	alt := crier.Truncate(collapse(renderHeadline(n)), slackMaxAltText)
	if alt == "" {
		alt = "picture"
	}
	withImage := msg
	withImage.Blocks = append(msg.Blocks, slackBlock{Type: "image", ImageURL: img, AltText: alt})
	err = s.postJSON(ctx, s.endpoint, nil, withImage, nil)
	if err != nil && Classify(err).Permanent && strings.Contains(err.Error(), "invalid_blocks") {
		// Slack fetches the picture before it takes the message and
		// refuses the whole message when it cannot: send the text alone.
		return s.postJSON(ctx, s.endpoint, nil, msg, nil)
	}
	return err
}
