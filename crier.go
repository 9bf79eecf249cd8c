// Package crier is the vocabulary shared by every part of the daemon: feeds,
// items, notifications, per-feed state and the configuration schema. It does
// no network or database work and keeps no global state; every other package
// imports it and it imports none of them.
package crier

import "time"

// ProjectURL is named in the default User-Agent so publishers can reach us.
const ProjectURL = "https://github.com/crierd/crier"

// Item is one entry of a feed, reduced to what crier needs to identify and
// announce it.
type Item struct {
	// Keys identify the item within its feed, strongest first ("g:" GUID,
	// "l:" canonical link, "h:" content hash). An item is new only if none of
	// its keys has been seen in the feed before. Keys[0] is the item's ID.
	Keys []string
	// AltKeys are weaker keys ("t:" title hash) that are remembered but never
	// make an item old on their own; they let the GUID-rotation guard
	// recognise a re-publication.
	AltKeys []string

	Title      string
	Link       string
	Summary    string // plain text: HTML stripped, entities decoded
	Published  time.Time
	Categories []string
	// Image is the item's picture (absolute http(s) URL), "" when it has
	// none; notifiers that can show one attach it.
	Image string
}

// ID is the item's primary key.
func (it Item) ID() string {
	if len(it.Keys) == 0 {
		return ""
	}
	return it.Keys[0]
}

// Headline is a title and link, enough to list an item inside a summary.
type Headline struct {
	Title string `json:"title"`
	Link  string `json:"link,omitempty"`
	// Sources names, comma-separated, every feed that reported the
	// headline's story, so that a summary lists one story once.
	Sources string `json:"sources,omitempty"`
}

// Notification kinds.
const (
	KindItem    = "item"    // one new item
	KindSummary = "summary" // several items of one feed, announced once
	KindTest    = "test"    // crier test-notify
	KindAlert   = "alert"   // something about crier or a feed itself
)

// Notification is what goes into the outbox and what a notifier sends. It
// is self-contained so that it can be delivered after a restart or a config
// reload without looking anything else up.
type Notification struct {
	Kind     string `json:"kind"`
	Feed     string `json:"feed"`                // feed name
	FeedURL  string `json:"feed_url"`            // as configured
	FeedLink string `json:"feed_link,omitempty"` // the site the feed belongs to

	ItemID     string    `json:"item_id,omitempty"`
	Title      string    `json:"title"`
	Link       string    `json:"link,omitempty"`
	Summary    string    `json:"summary,omitempty"`
	Published  time.Time `json:"published,omitzero"`
	Categories []string  `json:"categories,omitempty"`
	// Image is the item's picture, an absolute http(s) URL. It travels in
	// the outbox entry so a push delivered after a restart still has it.
	Image string `json:"image,omitempty"`

	// Priority overrides the notifier's own priority when set (-2..2).
	Priority *int `json:"priority,omitempty"`

	// Count and Items describe a summary notification.
	Count int        `json:"count,omitempty"`
	Items []Headline `json:"items,omitempty"`
	// Digest marks the summary a notifier's digest schedule produced.
	Digest bool `json:"digest,omitempty"`

	// Story identifies the story an item belongs to across feeds, and
	// AlsoIn names the other feeds that reported it so far (same_story).
	Story  string   `json:"story,omitempty"`
	AlsoIn []string `json:"also_in,omitempty"`

	QueuedAt time.Time `json:"queued_at"`
}

// Delivery is a notification addressed to one notifier, as queued in the outbox.
type Delivery struct {
	Notifier     string
	Notification Notification
}

// NewItem is an item none of whose Keys had been seen in its feed.
type NewItem struct {
	Item
	// Reposted is true when one of the item's AltKeys had been seen: the
	// feed may be re-publishing an old story under a new id.
	Reposted bool
}

// FeedState is what crier remembers about a feed between polls.
type FeedState struct {
	URL          string    `json:"url"`
	ETag         string    `json:"etag,omitempty"`
	LastModified string    `json:"last_modified,omitempty"`
	BodyHash     string    `json:"body_hash,omitempty"`
	Title        string    `json:"title,omitempty"`
	Link         string    `json:"link,omitempty"` // the feed's site
	LastPoll     time.Time `json:"last_poll,omitzero"`
	LastSuccess  time.Time `json:"last_success,omitzero"`
	LastStatus   int       `json:"last_status,omitempty"`
	LastError    string    `json:"last_error,omitempty"`
	FailingSince time.Time `json:"failing_since,omitzero"`
	Failures     int       `json:"failures,omitempty"` // consecutive
	Seeded       bool      `json:"seeded,omitempty"`   // the first successful poll is done
	Items        int       `json:"items,omitempty"`    // items in the latest fetch
	LastNew      time.Time `json:"last_new,omitzero"`
	NewTotal     int64     `json:"new_total,omitempty"`
	NewToday     int       `json:"new_today,omitempty"` // new items on NewDay
	NewDay       string    `json:"new_day,omitempty"`   // YYYY-MM-DD, local time

	// BackoffUntil holds polls of a failing (or rate-limiting) feed back.
	BackoffUntil time.Time `json:"backoff_until,omitzero"`
	// NotBefore is the publisher's own refresh floor (ttl, max-age), used
	// only when the feed opts in with respect_ttl.
	NotBefore time.Time `json:"not_before,omitzero"`
	Gone      bool      `json:"gone,omitempty"`     // 410: polling stopped
	MovedTo   string    `json:"moved_to,omitempty"` // 301/308: polled there instead
	Alerted   string    `json:"alerted,omitempty"`  // the health alert last sent: "failing", "stale" or ""
}
