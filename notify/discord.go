package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// Discord's limits on an executed webhook message.
const (
	discordMaxTitle       = 256
	discordMaxDescription = 4096
	discordMaxContent     = 2000
)

// Discord executes a Discord webhook with one embed per notification.
// Every message carries allowed_mentions {"parse": []}, so "@everyone" or
// "<@id>" in a headline renders but pings nobody, and headline text has
// its markdown escaped so a title cannot restyle or hide the message.
type Discord struct {
	service
	endpoint string // the webhook URL is a credential: never log it
}

// NewDiscord builds a Discord notifier. client may be nil.
func NewDiscord(cfg crier.NotifierConfig, client *http.Client) (*Discord, error) {
	raw, err := svcURL(cfg, "webhook_url", "")
	if err != nil {
		return nil, err
	}
	u, _ := url.Parse(raw)
	q := u.Query()
	q.Set("wait", "true") // answer with the message, so a 200 means it was posted
	u.RawQuery = q.Encode()
	svc, err := newService(cfg, client, "discord", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &Discord{service: svc, endpoint: u.String()}, nil
}

type discordEmbed struct {
	Title       string             `json:"title,omitempty"`
	URL         string             `json:"url,omitempty"`
	Description string             `json:"description,omitempty"`
	Timestamp   string             `json:"timestamp,omitempty"`
	Image       *discordEmbedImage `json:"image,omitempty"`
}

// discordEmbedImage is shown under the embed's text. Discord fetches it
// through its media proxy; one it cannot fetch is simply not shown.
type discordEmbedImage struct {
	URL string `json:"url"`
}

type discordMessage struct {
	Content         string         `json:"content,omitempty"`
	Embeds          []discordEmbed `json:"embeds"`
	AllowedMentions struct {
		Parse []string `json:"parse"`
	} `json:"allowed_mentions"`
}

// discordEscape backslash-escapes Discord markdown so text shows as typed.
var discordEscape = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "|", `\|`, ">", `\>`, "#", `\#`, "[", `\[`, "]", `\]`,
).Replace

func discordBody(r Rendered, n crier.Notification, image string) discordMessage {
	e := discordEmbed{
		Title:       truncateUTF16(discordEscape(collapse(r.Title)), discordMaxTitle),
		URL:         webLink(n.Link),
		Description: truncateUTF16(discordEscape(strings.TrimSpace(r.Message)), discordMaxDescription),
	}
	if !n.Published.IsZero() {
		e.Timestamp = n.Published.UTC().Format(time.RFC3339)
	}
	if e.Title == "" && e.Description == "" {
		e.Description = "(empty)" // Discord refuses an empty embed
	}
	if image != "" {
		e.Image = &discordEmbedImage{URL: image}
	}
	m := discordMessage{Embeds: []discordEmbed{e}}
	m.AllowedMentions.Parse = []string{}
	return m
}

// Send executes the webhook.
func (d *Discord) Send(ctx context.Context, n crier.Notification) error {
	text, err := d.render.render(n)
	if err != nil {
		return err
	}
	return d.postJSON(ctx, d.endpoint, nil, discordBody(text, n, d.image(n)), discordExplain)
}

// discordExplain reads {"message":…,"code":…}; a 429 adds "retry_after"
// in (fractional) seconds besides the Retry-After header.
func discordExplain(body []byte) (detail string, retry time.Duration) {
	var e struct {
		Message    string  `json:"message"`
		Code       int     `json:"code"`
		RetryAfter float64 `json:"retry_after"`
		Global     bool    `json:"global"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	if e.Message != "" {
		detail = e.Message
		if e.Code != 0 {
			detail = fmt.Sprintf("%s (code %d)", e.Message, e.Code)
		}
	}
	if e.RetryAfter > 0 && e.RetryAfter < 24*3600 {
		retry = time.Duration(math.Ceil(e.RetryAfter*1000)) * time.Millisecond
	}
	return detail, retry
}
