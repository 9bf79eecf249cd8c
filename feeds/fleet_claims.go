package feeds

import (
	"context"
	"time"

	"github.com/crierd/crier"
)

// FeedClaims is what a fleet's scheduler needs from a shared store: the
// due times of every feed and leases on them, so that each feed is polled
// by one worker at a time and a dead worker's feeds move to the others
// within one lease.
type FeedClaims interface {
	// SyncFeeds makes the scheduled feeds exactly feeds: a feed new to the
	// store is due at its Due, one whose Schedule changed is due at
	// the earlier of its old due time and Due, and feeds not listed are no
	// longer claimed.
	SyncFeeds(ctx context.Context, feeds []crier.FeedDue) error
	// ClaimDue leases to owner, for lease, up to limit feeds due at or
	// before now that no other worker holds an unexpired lease on, earliest
	// due first, and returns their IDs.
	ClaimDue(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]string, error)
	// Reschedule ends owner's lease on feedID and makes it due at next. It
	// does nothing when owner no longer holds the lease.
	Reschedule(ctx context.Context, owner, feedID string, next time.Time) error
}
