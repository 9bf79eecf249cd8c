package crier

import "time"

// The store's port: what each consumer needs of crier's state, whichever
// backend keeps it (store/bolt, the embedded default; store/postgres, for
// a fleet). feeds/ and notify/ name these and import no store; a backend
// implements them all (store.Store), and the conformance suite in
// store/storetest checks that it keeps their promises.

// Recorder is what polling needs: feed state, and the one transaction
// that marks a fetch's items seen and queues their notifications.
type Recorder interface {
	FeedState(feedID string) (FeedState, bool, error)
	SaveFeedState(feedID string, st FeedState) error
	Ingest(feedID string, st FeedState, items []Item,
		plan func(fresh []NewItem, firstPoll bool) []Delivery) (IngestResult, error)
	// IngestStories is Ingest with the story index (same_story).
	IngestStories(feedID string, st FeedState, items []Item, window time.Duration,
		plan func(fresh []NewItem, firstPoll bool, stories StoryIndex) ([]Delivery, error)) (IngestResult, error)
	Enqueue(ds ...Delivery) ([]Entry, error)
}

// Outbox is what the dispatcher needs: each notifier's queue in order,
// and the outcome of every send.
type Outbox interface {
	// Next returns the oldest entry of notifier, whatever its NextTry.
	Next(notifier string) (Entry, bool, error)
	// Pending returns every entry of notifier, oldest first.
	Pending(notifier string) ([]Entry, error)
	Done(notifier string, id uint64) error
	Retry(notifier string, id uint64, attempts int, next time.Time, errText string) error
	RetryUnconfirmed(notifier string, id uint64, attempts int, next time.Time, errText string) error
	Bury(notifier string, id uint64, reason string) error
	Coalesce(notifier string, ids []uint64, n Notification) (Entry, error)
}

// StatusViews is what the status page, API and metrics read (and, for
// redeliver, pause and resume, write).
type StatusViews interface {
	FeedStates() (map[string]FeedState, error)
	Outbox() ([]Entry, error)
	DeadLetters() ([]DeadLetter, error)
	Recent(limit int) ([]Recent, error)
	Redeliver(ids ...uint64) (int, error)
	Paused() (map[string]time.Time, error) // by feed ID
	Pause(feedID string) (since time.Time, err error)
	Resume(feedID string) (was bool, err error)
	Days(n int) ([]Day, error) // the charts' daily counters
	// StorySources names the feeds that reported a story ("s12") so far;
	// none once it has left the window.
	StorySources(story string) []string
}

// SubscriptionStore keeps WebSub subscriptions.
type SubscriptionStore interface {
	Subscriptions() ([]Subscription, error)
	SaveSubscription(Subscription) error
	DeleteSubscription(callback string) error
}
