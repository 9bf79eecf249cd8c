package crier

import (
	"errors"
	"time"
)

// The outbox and what is kept of deliveries: the types every store backend
// (store/bolt, store/postgres) returns, and the dispatcher, the poller and
// the status page read.

// Entry is one notification waiting in the outbox for one notifier.
type Entry struct {
	// ID is unique across the outbox and dead letters and increases with
	// queueing order; a notifier's queue is sent in ID order.
	ID           uint64       `json:"id"`
	Notifier     string       `json:"notifier"`
	Notification Notification `json:"notification"`
	Attempts     int          `json:"attempts,omitempty"`
	NextTry      time.Time    `json:"next_try,omitzero"` // zero: now
	LastError    string       `json:"last_error,omitempty"`
	// Unconfirmed counts the sends that timed out after the service got
	// the whole request: each may have delivered it.
	Unconfirmed int       `json:"unconfirmed,omitempty"`
	Created     time.Time `json:"created"`
}

// DeadLetter is an entry given up on.
type DeadLetter struct {
	Entry
	Reason string    `json:"reason"`
	DiedAt time.Time `json:"died_at"`
}

// Recent is one delivered notification, as shown by `crier status` and
// crier's own feeds (/feeds/all.atom).
type Recent struct {
	At       time.Time `json:"at"`
	Notifier string    `json:"notifier"`
	Feed     string    `json:"feed,omitempty"`
	Title    string    `json:"title"`
	Link     string    `json:"link,omitempty"`

	// The story, for crier's own feeds; absent in deliveries recorded by
	// crier versions before them.
	Kind       string     `json:"kind,omitempty"`
	FeedURL    string     `json:"feed_url,omitempty"`
	ItemID     string     `json:"item_id,omitempty"`
	Summary    string     `json:"summary,omitempty"`
	Published  time.Time  `json:"published,omitzero"`
	Categories []string   `json:"categories,omitempty"`
	Items      []Headline `json:"items,omitempty"` // a summary's
	QueuedAt   time.Time  `json:"queued_at,omitzero"`
	// Story is the cross-feed story (same_story) and AlsoIn the other feeds
	// that had reported it when it was queued: the status page and crier's
	// own feeds show a story once, with its sources.
	Story  string   `json:"story,omitempty"`
	AlsoIn []string `json:"also_in,omitempty"`
}

// RecentKept is how many deliveries a store keeps for Recent: enough for
// the last 50 stories even when each went to a few notifiers.
const RecentKept = 200

// RecentOf is what is kept of n, delivered to notifier at at.
func RecentOf(at time.Time, notifier string, n Notification) Recent {
	return Recent{
		At: at, Notifier: notifier, Feed: n.Feed, Title: n.Title, Link: n.Link,
		Kind: n.Kind, FeedURL: n.FeedURL, ItemID: n.ItemID, Summary: n.Summary, Published: n.Published,
		Categories: n.Categories, Items: n.Items, QueuedAt: n.QueuedAt, Story: n.Story, AlsoIn: n.AlsoIn,
	}
}

// IngestResult says what one Ingest did.
type IngestResult struct {
	Items     int // items with at least one key
	New       int // items none of whose keys had been seen
	Queued    int // deliveries put in the outbox
	FirstPoll bool
}

// ErrNotFound reports an outbox or dead-letter entry that does not exist.
var ErrNotFound = errors.New("no such entry")

// Day is one day's counters.
type Day struct {
	Date     string         // YYYY-MM-DD, in the daemon's time zone
	New      map[string]int // new items by feed ID (a feed's seeding poll counts none)
	Sent     map[string]int // notifications delivered, by notifier
	Polls    int            // polls that fetched
	Failures int            // of those, the failed ones
	PollTime time.Duration  // their summed duration
	PollMax  time.Duration  // the longest
}
