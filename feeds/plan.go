package feeds

import (
	"fmt"
	"slices"
	"sort"
	"time"

	"github.com/crierd/crier"
)

// summaryHeadlines is how many titles a burst summary lists.
const summaryHeadlines = 5

// PlanInput is everything the notification policy needs about one poll.
type PlanInput struct {
	Feed      crier.Feed
	FeedLink  string // the site the feed belongs to
	Fresh     []crier.NewItem
	FirstPoll bool
	// NotifierBurst holds the notifiers that set their own burst threshold.
	NotifierBurst map[string]int
	Now           time.Time
}

// PlanStats says what the policy decided, for logs and metrics.
type PlanStats struct {
	Announced int // items that reach at least one notifier
	Filtered  int // dropped by include/exclude
	Reposted  int // dropped as re-publications under new ids
	Backlog   int // dropped by the first poll (beyond backfill)
}

// Plan decides which notifications one poll of a feed produces. It is a
// pure function so the store can run it inside the transaction that marks
// the items seen: either both happen or neither does.
func Plan(in PlanInput) ([]crier.Delivery, PlanStats) {
	var st PlanStats
	items := in.Fresh
	if in.FirstPoll {
		items = newest(items, in.Feed.Backfill)
		st.Backlog = len(in.Fresh) - len(items)
	} else if rotated(items) {
		kept := items[:0:0]
		for _, it := range items {
			if it.Reposted {
				st.Reposted++
				continue
			}
			kept = append(kept, it)
		}
		items = kept
	}

	items = oldestFirst(items)

	// Per notifier, the items routed to it with their priorities.
	type routed struct {
		item     crier.Item
		priority *int
	}
	byNotifier := map[string][]routed{}
	var order []string
	for _, it := range items {
		text := []string{it.Title, it.Summary}
		text = append(text, it.Categories...)
		if !in.Feed.Include.Empty() && !in.Feed.Include.Match(text...) {
			st.Filtered++
			continue
		}
		if in.Feed.Exclude.Match(text...) {
			st.Filtered++
			continue
		}
		priority, notify := in.Feed.Priority, in.Feed.Notify
		for _, r := range in.Feed.Rules {
			if r.Match.Match(text...) {
				if r.Priority != nil {
					priority = r.Priority
				}
				if r.Notify != nil {
					notify = r.Notify
				}
				break
			}
		}
		st.Announced++
		for _, n := range notify {
			if _, ok := byNotifier[n]; !ok {
				order = append(order, n)
			}
			byNotifier[n] = append(byNotifier[n], routed{it.Item, priority})
		}
	}

	var out []crier.Delivery
	for _, n := range order {
		rs := byNotifier[n]
		burst := in.Feed.Burst
		if b, ok := in.NotifierBurst[n]; ok {
			burst = b
		}
		if burst > 0 && len(rs) > burst {
			sum := crier.Notification{
				Kind:     crier.KindSummary,
				Feed:     in.Feed.Name,
				FeedURL:  in.Feed.URL,
				FeedLink: in.FeedLink,
				Title:    fmt.Sprintf("%d new headlines from %s", len(rs), in.Feed.Name),
				Link:     in.FeedLink,
				Count:    len(rs),
				QueuedAt: in.Now,
			}
			priorities := make([]*int, 0, len(rs))
			for i, r := range rs {
				if i < summaryHeadlines {
					sum.Items = append(sum.Items, crier.Headline{Title: r.item.Title, Link: r.item.Link})
				}
				priorities = append(priorities, r.priority)
			}
			sum.Priority = summaryPriority(priorities)
			out = append(out, crier.Delivery{Notifier: n, Notification: sum})
			continue
		}
		for _, r := range rs {
			out = append(out, crier.Delivery{Notifier: n, Notification: itemNotification(in, r.item, r.priority)})
		}
	}
	return out, st
}

func itemNotification(in PlanInput, it crier.Item, priority *int) crier.Notification {
	return crier.Notification{
		Kind:       crier.KindItem,
		Feed:       in.Feed.Name,
		FeedURL:    in.Feed.URL,
		FeedLink:   in.FeedLink,
		ItemID:     it.ID(),
		Title:      it.Title,
		Link:       it.Link,
		Summary:    it.Summary,
		Published:  it.Published,
		Categories: it.Categories,
		Image:      it.Image,
		Priority:   priority,
		QueuedAt:   in.Now,
	}
}

// rotated reports whether most of a poll's new items are old stories under
// new ids. A single recurring title ("Daily briefing") is not enough.
func rotated(items []crier.NewItem) bool {
	n := 0
	for _, it := range items {
		if it.Reposted {
			n++
		}
	}
	return n >= 2 && 2*n > len(items)
}

// newest returns the n most recent items: by date where every item has
// one, otherwise in feed order (feeds list newest first).
func newest(items []crier.NewItem, n int) []crier.NewItem {
	if n <= 0 {
		return nil
	}
	if n >= len(items) {
		return items
	}
	dated := true
	for _, it := range items {
		if it.Published.IsZero() {
			dated = false
			break
		}
	}
	if !dated {
		return items[:n]
	}
	sorted := append([]crier.NewItem(nil), items...)
	sort.SliceStable(sorted, func(i, j int) bool { return sorted[i].Published.After(sorted[j].Published) })
	return sorted[:n]
}

// oldestFirst orders items so that they are announced as they were
// published: by date where every item has one, else reversing the feed's
// newest-first order.
func oldestFirst(items []crier.NewItem) []crier.NewItem {
	out := append([]crier.NewItem(nil), items...)
	for _, it := range out {
		if it.Published.IsZero() {
			slices.Reverse(out)
			return out
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Published.Before(out[j].Published) })
	return out
}

// summaryPriority is the priority of a summary standing for items with
// these priorities: the most urgent of them, wherever it sits in the burst.
// nil means the notifier's default, which Plan does not know; a summary
// keeps it when any item has it, unless another asked for urgent (>= 1,
// which quiet hours let through), so that one low-priority rule cannot
// quieten a burst of ordinary news.
func summaryPriority(ps []*int) *int {
	var top *int
	unset := false
	for _, p := range ps {
		switch {
		case p == nil:
			unset = true
		case top == nil || *p > *top:
			top = p
		}
	}
	if unset && (top == nil || *top < 1) {
		return nil
	}
	return top
}
