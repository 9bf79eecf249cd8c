package notify

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierd/crier"
	"github.com/robfig/cron/v3"
)

// DispatcherOptions tune a Dispatcher; zero values get the defaults noted.
type DispatcherOptions struct {
	Log         *slog.Logger
	Now         func() time.Time // injected clock for tests
	SendTimeout time.Duration    // default 30s: no send blocks a notifier longer
	MinBackoff  time.Duration    // default 5s
	MaxBackoff  time.Duration    // default 1h
	// UnconfirmedWait: the least wait before resending a message the
	// service may have taken (default 5 min).
	UnconfirmedWait time.Duration
	QuietHours      map[string]*crier.QuietHours
	// Burst: per notifier, held items of one feed are summarised at the
	// end of quiet hours when there are more than this (0: never).
	Burst map[string]int
	// Digest: per notifier, a cron spec; its non-urgent items wait and
	// go out as one digest at each scheduled time.
	Digest map[string]string
	// OnResult, when set, sees every attempt (err nil: delivered), and the
	// late success of a send abandoned at its timeout.
	OnResult func(notifier string, e crier.Entry, err error)
	// StorySources, when set, names the feeds that reported a story so
	// far (same_story), so that a digest lists it once with all of them.
	StorySources func(story string) []string

	// Leases, when set, shares the outbox with other workers (a fleet): a
	// lane sends only while this worker holds its lease, so that one
	// worker at a time sends on each notifier. Nil: this process owns
	// every lane, as with the embedded store.
	Leases LaneLeases
	// Owner names this worker in the leases.
	Owner string
	// LeaseTTL is how long a lane stays this worker's without renewal
	// (default crier.DefaultLease). It is raised to three times the
	// longest a send may take (SendTimeout and its grace): a send starts
	// only with a third of the lease left, so it ends inside it.
	LeaseTTL time.Duration
	// Recheck is how often a lane with Leases looks at the outbox without
	// being kicked, since other workers queue entries too (default 2s),
	// and how often a lane another worker holds asks for it again (at
	// most a quarter of LeaseTTL).
	Recheck time.Duration
}

// Dispatcher drains the outbox into the notifiers: per notifier, oldest
// entry first and one send at a time, so that a crash repeats at most the
// one notification that was in flight.
//
// Run and Drain must not be used at the same time.
type Dispatcher struct {
	out   crier.Outbox
	opt   DispatcherOptions
	log   *slog.Logger
	now   func() time.Time
	grace time.Duration // how long a send may outlive its deadline
	lanes []*lane

	// stop ends the loops between sends, unlike cancelling Run's context,
	// which also cancels a send in flight (and so may repeat it later).
	stop     chan struct{}
	stopOnce sync.Once
}

// lane is one notifier's queue. Everything but kick and progress belongs
// to the one goroutine working the lane.
type lane struct {
	name       string
	n          Notifier
	kick       chan struct{}
	quiet      *crier.QuietHours
	burst      int
	minBackoff time.Duration
	digest     cron.Schedule // nil: send at once

	parkedUntil time.Time // the parking already logged
	// failingSince is this process's first failed send of the lane since
	// it last delivered (zero: not failing); it bounds the backoff.
	failingSince time.Time
	releasedEnd  time.Time  // end of the last quiet window already released
	stuck        *stuckSend // a send that outlived its timeout and has not returned yet
	// unmarked holds entries delivered whose Done failed: they are marked
	// before anything else is picked, and never sent again.
	unmarked []uint64
	outbox   outboxTrouble // the outbox failing this lane, logged once per episode
	// heldUntil is when this worker's lease on the lane ends, as far as
	// it knows (zero: not held); only with DispatcherOptions.Leases.
	heldUntil time.Time
	lease     leaseState

	progress atomic.Int64 // unix nanoseconds; read by LastProgress
}

// stuckSend is an abandoned send: e was recorded as an unconfirmed send
// (retried no sooner than UnconfirmedWait, or buried at the notifier's
// cap), but done still brings the notifier's own verdict.
type stuckSend struct {
	e    crier.Entry
	done <-chan error
}

// Loops wake at least this often to mark themselves alive and to notice
// clock jumps (suspend, NTP).
const heartbeat = 30 * time.Second

