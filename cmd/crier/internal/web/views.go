package web

import (
	"cmp"
	"encoding/json"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

// Feed statuses, the "status" field of /api/feeds and the data-status
// attribute of the page's feed rows.
const (
	statusOK      = "ok"
	statusPending = "pending" // never polled
	statusError   = "error"   // the last poll failed
	statusBackoff = "backoff" // failing, polls held back until backoff_until
	statusGone    = "gone"    // HTTP 410: polling stopped
	statusMoved   = "moved"   // works, but at moved_to: update the config
)

// jsonTime is a time that encodes as RFC 3339, or null when unknown.
type jsonTime time.Time

func (t jsonTime) MarshalJSON() ([]byte, error) {
	if time.Time(t).IsZero() {
		return []byte("null"), nil
	}
	return json.Marshal(time.Time(t).Format(time.RFC3339))
}

// FeedView is one feed as /api/feeds and the status page show it.
type FeedView struct {
	Name         string   `json:"name"`
	URL          string   `json:"url"`
	Schedule     string   `json:"schedule"`
	Title        string   `json:"title"` // as the feed calls itself
	Link         string   `json:"link"`  // the site the feed belongs to
	LastPoll     jsonTime `json:"last_poll"`
	LastSuccess  jsonTime `json:"last_success"`
	NextPoll     jsonTime `json:"next_poll"` // when it will next be fetched; null: never (gone) or unscheduled
	Status       string   `json:"status"`
	StatusText   string   `json:"status_text"`
	LastError    string   `json:"last_error"`
	LastStatus   int      `json:"last_status"` // HTTP status of the last fetch, 0 if none
	Failures     int      `json:"failures"`
	FailingSince jsonTime `json:"failing_since"`
	BackoffUntil jsonTime `json:"backoff_until"`
	Gone         bool     `json:"gone"`
	MovedTo      string   `json:"moved_to"`
	NewToday     int      `json:"new_today"`
	NewTotal     int64    `json:"new_total"`
	LastNew      jsonTime `json:"last_new"`
	Items        int      `json:"items"`  // items in the last fetch
	Paused       bool     `json:"paused"` // scheduled polls stopped from the page or POST /api/pause
	PausedSince  jsonTime `json:"paused_since"`
	// WebSub is the feed's hub subscription; nil (null) when it has none.
	WebSub *WebSubView `json:"websub"`
}

func (h *handler) feedViews(now time.Time) ([]FeedView, error) {
	return Feeds(h.opt.Store, h.opt.Daemon, now)
}

// Feeds is every configured feed as /api/feeds shows it, sorted by name.
// `crier status` uses it directly when the daemon is not running.
func Feeds(s crier.StatusViews, d Schedule, now time.Time) ([]FeedView, error) {
	states, err := s.FeedStates()
	if err != nil {
		return nil, err
	}
	subs, err := webSubViews(s)
	if err != nil {
		return nil, err
	}
	paused, err := s.Paused()
	if err != nil {
		return nil, err
	}
	today := now.Local().Format(time.DateOnly)
	configured := d.Feeds()
	out := make([]FeedView, 0, len(configured))
	for _, f := range configured {
		st := states[f.FeedID()]
		// Shown, never the credentials a URL carries; errors are stored
		// redacted, but a state file from an older crier may hold them.
		st.LastError, st.MovedTo = feeds.ErrorText(st.LastError), crier.RedactURL(st.MovedTo)
		v := FeedView{
			Name: f.Name, URL: crier.RedactURL(f.URL), Schedule: f.Schedule, Title: st.Title, Link: st.Link,
			LastPoll: jsonTime(st.LastPoll), LastSuccess: jsonTime(st.LastSuccess),
			LastError: st.LastError, LastStatus: st.LastStatus, Failures: st.Failures,
			FailingSince: jsonTime(st.FailingSince), Gone: st.Gone, MovedTo: st.MovedTo,
			NewTotal: st.NewTotal, LastNew: jsonTime(st.LastNew), Items: st.Items,
			WebSub: subs[f.FeedID()],
		}
		if st.NewDay == today {
			v.NewToday = st.NewToday
		}
		if st.BackoffUntil.After(now) {
			v.BackoffUntil = jsonTime(st.BackoffUntil)
		}
		v.Status, v.StatusText = feedStatus(st, now)
		since, isPaused := paused[f.FeedID()]
		v.Paused, v.PausedSince = isPaused, jsonTime(since)
		if !st.Gone && !isPaused {
			v.NextPoll = jsonTime(nextFetch(f, st, d.NextPoll(f.FeedID()), now))
		}
		out = append(out, v)
	}
	slices.SortFunc(out, func(a, b FeedView) int {
		return cmp.Or(cmp.Compare(strings.ToLower(a.Name), strings.ToLower(b.Name)), cmp.Compare(a.Name, b.Name))
	})
	return out, nil
}

// feedStatus sums a feed's state up, worst first.
func feedStatus(st crier.FeedState, now time.Time) (status, text string) {
	switch {
	case st.Gone:
		return statusGone, "gone (410)"
	case st.LastPoll.IsZero():
		return statusPending, "not polled yet"
	case st.Failures > 0 && st.BackoffUntil.After(now):
		return statusBackoff, "backing off until " + clock(st.BackoffUntil) + ": " + st.LastError
	case st.Failures > 0:
		return statusError, cmp.Or(st.LastError, "failing")
	case st.MovedTo != "":
		return statusMoved, "moved to " + st.MovedTo
	}
	return statusOK, "ok"
}

// nextFetch is when the feed will actually be fetched: the scheduler's next
// tick, or the first tick after a backoff (or publisher's floor) ends.
func nextFetch(f crier.Feed, st crier.FeedState, tick, now time.Time) time.Time {
	hold := st.BackoffUntil
	if f.RespectTTL && st.NotBefore.After(hold) {
		hold = st.NotBefore
	}
	if tick.IsZero() || !hold.After(now) || !hold.After(tick) {
		return tick
	}
	if t, err := feeds.NextPoll(f.Schedule, hold); err == nil {
		return t
	}
	return hold
}

// clock formats a time for people, in the daemon's time zone.
func clock(t time.Time) string {
	if t.IsZero() {
		return "never"
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

// queueView is one notifier's outbox.
type queueView struct {
	Notifier         string   `json:"notifier"`
	Depth            int      `json:"depth"`
	Oldest           jsonTime `json:"oldest"` // when the oldest entry was queued
	OldestAgeSeconds float64  `json:"oldest_age_seconds"`
	// NextTry is when the notifier next tries to send: its head entry's
	// retry time while it backs off (or is parked); null: now.
	NextTry   jsonTime `json:"next_try"`
	LastError string   `json:"last_error"` // of the head entry
}

// entryView is one queued notification.
type entryView struct {
	ID        uint64   `json:"id"`
	Notifier  string   `json:"notifier"`
	Kind      string   `json:"kind"`
	Feed      string   `json:"feed"`
	Title     string   `json:"title"`
	Link      string   `json:"link"`
	Attempts  int      `json:"attempts"`
	NextTry   jsonTime `json:"next_try"`
	LastError string   `json:"last_error"`
	Created   jsonTime `json:"created"`
}

func outboxViews(entries []crier.Entry, now time.Time) ([]queueView, []entryView) {
	byName := map[string]*queueView{}
	var queues []queueView
	views := make([]entryView, 0, len(entries))
	for _, e := range entries {
		n := e.Notification
		views = append(views, entryView{
			ID: e.ID, Notifier: e.Notifier, Kind: n.Kind, Feed: n.Feed, Title: n.Title, Link: n.Link,
			Attempts: e.Attempts, NextTry: jsonTime(e.NextTry), LastError: e.LastError, Created: jsonTime(e.Created),
		})
		q := byName[e.Notifier]
		if q == nil {
			// Entries come by ID, so the first one seen is the head.
			q = &queueView{Notifier: e.Notifier, LastError: e.LastError}
			if e.NextTry.After(now) {
				q.NextTry = jsonTime(e.NextTry)
			}
			byName[e.Notifier] = q
		}
		q.Depth++
		if t := time.Time(q.Oldest); t.IsZero() || e.Created.Before(t) {
			q.Oldest = jsonTime(e.Created)
			q.OldestAgeSeconds = max(now.Sub(e.Created).Seconds(), 0)
		}
	}
	for _, q := range byName {
		queues = append(queues, *q)
	}
	slices.SortFunc(queues, func(a, b queueView) int { return cmp.Compare(a.Notifier, b.Notifier) })
	return queues, views
}

// deadView is one dead letter.
type deadView struct {
	ID       uint64   `json:"id"`
	Notifier string   `json:"notifier"`
	Kind     string   `json:"kind"`
	Feed     string   `json:"feed"`
	Title    string   `json:"title"`
	Link     string   `json:"link"`
	Attempts int      `json:"attempts"`
	Reason   string   `json:"reason"`
	Created  jsonTime `json:"created"`
	DiedAt   jsonTime `json:"died_at"`
}

func deadViews(dl []crier.DeadLetter) []deadView {
	out := make([]deadView, 0, len(dl))
	for _, d := range dl {
		n := d.Notification
		out = append(out, deadView{
			ID: d.ID, Notifier: d.Notifier, Kind: n.Kind, Feed: n.Feed, Title: n.Title, Link: n.Link,
			Attempts: d.Attempts, Reason: d.Reason, Created: jsonTime(d.Created), DiedAt: jsonTime(d.DiedAt),
		})
	}
	return out
}
