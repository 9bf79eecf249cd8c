package notify

import (
	"fmt"
	"time"

	"github.com/crierd/crier"
)

// Quiet hours: a daily window, in its own time zone, during which a
// notifier's non-urgent entries wait. A window may cross midnight
// (22:00-07:00). Times are wall-clock offsets, so a DST change moves the
// window with the clock on the wall, as a person expects.

const day = 24 * time.Hour

func quietLoc(q *crier.QuietHours) *time.Location {
	if q.Location != nil {
		return q.Location
	}
	return time.Local
}

// wallOffset is t's time of day as shown on a clock.
func wallOffset(t time.Time) time.Duration {
	h, m, s := t.Clock()
	return time.Duration(h)*time.Hour + time.Duration(m)*time.Minute + time.Duration(s)*time.Second +
		time.Duration(t.Nanosecond())
}

// at is the moment the wall clock shows off on t's date moved by days.
// time.Date normalises, so this stays right across month ends and DST.
func at(t time.Time, off time.Duration, days int) time.Time {
	off = ((off % day) + day) % day
	y, m, d := t.Date()
	h, mi := int(off/time.Hour), int(off%time.Hour/time.Minute)
	s, ns := int(off%time.Minute/time.Second), int(off%time.Second)
	return time.Date(y, m, d+days, h, mi, s, ns, t.Location())
}

// inQuiet reports whether now falls inside the window. From == To is an
// empty window.
func inQuiet(q *crier.QuietHours, now time.Time) bool {
	from, to := ((q.From%day)+day)%day, ((q.To%day)+day)%day
	if from == to {
		return false
	}
	off := wallOffset(now.In(quietLoc(q)))
	if from < to {
		return off >= from && off < to
	}
	return off >= from || off < to
}

// quietEnd is the next moment after now at which the window closes.
func quietEnd(q *crier.QuietHours, now time.Time) time.Time {
	t := now.In(quietLoc(q))
	end := at(t, q.To, 0)
	if !end.After(t) {
		end = at(t, q.To, 1)
	}
	return end
}

// lastWindow is the most recent window that closed at or before now.
func lastWindow(q *crier.QuietHours, now time.Time) (start, end time.Time) {
	t := now.In(quietLoc(q))
	end = at(t, q.To, 0)
	if end.After(t) {
		end = at(t, q.To, -1)
	}
	start = at(end, q.From, 0)
	if !start.Before(end) {
		start = at(end, q.From, -1)
	}
	return start, end
}

// urgent entries ignore quiet hours: high priority, and tests the user
// just asked for.
func urgent(n crier.Notification) bool {
	return (n.Priority != nil && *n.Priority >= 1) || n.Kind == crier.KindTest
}

// news is what summaries and digests gather: items and summaries of them,
// not alerts or tests.
func news(n crier.Notification) bool {
	return n.Kind == crier.KindItem || n.Kind == crier.KindSummary || n.Kind == ""
}

// pickQuiet returns the oldest urgent entry when it is due; otherwise when
// to look again (that entry's NextTry, or the window's end).
func (d *Dispatcher) pickQuiet(l *lane, now time.Time) (crier.Entry, bool, time.Time, error) {
	wake := quietEnd(l.quiet, now)
	pending, err := d.out.Pending(l.name)
	if err != nil {
		return crier.Entry{}, false, time.Time{}, fmt.Errorf("notifier %s: outbox entries: %w", l.name, err)
	}
	e, ok, wake := firstUnheld(l, pending, now, wake)
	return e, ok, wake, nil
}

// firstUnheld returns the oldest entry that is not held, if it is due;
// otherwise when to look again: its NextTry, or wake when that is sooner
// (the end of the quiet window, the next digest).
func firstUnheld(l *lane, pending []crier.Entry, now, wake time.Time) (crier.Entry, bool, time.Time) {
	for _, e := range pending {
		if holds(l, e, now) {
			continue
		}
		if e.NextTry.After(now) {
			if e.NextTry.Before(wake) {
				wake = e.NextTry
			}
			return crier.Entry{}, false, wake
		}
		return e, true, time.Time{}
	}
	return crier.Entry{}, false, wake
}

// release runs once after each window: the entries queued during it are
// sent in order, except that a feed with more than the notifier's burst of
// them gets one summary instead. It works from the entries' creation times,
// so a process that was not running when the window closed (run --once
// from cron) releases the same way.
func (d *Dispatcher) release(l *lane, now time.Time) error {
	start, end := lastWindow(l.quiet, now)
	if !end.After(l.releasedEnd) {
		return nil
	}
	if l.burst > 0 {
		if err := d.summarise(l, start, end, now); err != nil {
			return err
		}
	}
	l.releasedEnd = end
	return nil
}

type heldGroup struct {
	ids   []uint64
	count int
	first crier.Notification
	items []crier.Headline
}

func (d *Dispatcher) summarise(l *lane, start, end, now time.Time) error {
	pending, err := d.out.Pending(l.name)
	if err != nil {
		return fmt.Errorf("notifier %s: outbox entries: %w", l.name, err)
	}
	groups := map[string]*heldGroup{}
	var order []string
	for _, e := range pending {
		n := e.Notification
		if urgent(n) || !news(n) || e.Created.Before(start) || !e.Created.Before(end) {
			continue
		}
		key := n.FeedURL + "\x00" + n.Feed
		g := groups[key]
		if g == nil {
			g = &heldGroup{first: n}
			groups[key] = g
			order = append(order, key)
		}
		g.ids = append(g.ids, e.ID)
		if n.Kind == crier.KindSummary {
			g.count += max(n.Count, len(n.Items))
			g.items = append(g.items, n.Items...)
		} else {
			g.count++
			g.items = append(g.items, crier.Headline{Title: renderHeadline(n), Link: n.Link})
		}
		if g.first.FeedLink == "" {
			g.first.FeedLink = n.FeedLink
		}
	}
	held, summaries := 0, 0
	for _, key := range order {
		g := groups[key]
		held += g.count
		if len(g.ids) < 2 || g.count <= l.burst {
			continue
		}
		sum := crier.Notification{
			Kind:     crier.KindSummary,
			Feed:     g.first.Feed,
			FeedURL:  g.first.FeedURL,
			FeedLink: g.first.FeedLink,
			Count:    g.count,
			Items:    g.items,
			QueuedAt: now,
		}
		sum.Title = renderSummaryTitle(sum)
		if _, err := d.out.Coalesce(l.name, g.ids, sum); err != nil {
			return fmt.Errorf("notifier %s: summarise %d held entries of feed %s: %w", l.name, len(g.ids), g.first.Feed, err)
		}
		summaries++
	}
	if held > 0 {
		d.log.Info("quiet hours over; releasing held notifications",
			"notifier", l.name, "held", held, "summaries", summaries)
	}
	return nil
}
