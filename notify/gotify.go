package notify

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// Gotify has no documented length limits; these keep a runaway template
// from storing megabytes on the server.
const (
	gotifyMaxTitle   = 250
	gotifyMaxMessage = 10000
)

// Gotify posts to a Gotify server's message API (POST {url}/message with
// the application token in X-Gotify-Key).
type Gotify struct {
	service
	endpoint string
	token    string
}

// NewGotify builds a Gotify notifier. client may be nil.
func NewGotify(cfg crier.NotifierConfig, client *http.Client) (*Gotify, error) {
	root, err := svcURL(cfg, "url", "")
	if err != nil {
		return nil, err
	}
	token, err := svcRequired(cfg, "token")
	if err != nil {
		return nil, err
	}
	svc, err := newService(cfg, client, "gotify", 10*time.Second)
	if err != nil {
		return nil, err
	}
	return &Gotify{service: svc, endpoint: strings.TrimRight(root, "/") + "/message", token: token}, nil
}

type gotifyMessage struct {
	Title    string         `json:"title,omitempty"`
	Message  string         `json:"message"`
	Priority int            `json:"priority"`
	Extras   map[string]any `json:"extras"`
}

// gotifyPriority maps crier's -2..2 onto Gotify's 0..10; the Android app
// stays silent below 1, pops up from 4 and is loudest from 8.
func gotifyPriority(p int) int {
	return [...]int{0, 2, 5, 8, 10}[min(max(p, -2), 2)+2]
}

// Send posts n.
func (g *Gotify) Send(ctx context.Context, n crier.Notification) error {
	text, err := g.render.render(n)
	if err != nil {
		return err
	}
	msg := gotifyMessage{
		Title:    crier.Truncate(text.Title, gotifyMaxTitle),
		Message:  crier.Truncate(text.Message, gotifyMaxMessage),
		Priority: gotifyPriority(effectivePriority(g.cfg, n)),
		Extras: map[string]any{
			// Plain text: a headline must not be rendered as markdown.
			"client::display": map[string]string{"contentType": "text/plain"},
		},
	}
	if strings.TrimSpace(msg.Message) == "" {
		msg.Message = msg.Title // the server requires a message
	}
	notification := map[string]any{}
	if link := webLink(n.Link); link != "" {
		notification["click"] = map[string]string{"url": link}
	}
	if img := g.image(n); img != "" {
		// The Android app loads it into the expanded notification.
		notification["bigImageUrl"] = img
	}
	if len(notification) > 0 {
		msg.Extras["client::notification"] = notification
	}
	return g.postJSON(ctx, g.endpoint, http.Header{"X-Gotify-Key": {g.token}}, msg, gotifyExplain)
}

// gotifyExplain reads {"error":"Unauthorized","errorCode":401,"errorDescription":"…"}.
func gotifyExplain(body []byte) (string, time.Duration) {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"errorDescription"`
	}
	if json.Unmarshal(body, &e) != nil || e.Error == "" {
		return "", 0
	}
	return joinNonEmpty(": ", e.Error, e.Description), 0
}
