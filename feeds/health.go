package feeds

import (
	"fmt"
	"time"

	"github.com/crierd/crier"
)

// Health alert states kept in FeedState.Alerted.
const (
	alertFailing = "failing"
	alertStale   = "stale"
)

// countNew keeps the per-feed counters the status page shows.
func countNew(st *crier.FeedState, now time.Time, n int) {
	day := now.Local().Format(time.DateOnly)
	if st.NewDay != day {
		st.NewDay, st.NewToday = day, 0
	}
	st.NewToday += n
	st.NewTotal += int64(n)
	st.LastNew = now
}

// checkHealth sends one alert when a feed has failed for longer than its
// alert_after (and one notice when it recovers), and one when a working
// feed has published nothing for stale_after. The state change is saved
// after the alert is queued: a crash in between repeats an alert rather
// than losing it.
func (p *Poller) checkHealth(feed crier.Feed, st *crier.FeedState) {
	alerts := p.routing.Load().Alerts
	if len(alerts) == 0 {
		return
	}
	now := p.opt.Now()
	var title, next string
	switch {
	case st.Failures > 0 && feed.AlertAfter > 0 && now.Sub(st.FailingSince) >= feed.AlertAfter && st.Alerted != alertFailing:
		// LastError is stored redacted; one stored by an older crier is not.
		title = fmt.Sprintf("%s has failed since %s: %s", feed.Name, st.FailingSince.Local().Format("Monday 15:04"), ErrorText(st.LastError))
		next = alertFailing
	case st.Failures == 0 && st.Alerted == alertFailing:
		title = fmt.Sprintf("%s works again", feed.Name)
		next = ""
	case st.Failures == 0 && feed.StaleAfter > 0 && !st.LastNew.IsZero() && now.Sub(st.LastNew) >= feed.StaleAfter && st.Alerted != alertStale:
		title = fmt.Sprintf("%s has published nothing since %s", feed.Name, st.LastNew.Local().Format("Monday 2 Jan 15:04"))
		next = alertStale
	case st.Alerted == alertStale && now.Sub(st.LastNew) < feed.StaleAfter:
		next = "" // publishing again: no notice needed, but re-arm
	default:
		return
	}
	if title != "" {
		// An alert leaves the machine: never with the feed's credentials.
		// The link is the feed as the user knows it, or its site when the
		// feed's own address only works with the credentials left out.
		shown, link := crier.RedactURL(feed.URL), feed.URL
		if shown != feed.URL {
			link = st.Link
		}
		var ds []crier.Delivery
		for _, n := range alerts {
			ds = append(ds, crier.Delivery{Notifier: n, Notification: crier.Notification{
				Kind: crier.KindAlert, Feed: feed.Name, FeedURL: shown, FeedLink: st.Link,
				Title: title, Link: link, QueuedAt: now,
			}})
		}
		if _, err := p.store.Enqueue(ds...); err != nil {
			p.disk.failed(now, feed.Name, fmt.Errorf("queue feed health alert: %w", err))
			return
		}
		p.opt.Log.Warn("feed health alert", "feed", feed.Name, "alert", title)
		p.opt.Queued()
	}
	st.Alerted = next
	if err := p.store.SaveFeedState(feed.FeedID(), *st); err != nil {
		p.disk.failed(now, feed.Name, fmt.Errorf("save feed state: %w", err))
	}
}
