package main

import (
	"context"
	"time"
)

const (
	pruneFirst = time.Minute // after start: let the first polls go first
	pruneEvery = 6 * time.Hour
)

// clock is the daemon's time for the scheduler and the prune loop, so that
// tests can move it instead of sleeping.
type clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// pruneLoop applies retention until ctx ends: it dead-letters the queues of
// removed notifiers, forgets seen items and feeds past retention, and
// drops dead letters past it.
func (d *daemon) pruneLoop(ctx context.Context) {
	wait := pruneFirst
	for {
		select {
		case <-ctx.Done():
			return
		case <-d.clock.After(wait):
		}
		d.swapping.Lock()
		err := d.buryOrphans(d.config())
		d.swapping.Unlock()
		if err != nil && ctx.Err() == nil {
			d.log.Error("dead-lettering queues of removed notifiers", "err", err)
		}
		cfg := d.config()
		keep := map[string]bool{}
		for _, f := range cfg.Feeds {
			keep[f.FeedID()] = true
		}
		cutoff := d.clock.Now().Add(-cfg.Retention)
		n, err := d.store.Prune(ctx, cutoff, keep, 1000)
		if err != nil && ctx.Err() == nil {
			d.log.Error("pruning seen items", "err", err)
		} else if n > 0 {
			d.log.Info("pruned seen items past retention", "removed", n)
		}
		n, err = d.store.PruneDeadLetters(ctx, cutoff, 1000)
		if err != nil && ctx.Err() == nil {
			d.log.Error("pruning dead letters", "err", err)
		} else if n > 0 {
			d.log.Info("pruned dead letters past retention", "removed", n)
		}
		wait = pruneEvery
	}
}
