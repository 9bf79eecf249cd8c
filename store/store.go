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

// Store is everything the daemon and the commands need of crier's state:
// the consumers' ports (crier.Recorder for polling, crier.Outbox for the
// dispatcher, crier.StatusViews for the status page, crier.SubscriptionStore
// for WebSub) and what the commands add.
type Store interface {
	crier.Recorder
	crier.Outbox
	crier.StatusViews
	crier.SubscriptionStore

	Seen(feedID, key string) (bool, error)
	SeenAt(feedID, key string) (time.Time, bool, error)
	OutboxCounts() (map[string]int, error)
	OutboxNotifiers() ([]string, error)
	IsPaused(feedID string) (bool, error)

	Prune(ctx context.Context, cutoff time.Time, keepFeeds map[string]bool, chunk int) (removed int, err error)
	PruneDeadLetters(ctx context.Context, cutoff time.Time, chunk int) (removed int, err error)
	RecordPoll(took time.Duration, failed bool)
	StoryByKey(key string) (crier.Story, bool, error)

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
