package notify

import (
	"context"
	"errors"
	"fmt"
	"github.com/crierd/crier"
	"log/slog"
	"math/rand/v2"
	"runtime/debug"
	"time"
)

// stepResult says what one step of a lane did.
type stepResult struct {
	attempted bool      // an entry was sent (successfully or not)
	delivered bool      // …and it was delivered
	wake      time.Time // nothing was due: look again then (zero: when kicked)
}

func (d *Dispatcher) step(ctx context.Context, l *lane) (stepResult, error) {
	return d.stepOnce(ctx, l, nil)
}

// stepOnce attempts the lane's entry that is due now, if any. With tried
// set, an entry already in it is not attempted again.
func (d *Dispatcher) stepOnce(ctx context.Context, l *lane, tried map[uint64]bool) (stepResult, error) {
	if err := d.markUnmarked(l); err != nil {
		return stepResult{}, err
	}
	now := d.now()
	e, ok, wake, err := d.pick(l, now)
	if err != nil || !ok {
		return stepResult{wake: wake}, err
	}
	if tried != nil {
		if tried[e.ID] {
			return stepResult{}, nil
		}
		tried[e.ID] = true
	}
	delivered, err := d.attempt(ctx, l, e)
	return stepResult{attempted: true, delivered: delivered}, err
}

// pick finds the entry to send now. Outside quiet hours that is the oldest
// entry, once its NextTry has come; inside them, the oldest urgent one.
func (d *Dispatcher) pick(l *lane, now time.Time) (crier.Entry, bool, time.Time, error) {
	if l.digest != nil {
		return d.pickDigest(l, now)
	}
	if l.quiet != nil {
		if inQuiet(l.quiet, now) {
			return d.pickQuiet(l, now)
		}
		if err := d.release(l, now); err != nil {
			return crier.Entry{}, false, time.Time{}, err
		}
	}
	e, ok, err := d.out.Next(l.name)
	if err != nil {
		return crier.Entry{}, false, time.Time{}, fmt.Errorf("notifier %s: next outbox entry: %w", l.name, err)
	}
	if !ok {
		return crier.Entry{}, false, time.Time{}, nil
	}
	if e.NextTry.After(now) {
		return crier.Entry{}, false, e.NextTry, nil
	}
	return e, true, time.Time{}, nil
}

// attempt sends e once and records the outcome in the outbox.
func (d *Dispatcher) attempt(ctx context.Context, l *lane, e crier.Entry) (bool, error) {
	n := e.Notification
	sendErr := d.send(ctx, l, e)
	if sendErr != nil && ctx.Err() != nil {
		// Shutting down mid-send is not the notifier's failure: leave the
		// entry as it was, to be sent on the next start.
		return false, nil
	}
	if d.opt.OnResult != nil {
		d.opt.OnResult(l.name, e, sendErr)
	}
	now := d.now()
	log := d.log.With("notifier", l.name, "feed", n.Feed, "item", itemRef(e))
	if sendErr == nil {
		l.parkedUntil, l.failingSince = time.Time{}, time.Time{}
		log.Info("notification delivered", "attempts", e.Attempts+1)
		return true, d.markDone(l, e.ID)
	}
	c := Classify(sendErr)
	switch {
	case c.Permanent:
		log.Error("notification cannot be delivered; moved to dead letters", "attempts", e.Attempts+1, "err", sendErr)
		return false, ignoreGone(d.out.Bury(l.name, e.ID, sendErr.Error()))
	case c.ParkUntil.After(now):
		if !c.ParkUntil.Equal(l.parkedUntil) {
			log.Warn("notifier parked: sending resumes when its quota resets",
				"until", c.ParkUntil.Format(time.RFC3339), "err", sendErr)
			l.parkedUntil = c.ParkUntil
		}
		// Waiting out a quota is not a failed attempt: attempts stay.
		return false, ignoreGone(d.out.Retry(l.name, e.ID, e.Attempts, c.ParkUntil, sendErr.Error()))
	}
	if l.failingSince.IsZero() {
		l.failingSince = now
	}
	attempts := e.Attempts + 1
	wait := d.backoff(l, attempts, c.RetryAfter, now)
	if c.Unconfirmed {
		return false, d.retryUnconfirmed(l, e, attempts, now.Add(max(wait, d.opt.UnconfirmedWait)), sendErr, log)
	}
	next := now.Add(wait)
	args := []any{"attempts", attempts, "next", next.Format(time.RFC3339), "err", sendErr}
	if attempts == 1 || attempts%10 == 0 {
		log.Warn("notification failed; will retry", args...)
	} else {
		log.Debug("notification failed; will retry", args...)
	}
	return false, ignoreGone(d.out.Retry(l.name, e.ID, attempts, next, sendErr.Error()))
}

// retryUnconfirmed records a send that may have been delivered. It is
// retried at next, which is at least UnconfirmedWait away; a notifier
// that caps such sends has the entry dead-lettered at its cap instead.
func (d *Dispatcher) retryUnconfirmed(l *lane, e crier.Entry, attempts int, next time.Time, sendErr error, log *slog.Logger) error {
	sends := e.Unconfirmed + 1
	if c, ok := l.n.(interface{ MaxUnconfirmed() int }); ok && sends >= c.MaxUnconfirmed() {
		log.Error("notification may have arrived; not sending it again, moved to dead letters",
			"attempts", attempts, "unconfirmed", sends, "err", sendErr)
		reason := fmt.Sprintf("%v: sent %d times without an answer in time; it may have arrived, check before redelivering", sendErr, sends)
		return ignoreGone(d.out.Bury(l.name, e.ID, reason))
	}
	log.Warn("notification may have arrived: no answer in time; will retry later",
		"attempts", attempts, "unconfirmed", sends, "next", next.Format(time.RFC3339), "err", sendErr)
	return ignoreGone(d.out.RetryUnconfirmed(l.name, e.ID, attempts, next, sendErr.Error()))
}

