package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierd/crier"
	"github.com/robfig/cron/v3"
)

// FleetOptions wires a FleetScheduler; zero values get the defaults noted.
type FleetOptions struct {
	// Owner names this worker in the feeds' leases (store: postgres: worker).
	Owner string
	// Lease is how long a claimed feed stays this worker's without a
	// word from it (default crier.DefaultLease). It is raised to twice the
	// longest feed timeout, so that a poll normally ends inside its lease.
	Lease time.Duration
	// MaxInFlight bounds the polls this worker runs at once, and so how
	// many feeds it claims (default: the poller's Concurrency). More
	// would only hold claimed feeds in the poller's queue, using up their
	// leases.
	MaxInFlight int
	// ClaimEvery is how often a worker with free slots asks the store for
	// due feeds (default 1s; one cheap query).
	ClaimEvery time.Duration
	Log        *slog.Logger
	Clock      Clock // nil: the real one
}

// unknownFeedDelay is how far a worker pushes back a claimed feed its
// config does not have: a worker whose config is newer or older than this
// one's will claim it soon. A reload reaches every worker within seconds
// (the daemon's config generation), so a feed just added waits about as
// long, and a hand-back costs one cheap claim.
const unknownFeedDelay = 5 * time.Second

// FleetScheduler is Scheduler for a fleet: the store keeps when each feed
// is due, and every worker claims due feeds from it with a lease, polls
// them and reschedules them. A feed is polled by one worker at a time, and
// a dead worker's feeds are claimed by the others once its leases run out.
//
// Every worker reads the same config; a claimed feed that this worker's
// config lacks (a reload not yet seen here) is handed back unpolled.
type FleetScheduler struct {
	poller *Poller
	claims FeedClaims
	opt    FleetOptions
	log    *slog.Logger
	clock  Clock

	// As in Scheduler: polls run under ctx, which Stop cancels only after
	// its grace; stopping ends the claim loop at once.
	ctx      context.Context
	cancel   context.CancelFunc
	polls    sync.WaitGroup
	stopping chan struct{}
	loopDone chan struct{}
	slots    chan struct{} // one per poll in flight
	freed    chan struct{} // a poll ended: a full worker may claim again

	mu      sync.Mutex
	entries map[string]*fleetFeed // by feed ID
	lease   time.Duration         // Lease, raised for the longest timeout
	started bool
	stopped bool

	beat atomic.Int64 // unix nanos of the claim loop's last turn
}

type fleetFeed struct {
	feed     crier.Feed
	schedule cron.Schedule
	next     time.Time // as this worker last set or computed it
}

