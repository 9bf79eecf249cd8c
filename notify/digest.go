package notify

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
	"github.com/robfig/cron/v3"
)

// Digests: a notifier with a digest schedule sends its non-urgent items
// (not alerts) as one notification per scheduled time instead of one by one. The items
// wait in the outbox, so a digest survives restarts like anything else;
// at each scheduled time the entries created before it are coalesced into
// one digest entry in a single transaction.

// digestMax caps the headlines listed in one digest; the rest are counted.
const digestMax = 30

// lastFireMax bounds how far back lastFire looks (cron itself looks no
// further than five years ahead).
const lastFireMax = 5 * 366 * day

// lastFire is the most recent time at or before now that sched fired, or
// zero if none within lastFireMax. The gaps between fires vary (a weekday
// schedule skips the weekend, "* * * * 1" sleeps six days), so it doubles
// its look-back until the schedule fires by now, then bisects for the last
// fire: a few dozen Next calls, whatever the schedule.
func lastFire(sched cron.Schedule, now time.Time) time.Time {
	firesBy := func(from time.Time) bool { // the first fire after from is by now
		t := sched.Next(from)
		return !t.IsZero() && !t.After(now) // zero: no fire within five years
	}
	back := day
	if next := sched.Next(now); !next.IsZero() {
		if gap := sched.Next(next).Sub(next); gap > 0 {
			back = gap
		}
	}
	// Invariant: sched does not fire in (hi, now].
	lo, hi := time.Time{}, now
	for {
		if back > lastFireMax {
			return time.Time{}
		}
		from := now.Add(-back)
		if firesBy(from) {
			lo = from
			break
		}
		hi, back = from, back*2
	}
	// The last fire is in (lo, hi]; fires fall on whole seconds, so once
	// that is at most a second long, the first fire after lo is it.
	for hi.Sub(lo) > time.Second {
		mid := lo.Add(hi.Sub(lo) / 2)
		if firesBy(mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	return sched.Next(lo)
}

// pickDigest returns the oldest entry that may go now: urgent ones and
// finished digests. At a scheduled time it first coalesces what waited.
func (d *Dispatcher) pickDigest(l *lane, now time.Time) (crier.Entry, bool, time.Time, error) {
	boundary := lastFire(l.digest, now)
	pending, err := d.out.Pending(l.name)
	if err != nil {
		return crier.Entry{}, false, time.Time{}, fmt.Errorf("notifier %s: outbox entries: %w", l.name, err)
	}
	var held []crier.Entry
	for _, e := range pending {
		if holds(l, e, now) && !boundary.IsZero() && e.Created.Before(boundary) {
			held = append(held, e)
		}
	}
	if len(held) > 0 {
		if err := d.coalesceDigest(l, held, now); err != nil {
			return crier.Entry{}, false, time.Time{}, err
		}
		if pending, err = d.out.Pending(l.name); err != nil {
			return crier.Entry{}, false, time.Time{}, fmt.Errorf("notifier %s: outbox entries: %w", l.name, err)
		}
	}
	e, ok, wake := firstUnheld(l, pending, now, l.digest.Next(now))
	return e, ok, wake, nil
}

// coalesceDigest replaces held entries by one digest: grouped by feed,
// newest first, capped at digestMax headlines.
func (d *Dispatcher) coalesceDigest(l *lane, held []crier.Entry, now time.Time) error {
	type piece struct {
		feed string
		at   time.Time
		h    crier.Headline
	}
	var pieces []piece
	feedOrder := map[string]int{}
	ids := make([]uint64, 0, len(held))
	stories := map[string]int{} // story -> its piece
	for _, e := range held {
		ids = append(ids, e.ID)
		n := e.Notification
		if i, ok := stories[n.Story]; ok && n.Kind == crier.KindItem {
			pieces[i].h.Sources = joinSources(pieces[i].h.Sources, n.Feed, n.AlsoIn)
			continue
		}
		if _, ok := feedOrder[n.Feed]; !ok {
			feedOrder[n.Feed] = len(feedOrder)
		}
		at := n.Published
		if at.IsZero() {
			at = e.Created
		}
		if n.Kind == crier.KindSummary {
			for _, h := range n.Items {
				pieces = append(pieces, piece{n.Feed, at, h})
			}
			for range max(n.Count-len(n.Items), 0) {
				pieces = append(pieces, piece{feed: n.Feed, at: at})
			}
			continue
		}
		h := crier.Headline{Title: renderHeadline(n), Link: n.Link}
		if n.Story != "" && n.Kind == crier.KindItem {
			stories[n.Story] = len(pieces)
			h.Sources = joinSources("", n.Feed, n.AlsoIn)
			if d.opt.StorySources != nil {
				h.Sources = joinSources(h.Sources, "", d.opt.StorySources(n.Story))
			}
		}
		pieces = append(pieces, piece{n.Feed, at, h})
	}
	slices.SortStableFunc(pieces, func(a, b piece) int {
		if c := cmp.Compare(feedOrder[a.feed], feedOrder[b.feed]); c != 0 {
			return c
		}
		return b.at.Compare(a.at)
	})
	feedsLabel := fmt.Sprintf("%d feeds", len(feedOrder))
	if len(feedOrder) == 1 {
		feedsLabel = held[0].Notification.Feed
	}
	dig := crier.Notification{
		Kind: crier.KindSummary, Digest: true, Feed: feedsLabel,
		Count: len(pieces), QueuedAt: now,
	}
	if len(feedOrder) == 1 {
		dig.FeedURL, dig.FeedLink = held[0].Notification.FeedURL, held[0].Notification.FeedLink
		dig.Link = dig.FeedLink
	}
	for _, p := range pieces {
		if len(dig.Items) == digestMax {
			break
		}
		if p.h.Title == "" && p.h.Link == "" {
			continue // counted in a summary, never listed
		}
		switch {
		case strings.Contains(p.h.Sources, ", "):
			p.h.Title = p.h.Sources + ": " + p.h.Title // one story, every feed that told it
		case len(feedOrder) > 1:
			p.h.Title = p.feed + ": " + p.h.Title
		}
		dig.Items = append(dig.Items, p.h)
	}
	dig.Title = renderSummaryTitle(dig)
	if _, err := d.out.Coalesce(l.name, ids, dig); err != nil {
		return fmt.Errorf("notifier %s: digest of %d entries: %w", l.name, len(ids), err)
	}
	d.log.Info("digest ready", "notifier", l.name, "headlines", dig.Count, "feeds", len(feedOrder))
	return nil
}

// joinSources adds feed and more to a comma-separated list of feeds.
func joinSources(list, feed string, more []string) string {
	names := []string{}
	if list != "" {
		names = strings.Split(list, ", ")
	}
	for _, f := range append([]string{feed}, more...) {
		if f != "" && !slices.Contains(names, f) {
			names = append(names, f)
		}
	}
	return strings.Join(names, ", ")
}
