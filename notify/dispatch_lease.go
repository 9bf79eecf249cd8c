package notify

import (
	"context"
	"time"

	"github.com/crierd/crier"
)

// In a fleet every worker runs a dispatcher over the one shared outbox.
// Per-notifier order and "a crash repeats at most the send in flight" hold
// only if one worker at a time sends on a lane, so a lane sends only while
// its worker holds the lane's lease (DispatcherOptions.Leases).
//
// The lease is renewed before a send once less than two thirds of it is
// left, and a send starts only with at least a third left. LeaseTTL is at
// least three times the longest send (SendTimeout and its grace), so a
// send ends before the lease does, even when the store cannot be reached
// to renew it: a worker cut off from the store stops sending before
// another can take its lanes.

// leaseState is what the lane last knew of its lease, to log changes once.
type leaseState int

const (
	leaseUnknown leaseState = iota
	leaseHeld
	leaseWaiting // another worker holds it
	leaseFailing // the store did not answer
)

// leaseDefaults fills in the lease options; called by NewDispatcher.
func (d *Dispatcher) leaseDefaults() {
	if d.opt.Leases == nil {
		return
	}
	if d.opt.LeaseTTL <= 0 {
		d.opt.LeaseTTL = crier.DefaultLease
	}
	if least := 3 * (d.opt.SendTimeout + d.grace); d.opt.LeaseTTL < least {
		d.log.Warn("notifier lease shorter than three sends; using the minimum",
			"lease", d.opt.LeaseTTL, "send_timeout", d.opt.SendTimeout, "using", least)
		d.opt.LeaseTTL = least
	}
	if d.opt.Recheck <= 0 {
		d.opt.Recheck = 2 * time.Second
	}
	d.opt.Recheck = min(d.opt.Recheck, d.opt.LeaseTTL/4)
}

// holdLane reports whether the lane may start a send now: always without
// leases; with them, while this worker holds the lane's lease with at
// least a third of it left, renewing it once less than two thirds is.
func (d *Dispatcher) holdLane(ctx context.Context, l *lane) bool {
	if d.opt.Leases == nil {
		return true
	}
	ttl := d.opt.LeaseTTL
	asked := d.now()
	if l.heldUntil.Sub(asked) >= ttl*2/3 {
		return true
	}
	hctx, cancel := context.WithTimeout(ctx, ttl/3)
	held, err := d.opt.Leases.HoldLane(hctx, l.name, d.opt.Owner, ttl)
	cancel()
	switch {
	case err != nil:
		// What is left of the lease is still ours; the check below
		// stops the sends in time.
		if l.lease != leaseFailing {
			d.log.Error("notifier lease could not be renewed; sending only while it lasts", "notifier", l.name, "err", err)
			l.lease = leaseFailing
		}
	case !held:
		if l.lease != leaseWaiting {
			d.log.Info("another worker sends on this notifier; waiting for its lease", "notifier", l.name)
			l.lease = leaseWaiting
		}
		l.heldUntil = time.Time{}
	default:
		if l.lease != leaseHeld {
			d.log.Info("sending on this notifier for the fleet", "notifier", l.name)
			l.lease = leaseHeld
		}
		// Measured from before the call: the store's lease ends no sooner.
		l.heldUntil = asked.Add(ttl)
	}
	return l.heldUntil.Sub(d.now()) >= ttl/3
}

// leaseTick is a timer channel for renewing the lease while the lane
// waits for an abandoned send; nil (never fires) without leases.
func (d *Dispatcher) leaseTick() (<-chan time.Time, func()) {
	if d.opt.Leases == nil {
		return nil, func() {}
	}
	t := time.NewTimer(d.opt.Recheck)
	return t.C, func() { t.Stop() }
}

// releaseLane gives the lane's lease back, so that another worker may
// take it at once; best effort and bounded: a lease not released runs out.
// A lane with an abandoned send still out keeps its lease until it runs
// out: nobody may send beside that send.
func (d *Dispatcher) releaseLane(l *lane) {
	if d.opt.Leases == nil || l.heldUntil.IsZero() || l.stuck != nil {
		return
	}
	l.heldUntil, l.lease = time.Time{}, leaseUnknown
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := d.opt.Leases.ReleaseLane(ctx, l.name, d.opt.Owner); err != nil {
		d.log.Warn("notifier lease not released; another worker takes the lane when it runs out",
			"notifier", l.name, "err", err)
	}
}