// NewFleetScheduler returns a stopped scheduler that polls through p the
// feeds it claims from claims.
func NewFleetScheduler(p *Poller, claims FeedClaims, opt FleetOptions) *FleetScheduler {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Clock == nil {
		opt.Clock = realClock{}
	}
	if opt.Lease <= 0 {
		opt.Lease = crier.DefaultLease
	}
	if opt.MaxInFlight <= 0 {
		opt.MaxInFlight = p.opt.Concurrency
	}
	if opt.ClaimEvery <= 0 {
		opt.ClaimEvery = time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	s := &FleetScheduler{
		poller:   p,
		claims:   claims,
		opt:      opt,
		log:      opt.Log,
		clock:    opt.Clock,
		ctx:      ctx,
		cancel:   cancel,
		stopping: make(chan struct{}),
		loopDone: make(chan struct{}),
		slots:    make(chan struct{}, opt.MaxInFlight),
		freed:    make(chan struct{}, 1),
		entries:  map[string]*fleetFeed{},
		lease:    opt.Lease,
	}
	s.beat.Store(s.clock.Now().UnixNano())
	return s
}

// Apply makes the scheduled feeds exactly feeds, here and in the store: a
// feed new to the store is due at once when it was not polled for its
// interval (as Scheduler catches up), otherwise one interval after its
// last poll. A refused Apply changes nothing.
func (s *FleetScheduler) Apply(feeds []crier.Feed) error {
	entries := make(map[string]*fleetFeed, len(feeds))
	due := make([]crier.FeedDue, len(feeds))
	now := s.clock.Now()
	lease := s.opt.Lease
	for i, f := range feeds {
		sched, err := cron.ParseStandard(f.Schedule)
		if err != nil {
			return fmt.Errorf("feed %s: schedule %q: %w", f.Name, f.Schedule, err)
		}
		next := now
		if last := s.poller.LastPoll(f); now.Sub(last) < interval(sched) {
			next = last.Add(interval(sched))
		}
		entries[f.FeedID()] = &fleetFeed{feed: f, schedule: sched, next: next}
		due[i] = crier.FeedDue{FeedID: f.FeedID(), Schedule: f.Schedule, Due: next}
		timeout := f.Timeout
		if timeout <= 0 {
			timeout = defaultTimeout
		}
		lease = max(lease, 2*timeout)
	}
	ctx, cancel := context.WithTimeout(s.ctx, time.Minute)
	defer cancel()
	if err := s.claims.SyncFeeds(ctx, due); err != nil {
		return fmt.Errorf("schedule %d feeds in the shared store: %w", len(feeds), err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for id, e := range entries {
		// A feed this worker already knows keeps its due time: the store
		// kept its own.
		if cur, ok := s.entries[id]; ok && cur.feed.Schedule == e.feed.Schedule {
			e.next = cur.next
		}
	}
	s.entries, s.lease = entries, lease
	return nil
}

// Start begins claiming due feeds.
func (s *FleetScheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.started || s.stopped {
		return
	}
	s.started = true
	go s.loop()
}

// claimPauseMax caps the pause of a claim loop whose store keeps failing.
const claimPauseMax = time.Minute

// loop claims as many due feeds as it has free slots, at least every
// ClaimEvery, and when a poll frees a slot.
func (s *FleetScheduler) loop() {
	defer close(s.loopDone)
	failures := 0
	for {
		s.beat.Store(s.clock.Now().UnixNano())
		wait := s.opt.ClaimEvery
		if free := cap(s.slots) - len(s.slots); free > 0 {
			claimed, err := s.claim(free)
			switch {
			case err != nil:
				failures++
				wait = min(s.opt.ClaimEvery<<min(failures, 16), claimPauseMax)
				if failures == 1 {
					s.log.Error("claiming due feeds failed; retrying with a growing pause", "err", err, "next", wait)
				} else {
					s.log.Debug("claiming due feeds still fails", "err", err, "next", wait)
				}
			case claimed == free:
				failures = 0
				// More may be due; the full worker waits for a free slot.
			default:
				if failures > 0 {
					s.log.Info("claiming due feeds works again")
				}
				failures = 0
			}
		}
		select {
		case <-s.stopping:
			return
		case <-s.freed:
		case <-s.clock.After(wait):
		}
	}
}

// claim claims up to limit due feeds and starts a poll for each.
func (s *FleetScheduler) claim(limit int) (int, error) {
	s.mu.Lock()
	lease := s.lease
	s.mu.Unlock()
	now := s.clock.Now()
	ctx, cancel := context.WithTimeout(s.ctx, min(lease, time.Minute))
	defer cancel()
	ids, err := s.claims.ClaimDue(ctx, s.opt.Owner, now, limit, lease)
	if err != nil {
		return 0, fmt.Errorf("worker %s: claim due feeds: %w", s.opt.Owner, err)
	}
	for _, id := range ids {
		s.mu.Lock()
		if s.stopped {
			s.mu.Unlock()
			return len(ids), nil // the leases run out; another worker polls them
		}
		s.polls.Add(1) // under mu: Stop's Wait comes after stopped is set
		s.mu.Unlock()
		s.slots <- struct{}{}
		go s.run(id, now, lease)
	}
	return len(ids), nil
}

// run polls one claimed feed and reschedules it for its next due time.
func (s *FleetScheduler) run(feedID string, claimed time.Time, lease time.Duration) {
	defer func() {
		<-s.slots
		select {
		case s.freed <- struct{}{}:
		default:
		}
		s.polls.Done()
	}()
	s.mu.Lock()
	ff, ok := s.entries[feedID]
	var feed crier.Feed
	var sched cron.Schedule
	if ok {
		feed, sched = ff.feed, ff.schedule
	}
	s.mu.Unlock()
	if !ok {
		s.log.Debug("claimed a feed this worker's config does not have; handing it back", "feed", feedID)
		s.reschedule(feedID, s.clock.Now().Add(unknownFeedDelay))
		return
	}
	res, err := s.poll(s.ctx, feed, false)
	now := s.clock.Now()
	if took := now.Sub(claimed); took > lease {
		s.log.Warn("poll outlived its lease; another worker may have polled the feed too",
			"feed", feed.Name, "lease", lease, "took", took)
	}
	if err != nil && s.ctx.Err() != nil {
		// Cancelled at shutdown: due at once, for a worker still running.
		s.reschedule(feedID, now)
		return
	}
	if err == nil && res.Skipped != "" {
		s.log.Debug("poll skipped", "feed", feed.Name, "reason", res.Skipped)
	}
	next := sched.Next(now).Add(Jitter(feedID, interval(sched)))
	s.mu.Lock()
	if cur, ok := s.entries[feedID]; ok {
		cur.next = next
	}
	s.mu.Unlock()
	s.reschedule(feedID, next)
}

// reschedule hands the feed back to the store, due at next. A store error
// is retried with a growing pause while the lease could still be ours; if
// it never works, the lease runs out and the feed is polled again (a
// fetch, never a repeated push: the ingest transaction decides).
func (s *FleetScheduler) reschedule(feedID string, next time.Time) {
	pause := time.Second
	for attempt := 1; ; attempt++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := s.claims.Reschedule(ctx, s.opt.Owner, feedID, next)
		cancel()
		if err == nil {
			return
		}
		if attempt == 4 {
			s.log.Error("could not reschedule a feed; it will be polled again when its lease runs out", "feed", feedID, "err", err)
			return
		}
		s.log.Warn("rescheduling a feed failed; retrying", "feed", feedID, "err", err, "next", pause)
		select {
		case <-s.clock.After(pause):
		case <-s.stopping: // shutting down: the lease runs out instead
			return
		}
		pause *= 2
	}
}

// poll is one poll with a panic turned into an error, as Scheduler's.
func (s *FleetScheduler) poll(ctx context.Context, feed crier.Feed, force bool) (Result, error) {
	return pollRecovered(ctx, s.poller, s.log, feed, force)
}

// Stop stops claiming, lets polls in flight finish for up to grace, then
// cancels the rest and waits for them. Feeds it claimed but did not poll
// move to the other workers when their leases run out.
func (s *FleetScheduler) Stop(grace time.Duration) {
	s.mu.Lock()
	if !s.stopped {
		close(s.stopping)
	}
	s.stopped = true
	started := s.started
	s.mu.Unlock()
	idle := make(chan struct{})
	go func() {
		if started {
			<-s.loopDone
		}
		s.polls.Wait()
		close(idle)
	}()
	stopWithin(s.clock, s.log, grace, idle, s.cancel)
}

// Next returns when a feed is next due as this worker knows it: the time
// it last rescheduled the feed for, or the time Apply computed. Another
// worker may have polled the feed since. Zero if it is not scheduled.
func (s *FleetScheduler) Next(feedID string) time.Time {
	s.mu.Lock()
	defer s.mu.Unlock()
	if ff, ok := s.entries[feedID]; ok {
		return ff.next
	}
	return time.Time{}
}

// Feeds returns the scheduled feeds.
func (s *FleetScheduler) Feeds() []crier.Feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]crier.Feed, 0, len(s.entries))
	for _, ff := range s.entries {
		out = append(out, ff.feed)
	}
	return out
}

// PollNow polls the named feed at once on this worker, ignoring its
// backoff and its lease (a user asked; the ingest transaction still keeps
// an item from being pushed twice). Stop waits for it like for a claimed
// poll.
func (s *FleetScheduler) PollNow(ctx context.Context, name string) (Result, error) {
	s.mu.Lock()
	var feed crier.Feed
	found := false
	for _, ff := range s.entries {
		if ff.feed.Name == name {
			feed, found = ff.feed, true
		}
	}
	if s.stopped {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("poll %s: %w", name, ErrStopped)
	}
	if !found {
		s.mu.Unlock()
		return Result{}, fmt.Errorf("no feed named %q", name)
	}
	s.polls.Add(1)
	s.mu.Unlock()
	defer s.polls.Done()
	return pollNowWithin(ctx, s.ctx, feed, s.poll)
}

// LastBeat is when the claim loop last turned; it turns at least every
// ClaimEvery (longer while the store fails: up to a minute).
func (s *FleetScheduler) LastBeat() time.Time { return time.Unix(0, s.beat.Load()) }
