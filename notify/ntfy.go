package notify

import (
	"context"
	"encoding/base64"
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
	service
	endpoint string
	topic    string
	tags     []string
	auth     string // Authorization header value, "" for none
}

// NewNtfy builds an ntfy notifier. client may be nil.
func NewNtfy(cfg crier.NotifierConfig, client *http.Client) (*Ntfy, error) {
	root, err := svcURL(cfg, "url", DefaultNtfyURL)
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
	svc, err := newService(cfg, client, "ntfy", 10*time.Second)
	if err != nil {
		return nil, err
	}
	n := &Ntfy{
		service:  svc,
		endpoint: strings.TrimRight(root, "/") + "/",
		topic:    topic,
		tags:     cfg.Lists["tags"],
	}
	token, user, pass := cfg.Option("token", ""), cfg.Option("user", ""), cfg.Option("password", "")
	switch {
	case token != "" && user != "":
		return nil, fmt.Errorf("notifier %s: give either token or user/password, not both", cfg.Name)
	case token != "":
		n.auth = "Bearer " + token
	case user != "":
		n.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pass))
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
	// Attach is an external attachment: the app shows an image URL as a
	// picture and downloads it itself, so the server stores nothing.
	Attach string `json:"attach,omitempty"`
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
		Title:    crier.Truncate(text.Title, ntfyMaxTitle),
		Message:  truncateBytes(text.Message, ntfyMaxMessageBytes),
		Click:    webLink(n.Link),
		Priority: ntfyPriority(effectivePriority(t.cfg, n)),
		Tags:     t.tags,
		Attach:   t.image(n),
	}
	if strings.TrimSpace(msg.Message) == "" {
		// ntfy would publish the word "triggered".
		msg.Message = crier.Truncate(text.Title, ntfyMaxTitle)
	}
	var h http.Header
	if t.auth != "" {
		h = http.Header{"Authorization": {t.auth}}
	}
	return t.postJSON(ctx, t.endpoint, h, msg, ntfyExplain)
}

// ntfyExplain reads {"code":42901,"http":429,"error":"limit reached: …","link":…}.
func ntfyExplain(body []byte) (string, time.Duration) {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) != nil {
		return "", 0
	}
	return e.Error, 0
}
