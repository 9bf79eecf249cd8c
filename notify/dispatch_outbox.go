package notify

import (
	"context"
	"time"
)

// A full disk fails every outbox write until someone frees space. Logged
// per retry, that is an ERROR per notifier every few seconds that buries
// the line that matters, and retrying every few seconds only spins. So an
// outbox failure is an episode of the lane: one ERROR when it starts,
// retries with a growing pause while it lasts, and one INFO when the
// outbox works again. The poller treats its state writes the same way
// (feeds/storehealth.go). Reads keep working on a full disk, so a lane
// whose step succeeds has written what it failed to write before.

// outboxMaxPause caps the pause of a lane whose outbox keeps failing: a
// freed disk is found within minutes.
const outboxMaxPause = 5 * time.Minute

// outboxTrouble is a lane's current outbox episode; it belongs to the
// lane's goroutine.
type outboxTrouble struct {
	since    time.Time // the episode's first failure; zero: the outbox works
	failures int
}

// failed records a failure at now and returns the pause before the next
// try, doubling from minPause up to maxPause; first tells the episode
// started with it.
func (o *outboxTrouble) failed(now time.Time, minPause, maxPause time.Duration) (pause time.Duration, first bool) {
	first = o.since.IsZero()
	if first {
		o.since = now
	}
	o.failures++
	pause = maxPause
	if shift := o.failures - 1; shift < 32 {
		if p := minPause << shift; p > 0 && p < maxPause {
			pause = p
		}
	}
	return max(pause, minPause), first
}

// worked ends the episode, if there is one, and returns when it started.
func (o *outboxTrouble) worked() (since time.Time, ended bool) {
	since, ended = o.since, !o.since.IsZero()
	*o = outboxTrouble{}
	return since, ended
}

// outboxFailed logs an outbox failure of the lane, once per episode at
// ERROR, and pauses the lane.
func (d *Dispatcher) outboxFailed(ctx context.Context, l *lane, err error) {
	now := d.now()
	pause, first := l.outbox.failed(now, l.minBackoff, max(l.minBackoff, min(outboxMaxPause, d.opt.MaxBackoff)))
	next := now.Add(pause).Format(time.RFC3339)
	if first {
		d.log.Error("outbox unavailable; retrying with a growing pause until it works again (nothing is lost)",
			"notifier", l.name, "err", err, "next", next)
	} else {
		d.log.Debug("outbox still unavailable", "notifier", l.name, "err", err, "next", next)
	}
	// Waiting for the disk is not being wedged: mark progress through the
	// pause, or the watchdog would restart crier, which frees no space.
	for pause > 0 && ctx.Err() == nil && !d.stopped() {
		d.markProgress(l)
		slice := min(pause, heartbeat)
		d.pause(ctx, slice)
		pause -= slice
	}
}

// outboxWorked ends the lane's outbox episode, if there is one.
func (d *Dispatcher) outboxWorked(l *lane) {
	if since, ended := l.outbox.worked(); ended {
		d.log.Info("outbox works again", "notifier", l.name, "after", d.now().Sub(since).Round(time.Second).String())
	}
}
