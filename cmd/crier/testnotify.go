package main

import (
	"context"
	"fmt"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify"
)

// sendTest sends one test notification through a freshly built nc, outside
// the outbox: what `crier test-notify` and the status page's button do. A
// failure says how the dispatcher would treat it.
func sendTest(ctx context.Context, nc crier.NotifierConfig, deps notify.Deps) error {
	n, err := notify.Build(nc, deps)
	if err != nil {
		return err
	}
	now := time.Now()
	msg := crier.Notification{
		Kind: crier.KindTest, Feed: "crier", Title: "crier test notification",
		Summary: "If you can read this, notifier " + nc.Name + " works.", Link: crier.ProjectURL,
		Published: now, QueuedAt: now,
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.Send(sctx, msg); err != nil {
		c := notify.Classify(err)
		kind := "temporary failure (would be retried)"
		if c.Permanent {
			kind = "permanent failure (would be dead-lettered)"
		} else if !c.ParkUntil.IsZero() {
			kind = "quota exhausted until " + c.ParkUntil.Format(time.RFC3339)
		}
		return fmt.Errorf("%s (%s): %s: %w", nc.Name, nc.Type, kind, err)
	}
	return nil
}
