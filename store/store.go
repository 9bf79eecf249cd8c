// Package store opens the backend a config names: the embedded bbolt file
// (store/bolt, the default) or a PostgreSQL database that a fleet of
// workers shares (store/postgres). Both keep the same promises, checked by
// one conformance suite (store/storetest).
package store

import (
	"context"
	"io"
	"time"

	"github.com/crierd/crier"
)

// Store is everything the daemon and the commands need of crier's state.
// The poller, the dispatcher and the status page each take the few methods
// they use (feeds.Store, notify.Outbox, web.Store).
type Store interface {
	FeedState(feedID string) (crier.FeedState, bool, error)
	FeedStates() (map[string]crier.FeedState, error)
	SaveFeedState(feedID string, st crier.FeedState) error
	Ingest(feedID string, st crier.FeedState, items []crier.Item,
		plan func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery) (crier.IngestResult, error)
	IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
		plan func(fresh []crier.NewItem, firstPoll bool, stories crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error)
	Seen(feedID, key string) (bool, error)
	SeenAt(feedID, key string) (time.Time, bool, error)

	Enqueue(ds ...crier.Delivery) ([]crier.Entry, error)
	Next(notifier string) (crier.Entry, bool, error)
	Pending(notifier string) ([]crier.Entry, error)
	Outbox() ([]crier.Entry, error)
	OutboxCounts() (map[string]int, error)
	OutboxNotifiers() ([]string, error)
	Done(notifier string, id uint64) error
	Retry(notifier string, id uint64, attempts int, next time.Time, errText string) error
	RetryUnconfirmed(notifier string, id uint64, attempts int, next time.Time, errText string) error
	Bury(notifier string, id uint64, reason string) error
	Coalesce(notifier string, ids []uint64, n crier.Notification) (crier.Entry, error)
	DeadLetters() ([]crier.DeadLetter, error)
	Redeliver(ids ...uint64) (int, error)
	Recent(limit int) ([]crier.Recent, error)

	Pause(feedID string) (since time.Time, err error)
	Resume(feedID string) (was bool, err error)
	IsPaused(feedID string) (bool, error)
	Paused() (map[string]time.Time, error)

	Prune(ctx context.Context, cutoff time.Time, keepFeeds map[string]bool, chunk int) (removed int, err error)
	PruneDeadLetters(ctx context.Context, cutoff time.Time, chunk int) (removed int, err error)

	RecordPoll(took time.Duration, failed bool)
	Days(n int) ([]crier.Day, error)

	StoryByKey(key string) (crier.Story, bool, error)
	StorySources(story string) []string

	SaveSubscription(sub crier.Subscription) error
	DeleteSubscription(callback string) error
	Subscriptions() ([]crier.Subscription, error)

	// Flush writes what the store holds back for the next commit.
	Flush() error
	Close() error
}

// Fleet is what a store shared by several workers adds: leases on feeds
// and notifier lanes, and the config generation that makes a reload on
// one worker a reload on all.
type Fleet interface {
	Store
	SyncFeeds(ctx context.Context, feeds []crier.FeedDue) error
	ClaimDue(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]string, error)
	Reschedule(ctx context.Context, owner, feedID string, next time.Time) error
	HoldLane(ctx context.Context, notifier, owner string, ttl time.Duration) (bool, error)
	ReleaseLane(ctx context.Context, notifier, owner string) error
	// PublishConfig records that worker loaded a config whose content
	// hashes to hash, and returns the new generation.
	PublishConfig(ctx context.Context, worker, hash string) (int64, error)
	// ConfigGeneration returns the last published generation, with the
	// hash and the worker that published it; 0 when none was.
	ConfigGeneration(ctx context.Context) (gen int64, hash, worker string, err error)
}

// Backup is what a store that is one file offers: a consistent copy
// while the daemon runs (GET /api/backup).
type Backup interface {
	WriteBackup(w io.Writer) (int64, error)
}
