package notify

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"text/template"
	"time"

	"github.com/crierd/crier"
)

// Document is the JSON a webhook posts by default and an exec command
// reads on stdin. The schema is stable: every field is always present
// (empty strings, empty lists, null for an unknown time) and fields are only
// ever added, never renamed.
//
//	{
//	  "kind":       "item" | "summary" | "test" | "alert",
//	  "feed":       feed name,
//	  "feed_url":   feed URL as configured, credentials redacted ("***"),
//	  "feed_link":  the feed's site, "" when unknown,
//	  "id":         the item's key (e.g. "g:<guid>"), "" for other kinds,
//	  "title":      the headline (raw, untruncated),
//	  "link":       the item's link,
//	  "summary":    plain-text summary (raw, untruncated),
//	  "published":  RFC 3339 time or null,
//	  "categories": [string],
//	  "image":      the item's picture, an http(s) URL, "" for none,
//	  "priority":   -2..2 (the notification's, else the notifier's),
//	  "count":      number of new items a summary stands for (0 otherwise),
//	  "items":      [{"title": string, "link": string}] of a summary,
//	  "queued_at":  RFC 3339 time the notification was queued,
//	  "text":       {"title": string, "message": string}, the notifier's
//	                rendered text (title_template/message_template applied)
//	}
type Document struct {
	Kind       string         `json:"kind"`
	Feed       string         `json:"feed"`
	FeedURL    string         `json:"feed_url"`
	FeedLink   string         `json:"feed_link"`
	ID         string         `json:"id"`
	Title      string         `json:"title"`
	Link       string         `json:"link"`
	Summary    string         `json:"summary"`
	Published  *time.Time     `json:"published"`
	Categories []string       `json:"categories"`
	Image      string         `json:"image"`
	Priority   int            `json:"priority"`
	Count      int            `json:"count"`
	Items      []DocumentItem `json:"items"`
	QueuedAt   time.Time      `json:"queued_at"`
	Text       DocumentText   `json:"text"`
}

// DocumentItem is one headline of a summary.
type DocumentItem struct {
	Title string `json:"title"`
	Link  string `json:"link"`
}

// DocumentText is the rendered text of a notification.
type DocumentText struct {
	Title   string `json:"title"`
	Message string `json:"message"`
}

// newDocument builds the JSON document of n for the notifier cfg.
func newDocument(cfg crier.NotifierConfig, n crier.Notification, text Rendered) Document {
	d := Document{
		Kind:       n.Kind,
		Feed:       n.Feed,
		FeedURL:    shown(n).FeedURL,
		FeedLink:   n.FeedLink,
		ID:         n.ItemID,
		Title:      n.Title,
		Link:       n.Link,
		Summary:    n.Summary,
		Categories: append([]string{}, n.Categories...),
		Image:      itemImage(n),
		Priority:   effectivePriority(cfg, n),
		Count:      n.Count,
		Items:      make([]DocumentItem, 0, len(n.Items)),
		QueuedAt:   n.QueuedAt.UTC(),
		Text:       DocumentText{Title: text.Title, Message: text.Message},
	}
	if !n.Published.IsZero() {
		p := n.Published.UTC()
		d.Published = &p
	}
	for _, h := range n.Items {
		d.Items = append(d.Items, DocumentItem{Title: h.Title, Link: h.Link})
	}
	return d
}

// Webhook sends each notification to an HTTP endpoint: by default the
// Document as JSON, or the output of the `template` option.
type Webhook struct {
	service
	url    string
	method string
	header http.Header
	body   *template.Template // nil: the JSON Document
}

// NewWebhook builds a webhook notifier. client may be nil.
func NewWebhook(cfg crier.NotifierConfig, client *http.Client) (*Webhook, error) {
	target, err := svcURL(cfg, "url", "")
	if err != nil {
		return nil, err
	}
	method := strings.ToUpper(strings.TrimSpace(cfg.Option("method", http.MethodPost)))
	if method == "" || strings.ContainsAny(method, " \t\r\n") {
		return nil, fmt.Errorf("notifier %s: option method: %q is not an HTTP method", cfg.Name, method)
	}
	svc, err := newService(cfg, client, "webhook", 10*time.Second)
	if err != nil {
		return nil, err
	}
	w := &Webhook{service: svc, url: target, method: method, header: http.Header{}}
	for k, v := range cfg.Maps["headers"] {
		if strings.ContainsAny(k+v, "\r\n") {
			return nil, fmt.Errorf("notifier %s: header %q contains a line break", cfg.Name, k)
		}
		w.header.Set(k, v)
	}
	if w.body, err = parseNotifierTemplate("template", cfg.Option("template", "")); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", cfg.Name, err)
	}
	if w.body != nil && w.header.Get("Content-Type") == "" {
		w.header.Set("Content-Type", "text/plain; charset=utf-8")
	}
	return w, nil
}

// Send delivers n; any 2xx reply is success.
func (w *Webhook) Send(ctx context.Context, n crier.Notification) error {
	text, err := w.render.render(n)
	if err != nil {
		return err
	}
	var body []byte
	if w.body != nil {
		var b strings.Builder
		if err := w.body.Execute(&b, shown(n)); err != nil {
			return Permanent(fmt.Errorf("notifier %s: template: %w", w.name, err))
		}
		body = []byte(b.String())
	} else if body, err = w.marshal(newDocument(w.cfg, n, text)); err != nil {
		return err
	}
	return w.post(ctx, w.method, w.url, w.header, body, nil)
}