// settleStuck takes the late verdict of an abandoned send, which attempt
// recorded as unconfirmed. A late success is the delivery: the
// entry is done, or sending it again would repeat it. A late failure
// leaves the retry as recorded.
func (d *Dispatcher) settleStuck(l *lane, sendErr error) error {
	e := l.stuck.e
	l.stuck = nil
	log := d.log.With("notifier", l.name, "feed", e.Notification.Feed, "item", itemRef(e))
	if sendErr != nil {
		log.Info("abandoned send failed after all; it will be retried", "err", sendErr)
		return nil
	}
	log.Warn("abandoned send was delivered after all")
	if d.opt.OnResult != nil {
		d.opt.OnResult(l.name, e, nil)
	}
	return d.markDone(l, e.ID)
}

// markDone removes a delivered entry from the outbox. When the outbox
// fails, the lane remembers the entry: picking it again would repeat it.
func (d *Dispatcher) markDone(l *lane, id uint64) error {
	if err := d.out.Done(l.name, id); err != nil && !errors.Is(err, crier.ErrNotFound) {
		l.unmarked = append(l.unmarked, id)
		return fmt.Errorf("notifier %s: mark entry %d delivered: %w", l.name, id, err)
	}
	return nil
}

// markUnmarked retries Done for the entries delivered whose Done failed.
func (d *Dispatcher) markUnmarked(l *lane) error {
	for len(l.unmarked) > 0 {
		id := l.unmarked[0]
		if err := d.out.Done(l.name, id); err != nil && !errors.Is(err, crier.ErrNotFound) {
			return fmt.Errorf("notifier %s: mark delivered entry %d: %w", l.name, id, err)
		}
		l.unmarked = l.unmarked[1:]
	}
	return nil
}

// ignoreGone accepts that an entry vanished under us (redelivered or
// purged by an operator): there is nothing left to record.
func ignoreGone(err error) error {
	if errors.Is(err, crier.ErrNotFound) {
		return nil
	}
	return err
}

func itemRef(e crier.Entry) string {
	if e.Notification.ItemID != "" {
		return e.Notification.ItemID
	}
	if e.Notification.Link != "" {
		return e.Notification.Link
	}
	return fmt.Sprintf("entry %d", e.ID)
}

// backoff is how long to wait after the attempts-th failure: at least
// the service's Retry-After and the notifier's minimum, otherwise an
// exponential delay capped at MaxBackoff, with full jitter above the
// minimum so that notifiers failing together do not retry together.
//
// The delay is also capped at a quarter of the time the lane has been
// failing: the whole queue waits behind its head, so a service back after
// a short outage must be found soon, whatever the head's attempt count
// (earned in a long outage, or in a run before a restart). Only a long
// outage earns the long waits; the time lost after any outage is at most
// a quarter of it.
func (d *Dispatcher) backoff(l *lane, attempts int, retryAfter time.Duration, now time.Time) time.Duration {
	ceil := d.opt.MaxBackoff
	if shift := attempts - 1; shift < 32 {
		if exp := l.minBackoff << shift; exp > 0 && exp < ceil {
			ceil = exp
		}
	}
	if !l.failingSince.IsZero() {
		ceil = min(ceil, max(l.minBackoff, now.Sub(l.failingSince)/4))
	}
	wait := l.minBackoff
	if ceil > l.minBackoff {
		wait += rand.N(ceil - l.minBackoff + 1)
	}
	return max(wait, retryAfter)
}

// send runs one Send bounded by SendTimeout. A panic becomes a permanent
// error. A notifier that ignores its context is given a short grace, then
// abandoned: the lane keeps it as stuck and sends nothing else until it
// returns, so there is still never more than one send in flight.
func (d *Dispatcher) send(ctx context.Context, l *lane, e crier.Entry) error {
	sctx, cancel := context.WithTimeout(ctx, d.opt.SendTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		defer func() {
			if r := recover(); r != nil {
				d.log.Error("notifier panicked", "notifier", l.name, "item", itemRef(e),
					"err", fmt.Sprint(r), "stack", string(debug.Stack()))
				done <- Permanent(fmt.Errorf("notifier %s panicked: %v", l.name, r))
			}
		}()
		done <- l.n.Send(sctx, e.Notification)
	}()
	select {
	case err := <-done:
		return err
	case <-sctx.Done():
	}
	grace := time.NewTimer(d.grace)
	defer grace.Stop()
	select {
	case err := <-done:
		return err // its own verdict, typically the context's error
	case <-grace.C:
		l.stuck = &stuckSend{e: e, done: done}
		d.log.Error("notifier ignored its deadline; holding its queue until the send returns",
			"notifier", l.name, "item", itemRef(e), "timeout", d.opt.SendTimeout)
		return Unconfirmed(fmt.Errorf("notifier %s: send did not return within %s", l.name, d.opt.SendTimeout))
	}
}
