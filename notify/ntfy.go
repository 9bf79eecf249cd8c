package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// DefaultNtfyURL is the public ntfy server.
const DefaultNtfyURL = "https://ntfy.sh"

// ntfy limits: the server turns a message over 4096 bytes into an
// attachment (or refuses it when attachments are off); titles have no
// documented limit, so we keep them lock-screen sized.
const (
	ntfyMaxMessageBytes = 4096
	ntfyMaxTitle        = 250
)

// Ntfy publishes to an ntfy topic with the JSON publish API (a POST of
// {"topic",…} to the server root).
type Ntfy struct {
	name     string
	cfg      crier.NotifierConfig
	client   *http.Client
	render   *renderer
	endpoint string
	topic    string
	tags     []string
	auth     string // Authorization header value, "" for none
	timeout  time.Duration
}

// NewNtfy builds an ntfy notifier. client may be nil.
func NewNtfy(cfg crier.NotifierConfig, client *http.Client) (*Ntfy, error) {
	base, err := svcURL(cfg, "url", DefaultNtfyURL)
	if err != nil {
		return nil, err
	}
	topic, err := svcRequired(cfg, "topic")
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(topic, "/?#") {
		return nil, fmt.Errorf("notifier %s: option topic: %q must not contain /, ? or #", cfg.Name, topic)
	}
	timeout, err := svcTimeout(cfg, 10*time.Second)
	if err != nil {
		return nil, err
	}
	r, err := newRenderer(cfg)
	if err != nil {
		return nil, err
	}
	n := &Ntfy{
		name:     cfg.Name,
		cfg:      cfg,
		client:   svcClient(client, timeout),
		render:   r,
		endpoint: strings.TrimRight(base, "/") + "/",
		topic:    topic,
		tags:     cfg.Lists["tags"],
		timeout:  timeout,
	}
	token, user, pass := cfg.Option("token", ""), cfg.Option("user", ""), cfg.Option("password", "")
	switch {
	case token != "" && user != "":
		return nil, fmt.Errorf("notifier %s: give either token or user/password, not both", cfg.Name)
	case token != "":
		n.auth = "Bearer " + token
	case user != "":
		req, _ := http.NewRequest(http.MethodPost, n.endpoint, nil)
		req.SetBasicAuth(user, pass)
		n.auth = req.Header.Get("Authorization")
	}
	return n, nil
}

type ntfyMessage struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title,omitempty"`
	Message  string   `json:"message"`
	Click    string   `json:"click,omitempty"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags,omitempty"`
}

// ntfyPriority maps crier's -2..2 onto ntfy's 1 (min) .. 5 (max).
func ntfyPriority(p int) int { return min(max(p, -2), 2) + 3 }

// Send publishes n.
func (t *Ntfy) Send(ctx context.Context, n crier.Notification) error {
	text, err := t.render.render(n)
	if err != nil {
		return err
	}
	msg := ntfyMessage{
		Topic:    t.topic,
		Title:    Truncate(text.Title, ntfyMaxTitle),
		Message:  truncateBytes(text.Message, ntfyMaxMessageBytes),
		Click:    webLink(n.Link),
		Priority: ntfyPriority(effectivePriority(t.cfg, n)),
		Tags:     t.tags,
	}
	if strings.TrimSpace(msg.Message) == "" {
		// ntfy would publish the word "triggered".
		msg.Message = Truncate(text.Title, ntfyMaxTitle)
	}
	body, err := json.Marshal(msg)
	if err != nil {
		return Permanent(fmt.Errorf("notifier %s: %w", t.name, err))
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	h := http.Header{}
	if t.auth != "" {
		h.Set("Authorization", t.auth)
	}
	what := "notifier " + t.name + " (ntfy)"
	reply, err := doJSON(ctx, t.client, what, http.MethodPost, t.endpoint, h, body)
	if err != nil {
		return err
	}
	if reply.Status >= 200 && reply.Status < 300 {
		return nil
	}
	// Errors are {"code":42901,"http":429,"error":"limit reached: …","link":…}.
	detail := replySnippet(reply.Body)
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(reply.Body, &e) == nil && e.Error != "" {
		detail = e.Error
	}
	return HTTPStatusError(what, reply.Status, detail, RetryAfter(reply.Header, time.Now()))
}
