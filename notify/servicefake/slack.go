package servicefake

import (
	"context"
	"encoding/json"
	"io"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Slack limits: a section block's text, and the point past which Slack
// truncates a message's text.
const (
	SlackMaxSectionText = 3000
	SlackMaxText        = 40000
)

// SlackMessage is one accepted incoming-webhook post.
type SlackMessage struct {
	Text    string // mrkdwn as sent
	Display string // what a reader sees: links as their labels, entities decoded
	// Links are the URLs of <url> and <url|label> sequences.
	Links []string
	// Mentions are the special sequences that notify people: <!here>,
	// <!channel>, <!everyone>, <@U…>, <!subteam^…>.
	Mentions []string
	Blocks   []SlackBlock
}

// SlackBlock is a section block with a text object, or an image block.
type SlackBlock struct {
	Type string `json:"type"`
	Text *struct {
		Type string `json:"type"`
		Text string `json:"text"`
	} `json:"text,omitempty"`
	ImageURL string `json:"image_url,omitempty"`
	AltText  string `json:"alt_text,omitempty"`
}

// Image block limits.
const (
	SlackMaxImageURL = 3000
	SlackMaxAltText  = 2000
)

// Slack is a fake incoming webhook (POST /services/T…/B…/secret).
type Slack struct {
	base
	mu   sync.Mutex
	msgs []SlackMessage
}

const slackWebhookPath = "/services/T00000000/B00000000/XXXXXXXXXXXXXXXXXXXXXXXX"

// NewSlack starts a fake incoming webhook.
func NewSlack() *Slack {
	f := &Slack{}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// WebhookURL is the URL to configure as webhook_url.
func (f *Slack) WebhookURL() string { return f.URL() + slackWebhookPath }

// Messages returns the accepted messages.
func (f *Slack) Messages() []SlackMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]SlackMessage(nil), f.msgs...)
}

// slackError answers as Slack does: a status and a bare error word.
func slackError(w http.ResponseWriter, status int, word string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(word))
}

func (f *Slack) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		word := fault.Message
		if word == "" {
			word = map[int]string{400: "invalid_payload", 403: "invalid_token", 404: "no_service", 410: "channel_is_archived", 429: "rate_limited"}[fault.Status]
		}
		if word == "" {
			word = "rollup_error"
		}
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
		}
		slackError(w, fault.Status, word)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != slackWebhookPath {
		f.reject("unknown hook %s %s", r.Method, r.URL.Path)
		slackError(w, http.StatusNotFound, "no_service")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		f.reject("content type %q", mt)
		slackError(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	var in struct {
		Text   string       `json:"text"`
		Blocks []SlackBlock `json:"blocks"`
	}
	body, err := readBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		f.reject("invalid JSON: %v", err)
		slackError(w, http.StatusBadRequest, "invalid_payload")
		return
	}
	if strings.TrimSpace(in.Text) == "" && len(in.Blocks) == 0 {
		f.reject("no text")
		slackError(w, http.StatusBadRequest, "no_text")
		return
	}
	if utf8.RuneCountInString(in.Text) > SlackMaxText {
		f.reject("text longer than %d", SlackMaxText)
		slackError(w, http.StatusBadRequest, "msg_too_long")
		return
	}
	for _, b := range in.Blocks {
		if b.Type == "image" {
			if problem := slackImageProblem(r, b); problem != "" {
				// Slack downloads the picture before it accepts the
				// message, and refuses the whole message when it cannot.
				f.reject("image block: %s", problem)
				slackError(w, http.StatusBadRequest, "invalid_blocks")
				return
			}
			continue
		}
		if b.Type != "section" || b.Text == nil || (b.Text.Type != "mrkdwn" && b.Text.Type != "plain_text") ||
			b.Text.Text == "" || utf8.RuneCountInString(b.Text.Text) > SlackMaxSectionText {
			f.reject("invalid block %+v", b)
			slackError(w, http.StatusBadRequest, "invalid_blocks")
			return
		}
	}
	m := SlackMessage{Text: in.Text, Blocks: in.Blocks}
	m.Display, m.Links, m.Mentions = parseSlackText(in.Text)
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	f.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("ok"))
}

// slackImageProblem checks an image block as Slack does, fetching the
// picture; "" when Slack would show it.
func slackImageProblem(r *http.Request, b SlackBlock) string {
	if b.AltText == "" || utf8.RuneCountInString(b.AltText) > SlackMaxAltText {
		return "alt_text missing or too long"
	}
	if b.ImageURL == "" || len(b.ImageURL) > SlackMaxImageURL {
		return "image_url missing or too long"
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.ImageURL, nil)
	if err != nil {
		return "invalid image_url"
	}
	resp, err := fetchPicture(req)
	if err != nil {
		return "downloading image failed"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); resp.StatusCode != http.StatusOK || !strings.HasPrefix(mt, "image/") {
		return "downloading image failed"
	}
	return ""
}

var slackControlRe = regexp.MustCompile(`<([^<>]*)>`)

var slackUnescape = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// parseSlackText reads mrkdwn control sequences the way Slack does.
func parseSlackText(s string) (display string, links, mentions []string) {
	display = slackControlRe.ReplaceAllStringFunc(s, func(seq string) string {
		inner := seq[1 : len(seq)-1]
		target, label, hasLabel := strings.Cut(inner, "|")
		switch {
		case strings.HasPrefix(target, "!") || strings.HasPrefix(target, "@") || strings.HasPrefix(target, "#"):
			mentions = append(mentions, seq)
			if hasLabel {
				return label
			}
			return "@" + strings.TrimLeft(target, "!@#")
		default:
			links = append(links, slackUnescape.Replace(target))
			if hasLabel {
				return label
			}
			return target
		}
	})
	return slackUnescape.Replace(display), links, mentions
}
