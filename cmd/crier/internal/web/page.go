package web

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

//go:embed page.html
var pageSource string

// parsePage parses the status page. html/template escapes every value by
// context, which matters here: titles, names and errors all come from feeds.
func parsePage() *template.Template {
	return template.Must(template.New("page").Funcs(template.FuncMap{
		"clock": func(t any) string { return clock(asTime(t)) },
		"ago":   ago,
		"iso":   func(t any) string { return isoOrEmpty(asTime(t)) },
	}).Parse(pageSource))
}

type pageData struct {
	Version     string
	Now         time.Time
	Healthy     bool
	Reason      string
	Feeds       []FeedView
	Failing     int
	Recent      []store.Recent
	Queues      []queueView
	Queued      int
	DeadLetters []deadView
}

func (h *handler) statusPage(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	d := pageData{Version: crier.Version, Now: now}
	d.Healthy, d.Reason = h.opt.Daemon.Healthy(now)
	var err error
	if d.Feeds, err = h.feedViews(now); err != nil {
		h.failPage(w, r, err)
		return
	}
	for _, f := range d.Feeds {
		if failing(f.Status) {
			d.Failing++
		}
	}
	if d.Recent, err = h.opt.Store.Recent(50); err != nil {
		h.failPage(w, r, err)
		return
	}
	entries, err := h.opt.Store.Outbox()
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	d.Queues, _ = outboxViews(entries, now)
	d.Queued = len(entries)
	dl, err := h.opt.Store.DeadLetters()
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	d.DeadLetters = deadViews(dl)

	// Render fully before writing, so a template error is a clean 500
	// rather than half a page.
	var buf bytes.Buffer
	if err := h.page.Execute(&buf, d); err != nil {
		h.failPage(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	// No script runs on this page, and nothing may frame it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.Header().Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

func (h *handler) failPage(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web: status page", "err", err)
	http.Error(w, "crier: cannot render the status page: "+err.Error(), http.StatusInternalServerError)
}

func asTime(v any) time.Time {
	switch t := v.(type) {
	case time.Time:
		return t
	case jsonTime:
		return time.Time(t)
	}
	return time.Time{}
}

func isoOrEmpty(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Format(time.RFC3339)
}

// ago says how far t is from now, roughly: "5m ago", "in 2h", "never".
func ago(now time.Time, v any) string {
	t := asTime(v)
	if t.IsZero() {
		return "never"
	}
	d := now.Sub(t)
	switch {
	case d < 0:
		return "in " + roughly(-d)
	case d < 5*time.Second:
		return "just now"
	}
	return roughly(d) + " ago"
}

func roughly(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}