// NewDispatcher serves the given notifiers from out. Entries queued for
// notifiers not in the map are left alone.
func NewDispatcher(out crier.Outbox, notifiers map[string]Notifier, opt DispatcherOptions) *Dispatcher {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.SendTimeout <= 0 {
		opt.SendTimeout = 30 * time.Second
	}
	if opt.MinBackoff <= 0 {
		opt.MinBackoff = 5 * time.Second
	}
	if opt.MaxBackoff <= 0 {
		opt.MaxBackoff = time.Hour
	}
	opt.MaxBackoff = max(opt.MaxBackoff, opt.MinBackoff)
	if opt.UnconfirmedWait <= 0 {
		opt.UnconfirmedWait = unconfirmedWait
	}
	d := &Dispatcher{
		out:   out,
		opt:   opt,
		log:   opt.Log,
		now:   opt.Now,
		grace: min(max(opt.SendTimeout/4, 10*time.Millisecond), 2*time.Second),
		stop:  make(chan struct{}),
	}
	d.leaseDefaults()
	names := make([]string, 0, len(notifiers))
	for name := range notifiers {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		l := &lane{
			name:       name,
			n:          notifiers[name],
			kick:       make(chan struct{}, 1),
			quiet:      opt.QuietHours[name],
			burst:      opt.Burst[name],
			minBackoff: opt.MinBackoff,
		}
		if spec := opt.Digest[name]; spec != "" {
			sched, err := cron.ParseStandard(spec)
			if err != nil {
				// Load validated the spec; sending at once loses nothing.
				opt.Log.Error("bad digest schedule; sending immediately", "notifier", name, "err", err)
			} else {
				l.digest = sched
			}
		}
		if mb, ok := l.n.(interface{ MinBackoff() time.Duration }); ok {
			l.minBackoff = max(l.minBackoff, mb.MinBackoff())
		}
		d.markProgress(l)
		d.lanes = append(d.lanes, l)
	}
	return d
}

// Run works every notifier's queue until ctx ends, then returns once all
// of them have stopped.
func (d *Dispatcher) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	for _, l := range d.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			d.loop(ctx, l)
		}()
	}
	wg.Wait()
	return nil
}

// Stop asks Run to return once every notifier has finished the send it
// is in, including one abandoned at its timeout; no send is interrupted.
// A config reload uses it to hand the outbox to a new dispatcher without
// two sends in flight for one notifier or a notification repeated.
func (d *Dispatcher) Stop() { d.stopOnce.Do(func() { close(d.stop) }) }

func (d *Dispatcher) stopped() bool {
	select {
	case <-d.stop:
		return true
	default:
		return false
	}
}

// Kick tells every notifier that entries were queued. It never blocks.
func (d *Dispatcher) Kick() {
	for _, l := range d.lanes {
		select {
		case l.kick <- struct{}{}:
		default:
		}
	}
}

// LastProgress is the oldest of the notifier loops' last steps: each marks
// progress when it finishes a step and at least every heartbeat while it
// waits healthily, so only a loop blocked in a send, or waiting for an
// abandoned one, ages. Sends are bounded by SendTimeout, so a watchdog
// should allow more than that. Without notifiers it is now.
func (d *Dispatcher) LastProgress() time.Time {
	if len(d.lanes) == 0 {
		return d.now()
	}
	oldest := d.lanes[0].progress.Load()
	for _, l := range d.lanes[1:] {
		oldest = min(oldest, l.progress.Load())
	}
	return time.Unix(0, oldest)
}

func (d *Dispatcher) markProgress(l *lane) { l.progress.Store(d.now().UnixNano()) }

func (d *Dispatcher) loop(ctx context.Context, l *lane) {
	defer func() {
		// The next dispatcher does not know what this lane delivered.
		if err := d.markUnmarked(l); err != nil {
			d.log.Error("delivered notifications could not be marked done; they may be sent again",
				"notifier", l.name, "err", err)
		}
		d.releaseLane(l)
	}()
	for ctx.Err() == nil {
		if l.stuck != nil {
			// Keep one send in flight: wait for the abandoned one, even
			// when stopped, since the next dispatcher starts as soon as
			// Run returns. No progress is marked meanwhile, so a watchdog
			// can see it. The lane's lease is kept meanwhile: no other
			// worker may send beside the abandoned send either.
			tick, stopTick := d.leaseTick()
			select {
			case err := <-l.stuck.done:
				if err := d.settleStuck(l, err); err != nil {
					d.outboxFailed(ctx, l, err)
				}
			case <-tick:
				d.holdLane(ctx, l)
			case <-ctx.Done():
				stopTick()
				return
			}
			stopTick()
			continue
		}
		if d.stopped() {
			return
		}
		if !d.holdLane(ctx, l) {
			// Another worker sends on this lane (or the store cannot
			// say): waiting for it is healthy.
			d.markProgress(l)
			d.pause(ctx, d.opt.Recheck)
			continue
		}
		res, err := d.step(ctx, l)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			d.outboxFailed(ctx, l, err)
			continue
		}
		d.markProgress(l)
		d.outboxWorked(l)
		if res.attempted {
			continue
		}
		d.wait(ctx, l, res.wake)
	}
}

