package feeds

import (
	"cmp"
	"context"
	"errors"
	"slices"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// fakeClaims is FeedClaims as a shared store keeps it, in memory: due
// times and leases judged on the test's clock. Workers are told apart by
// owner; a killed owner's calls fail, as they would for a dead process,
// and its leases run out like any other.
type fakeClaims struct {
	now func() time.Time

	mu     sync.Mutex
	feeds  map[string]*fakeClaim
	killed map[string]bool
	// events hears every ClaimDue and Reschedule (dropped when full).
	events chan claimEvent
}

type fakeClaim struct {
	schedule string
	due      time.Time
	owner    string
	until    time.Time // the lease's end
}

type claimEvent struct {
	op, owner string
	at        time.Time
	ids       []string  // ClaimDue: what was claimed
	next      time.Time // Reschedule
}

var errKilled = errors.New("worker killed")

func newFakeClaims(now func() time.Time) *fakeClaims {
	return &fakeClaims{now: now, feeds: map[string]*fakeClaim{}, killed: map[string]bool{}, events: make(chan claimEvent, 256)}
}

func (c *fakeClaims) kill(owner string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.killed[owner] = true
}

func (c *fakeClaims) note(e claimEvent) {
	select {
	case c.events <- e:
	default:
	}
}

func (c *fakeClaims) SyncFeeds(_ context.Context, feeds []crier.FeedDue) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	want := map[string]bool{}
	for _, f := range feeds {
		want[f.FeedID] = true
		cur, ok := c.feeds[f.FeedID]
		switch {
		case !ok:
			c.feeds[f.FeedID] = &fakeClaim{schedule: f.Schedule, due: f.Due}
		case cur.schedule != f.Schedule:
			cur.schedule = f.Schedule
			if f.Due.Before(cur.due) {
				cur.due = f.Due
			}
		}
	}
	for id := range c.feeds {
		if !want[id] {
			delete(c.feeds, id)
		}
	}
	return nil
}

func (c *fakeClaims) ClaimDue(_ context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[owner] {
		return nil, errKilled
	}
	// The store's clock judges leases, as PostgreSQL's now() would.
	storeNow := c.now()
	var due []string
	for id, f := range c.feeds {
		if !f.due.After(now) && (f.owner == "" || !f.until.After(storeNow)) {
			due = append(due, id)
		}
	}
	slices.SortFunc(due, func(a, b string) int {
		if d := c.feeds[a].due.Compare(c.feeds[b].due); d != 0 {
			return d
		}
		return cmp.Compare(a, b)
	})
	if len(due) > limit {
		due = due[:limit]
	}
	for _, id := range due {
		c.feeds[id].owner, c.feeds[id].until = owner, storeNow.Add(lease)
	}
	c.note(claimEvent{op: "claim", owner: owner, at: now, ids: due})
	return due, nil
}

func (c *fakeClaims) Reschedule(_ context.Context, owner, feedID string, next time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.killed[owner] {
		return errKilled
	}
	f, ok := c.feeds[feedID]
	if !ok || f.owner != owner {
		return nil
	}
	f.owner, f.until, f.due = "", time.Time{}, next
	c.note(claimEvent{op: "reschedule", owner: owner, at: c.now(), ids: []string{feedID}, next: next})
	return nil
}

func (c *fakeClaims) due(feedID string) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.feeds[feedID]; ok {
		return f.due
	}
	return time.Time{}
}
