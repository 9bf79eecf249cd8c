package web

import (
	"bytes"
	_ "embed"
	"fmt"
	"html/template"
	"net/http"
	"time"

	"github.com/crierd/crier"
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
	Feeds       []pageFeed
	Failing     int
	Stories     []storyView
	Notifiers   []pageNotifier
	PollsChart  template.HTML
	TimeChart   template.HTML
	Queues      []queueView
	Queued      int
	DeadLetters []deadView
	// CanAct says whether this browser's form posts would pass the guard
	// (a loopback or unix listener); if not, the page shows no buttons.
	CanAct bool
	Note   *pageNote // what the action that led here did
}

// pageFeed is a feed's card: its view and its chart.
type pageFeed struct {
	FeedView
	Chart template.HTML
}

// pageNotifier is a notifier's card.
type pageNotifier struct {
	Name   string
	Queued int
	Chart  template.HTML
}

func (h *handler) statusPage(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	d := pageData{Version: crier.Version, Now: now, CanAct: h.forbidden(r) == ""}
	if n, ok := h.notes.get(r.URL.Query().Get("note"), now); ok {
		d.Note = &n
	}
	d.Healthy, d.Reason = h.opt.Daemon.Healthy(now)
	fv, err := h.feedViews(now)
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	days, err := h.opt.Store.Days(chartDays)
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	ids := map[string]string{} // feed name -> ID, for the counters
	for _, f := range h.opt.Daemon.Feeds() {
		ids[f.Name] = f.FeedID()
	}
	for _, f := range fv {
		if failing(f.Status) {
			d.Failing++
		}
		d.Feeds = append(d.Feeds, pageFeed{f, newItemsChart(days, ids[f.Name])})
	}
	d.PollsChart, d.TimeChart = pollsChart(days), durationChart(days)
	recent, err := h.opt.Store.Recent(0)
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	d.Stories = h.stories(recent)
	entries, err := h.opt.Store.Outbox()
	if err != nil {
		h.failPage(w, r, err)
		return
	}
	d.Queues, _ = outboxViews(entries, now)
	d.Queued = len(entries)
	queued := map[string]int{}
	for _, e := range entries {
		queued[e.Notifier]++
	}
	for _, name := range h.opt.Daemon.Notifiers() {
		d.Notifiers = append(d.Notifiers, pageNotifier{name, queued[name], sentChart(days, name)})
	}
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
	// No script runs on this page, its forms post only to itself, and
	// nothing may frame it.
	w.Header().Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Not no-referrer: under it a browser sends "Origin: null" with the
	// page's own form posts, which the guard must refuse. Links away from
	// the page still carry no referrer (and have rel=noreferrer).
	w.Header().Set("Referrer-Policy", "same-origin")
	_, _ = w.Write(buf.Bytes())
}

// storyView is one delivered headline, with every notifier it reached.
type storyView struct {
	At        time.Time // the first delivery
	Feeds     []string  // every feed that reported it, the first delivered first
	Title     string
	Link      string
	Notifiers []string // sorted
}

// stories groups recent deliveries (newest first) by story, as crier's
// own feeds do, keeping every kind: a test or an alert was delivered too.
func (h *handler) stories(recent []crier.Recent) []storyView {
	var out []storyView
	for _, s := range h.withSources(collectStories(recent, func(crier.Recent) bool { return true }, 0)) {
		out = append(out, storyView{At: s.first, Feeds: s.sources, Title: s.r.Title, Link: s.r.Link, Notifiers: s.notifiers})
	}
	return out
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