// wait sleeps until wake (zero: until kicked), a kick, ctx's end or the
// next heartbeat, whichever comes first.
func (d *Dispatcher) wait(ctx context.Context, l *lane, wake time.Time) {
	dur := heartbeat
	if d.opt.Leases != nil {
		// Other workers queue entries too, and their Kick does not reach
		// this process.
		dur = d.opt.Recheck
	}
	if !wake.IsZero() {
		dur = min(wake.Sub(d.now()), dur)
	}
	if dur <= 0 {
		return
	}
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
	case <-l.kick:
	case <-ctx.Done():
	case <-d.stop:
	}
}

func (d *Dispatcher) pause(ctx context.Context, dur time.Duration) {
	t := time.NewTimer(dur)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	case <-d.stop:
	}
}

// DrainResult is what Drain did, and what it left queued for the
// notifiers it serves.
type DrainResult struct {
	Delivered int // sent by this Drain
	// Pending entries are still due or failing: backing off, parked,
	// behind a stuck send, or not attempted.
	Pending int
	// Held entries wait by design: non-urgent ones until quiet hours
	// end, or news (items, summaries) for the next digest. See holds.
	Held int
}

// Drain delivers, once, every entry that is due now, without waiting for
// any backoff, and reports what it delivered and what is still queued.
// For `run --once` and for a last flush at shutdown. A store error is
// returned, never taken for an empty outbox.
func (d *Dispatcher) Drain(ctx context.Context) (DrainResult, error) {
	var (
		mu    sync.Mutex
		total DrainResult
		errs  []error
		wg    sync.WaitGroup
	)
	for _, l := range d.lanes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := d.drainLane(ctx, l)
			mu.Lock()
			defer mu.Unlock()
			total.Delivered += res.Delivered
			total.Pending += res.Pending
			total.Held += res.Held
			if err != nil {
				errs = append(errs, err)
			}
		}()
	}
	wg.Wait()
	return total, errors.Join(errs...)
}

func (d *Dispatcher) drainLane(ctx context.Context, l *lane) (DrainResult, error) {
	var res DrainResult
	err := d.drainSends(ctx, l, &res)
	if l.stuck == nil {
		d.markProgress(l)
	}
	pending, held, cerr := d.count(l)
	res.Pending, res.Held = pending, held
	return res, errors.Join(err, cerr)
}

func (d *Dispatcher) drainSends(ctx context.Context, l *lane, res *DrainResult) error {
	tried := map[uint64]bool{} // an entry is attempted at most once per Drain
	defer d.releaseLane(l)
	for ctx.Err() == nil {
		if !d.holdLane(ctx, l) {
			return nil // another worker sends on this lane
		}
		if l.stuck != nil {
			// Never send beside an abandoned send, nor wait for it: it
			// may never return.
			select {
			case sendErr := <-l.stuck.done:
				if err := d.settleStuck(l, sendErr); err != nil {
					return err
				}
			default:
				return nil
			}
		}
		step, err := d.stepOnce(ctx, l, tried)
		if err != nil {
			return err
		}
		if !step.attempted {
			return nil
		}
		if step.delivered {
			res.Delivered++
		}
	}
	return nil
}

// count splits the lane's queue into entries held by design and the rest.
func (d *Dispatcher) count(l *lane) (pending, held int, err error) {
	entries, err := d.out.Pending(l.name)
	if err != nil {
		return 0, 0, fmt.Errorf("notifier %s: outbox entries: %w", l.name, err)
	}
	now := d.now()
	var boundary time.Time
	if l.digest != nil {
		boundary = lastFire(l.digest, now)
	}
	for _, e := range entries {
		// An entry from before the last digest time is due, not held: its
		// digest has not been made (the lane is stuck or failing).
		if holds(l, e, now) && (boundary.IsZero() || !e.Created.Before(boundary)) {
			held++
		} else {
			pending++
		}
	}
	return pending, held, nil
}

// holds reports whether the lane keeps e back at now by design: news for
// its next digest (alerts and finished digests go at once), or anything
// until its quiet hours end. Urgent entries are never held. The pickers
// and Drain's count share it.
func holds(l *lane, e crier.Entry, now time.Time) bool {
	n := e.Notification
	switch {
	case urgent(n):
		return false
	case l.digest != nil:
		return news(n) && !n.Digest
	case l.quiet != nil:
		return inQuiet(l.quiet, now)
	}
	return false
}
