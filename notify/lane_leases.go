package notify

import (
	"context"
	"time"
)

// LaneLeases is what the dispatcher needs to share an outbox with other
// workers: one worker at a time sends on a notifier's lane, so its order
// and "a crash repeats at most the send in flight" hold across the fleet.
type LaneLeases interface {
	// HoldLane takes or renews owner's lease on notifier's lane until
	// ttl from now. It returns false, and changes nothing, while another
	// owner holds an unexpired lease.
	HoldLane(ctx context.Context, notifier, owner string, ttl time.Duration) (bool, error)
	// ReleaseLane ends owner's lease, so another worker may take the lane
	// at once; it does nothing when owner does not hold it.
	ReleaseLane(ctx context.Context, notifier, owner string) error
}
