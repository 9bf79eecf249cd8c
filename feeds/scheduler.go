package feeds

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierd/crier"
	"github.com/robfig/cron/v3"
)

// heartbeat proves the cron loop itself is alive even when every feed is
// polled hourly; the watchdog and /healthz read it.
const heartbeat = 10 * time.Second

// Clock is the scheduler's time: when a feed was due, and the waits for
// jitter and for the shutdown grace. (cron keeps its own real-time clock
// for firing schedules.)
type Clock interface {
	Now() time.Time
	After(d time.Duration) <-chan time.Time
}

type realClock struct{}

func (realClock) Now() time.Time                         { return time.Now() }
func (realClock) After(d time.Duration) <-chan time.Time { return time.After(d) }

// Scheduler polls every feed on its cron schedule. Feeds can be added,
// changed and removed while it runs (config reload) without losing a poll
// in flight.
type Scheduler struct {
	poller *Poller
	log    *slog.Logger
	clock  Clock
	cron   *cron.Cron

	// Polls run under ctx; Stop cancels it only after a grace period so
	// that polls in flight can finish.
	ctx    context.Context
	cancel context.CancelFunc
	polls  sync.WaitGroup
	// stopping is closed by Stop: a poll still waiting out its jitter
	// gives up rather than hold shutdown for its grace.
	stopping chan struct{}

	mu      sync.Mutex
	entries map[string]*scheduled // by feed ID
	started bool
	stopped bool // no poll may start: Stop is waiting for polls

	beat atomic.Int64 // unix nanos of the last heartbeat
}

type scheduled struct {
	feed     crier.Feed
	entry    cron.EntryID
	schedule cron.Schedule
}

// NewScheduler returns a stopped scheduler that polls through p. A nil
// clock is the real one.
func NewScheduler(p *Poller, log *slog.Logger, clock Clock) *Scheduler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if clock == nil {
		clock = realClock{}
	}
	cl := cronLogger{log}
	ctx, cancel := context.WithCancel(context.Background())
	s := &Scheduler{
		poller: p,
		log:    log,
		clock:  clock,
		// cron's default chain does not recover panics, and a slow feed
		// must not pile up overlapping polls of itself. (run recovers a
		// panicking poll itself: cron v3.0.1's SkipIfStillRunning loses
		// its token to a panic and would skip the feed for good.)
		cron:     cron.New(cron.WithChain(cron.Recover(cl), cron.SkipIfStillRunning(cl)), cron.WithLogger(cl)),
		ctx:      ctx,
		cancel:   cancel,
		stopping: make(chan struct{}),
		entries:  map[string]*scheduled{},
	}
	s.beat.Store(clock.Now().UnixNano())
	s.cron.Schedule(cron.Every(heartbeat), cron.FuncJob(func() { s.beat.Store(s.clock.Now().UnixNano()) }))
	return s
}

// Interval is a feed's nominal time between polls, derived from its schedule.
func Interval(spec string) time.Duration {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return 10 * time.Minute
	}
	return interval(sched)
}

// NextPoll is when a schedule next fires after t.
func NextPoll(spec string, t time.Time) (time.Time, error) {
	sched, err := cron.ParseStandard(spec)
	if err != nil {
		return time.Time{}, err
	}
	return sched.Next(t), nil
}

func interval(sched cron.Schedule) time.Duration {
	t1 := sched.Next(time.Now())
	if d := sched.Next(t1).Sub(t1); d > 0 {
		return d
	}
	return 10 * time.Minute
}

// Apply makes the scheduled feeds exactly feeds: new ones start, removed
// ones stop (a poll of theirs in flight finishes), changed ones take their
// new settings at their next poll.
func (s *Scheduler) Apply(feeds []crier.Feed) error {
	// Every schedule is checked before anything changes: a refused Apply
	// leaves the running feeds as they were.
	scheds := make([]cron.Schedule, len(feeds))
	for i, f := range feeds {
		sched, err := cron.ParseStandard(f.Schedule)
		if err != nil {
			return fmt.Errorf("feed %s: schedule %q: %w", f.Name, f.Schedule, err)
		}
		scheds[i] = sched
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	want := map[string]bool{}
	for i, f := range feeds {
		want[f.FeedID()] = true
		if cur, ok := s.entries[f.FeedID()]; ok {
			if cur.feed.Schedule == f.Schedule {
				cur.feed = f
				continue
			}
			s.cron.Remove(cur.entry)
			delete(s.entries, f.FeedID())
		}
		sc := &scheduled{feed: f, schedule: scheds[i]}
		id := f.FeedID()
		sc.entry = s.cron.Schedule(sc.schedule, cron.FuncJob(func() { s.run(id) }))
		s.entries[id] = sc
		if s.started {
			s.catchUp(id)
		}
	}
	for id, sc := range s.entries {
		if !want[id] {
			s.cron.Remove(sc.entry)
			delete(s.entries, id)
		}
	}
	return nil
}

// run is one scheduled poll. The feed is looked up at run time so that a
// reload's changes apply to the next poll.
func (s *Scheduler) run(feedID string) {
	s.mu.Lock()
	sc, ok := s.entries[feedID]
	if !ok || s.stopped {
		s.mu.Unlock()
		return
	}
	feed, every := sc.feed, interval(sc.schedule)
	s.polls.Add(1) // under mu: Stop's Wait comes after stopped is set
	s.mu.Unlock()
	defer s.polls.Done()
	select {
	case <-s.clock.After(Jitter(feedID, every)):
	case <-s.stopping:
		return
	}
	res, err := s.poll(s.ctx, feed, false)
	if err == nil && res.Skipped != "" {
		s.log.Debug("poll skipped", "feed", feed.Name, "reason", res.Skipped)
	}
}

// poll is one poll that turns a panic into an error, so that one bad poll
// neither kills the daemon nor stops the feed's schedule.
func (s *Scheduler) poll(ctx context.Context, feed crier.Feed, force bool) (Result, error) {
	return pollRecovered(ctx, s.poller, s.log, feed, force)
}

func pollRecovered(ctx context.Context, p *Poller, log *slog.Logger, feed crier.Feed, force bool) (res Result, err error) {
	defer func() {
		if r := recover(); r != nil {
			shown, panicked := crier.RedactURL(feed.URL), ErrorText(fmt.Sprint(r))
			log.Error("poll panicked", "feed", feed.Name, "url", shown, "panic", panicked, "stack", string(debug.Stack()))
			err = fmt.Errorf("feed %s (%s): poll panicked: %s", feed.Name, shown, panicked)
			res = Result{Feed: feed.Name, Err: err}
		}
	}()
	return p.Poll(ctx, feed, force)
}

// Jitter is a stable per-feed delay, so feeds sharing a schedule do not
// all hit the network in the same second: up to a tenth of the interval,
// at most a minute.
func Jitter(feedID string, every time.Duration) time.Duration {
	spread := min(every/10, time.Minute)
	if spread <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(feedID))
	return time.Duration(h.Sum64() % uint64(spread))
}

// Start begins scheduling. Feeds never polled, or not polled for longer
// than their interval (crier was stopped), are polled at once rather than
// at their next scheduled time.
func (s *Scheduler) Start() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.started = true
	s.cron.Start()
	for id := range s.entries {
		s.catchUp(id)
	}
}

// catchUp polls a feed now if it is overdue. Called with s.mu held.
func (s *Scheduler) catchUp(feedID string) {
	sc := s.entries[feedID]
	if s.stopped {
		return
	}
	last := s.poller.LastPoll(sc.feed)
	if s.clock.Now().Sub(last) < interval(sc.schedule) {
		return
	}
	s.log.Debug("feed overdue: polling it now", "feed", sc.feed.Name, "last_poll", last)
	// Through the cron job wrapper, so it cannot overlap a scheduled poll.
	job := s.cron.Entry(sc.entry).WrappedJob
	s.polls.Add(1)
	go func() {
		defer s.polls.Done()
		job.Run()
	}()
}

// Stop stops scheduling new polls, lets polls in flight finish for up to
// grace, then cancels the rest and waits for them.
func (s *Scheduler) Stop(grace time.Duration) {
	s.mu.Lock()
	if !s.stopped {
		close(s.stopping)
	}
	s.stopped = true // polls.Add may not race polls.Wait below
	s.mu.Unlock()
	cronDone := s.cron.Stop()
	idle := make(chan struct{})
	go func() {
		<-cronDone.Done()
		s.polls.Wait()
		close(idle)
	}()
	stopWithin(s.clock, s.log, grace, idle, s.cancel)
}

// stopWithin is both schedulers' shutdown: the polls in flight get grace
// to finish (idle closes when they have), then the rest are cancelled and
// waited for.
func stopWithin(clock Clock, log *slog.Logger, grace time.Duration, idle <-chan struct{}, cancel context.CancelFunc) {
	select {
	case <-idle:
	case <-clock.After(grace):
		log.Warn("polls still running at shutdown; cancelling them", "grace", grace)
	}
	cancel()
	<-idle
}

// Next returns when a feed is next due, zero if it is not scheduled.
func (s *Scheduler) Next(feedID string) time.Time {
	s.mu.Lock()
	sc, ok := s.entries[feedID]
	s.mu.Unlock()
	if !ok {
		return time.Time{}
	}
	return s.cron.Entry(sc.entry).Next
}

// Feeds returns the scheduled feeds.
func (s *Scheduler) Feeds() []crier.Feed {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]crier.Feed, 0, len(s.entries))
	for _, sc := range s.entries {
		out = append(out, sc.feed)
	}
	return out
}

// ErrStopped is returned by PollNow once the scheduler is stopping.
var ErrStopped = errors.New("scheduler stopped")

// PollNow polls the named feed at once, ignoring its backoff. Stop treats
// it like a scheduled poll: waits for it up to its grace, then cancels it.
func (s *Scheduler) PollNow(ctx context.Context, name string) (Result, error) {
	s.mu.Lock()
	var feed crier.Feed
	found := false
	for _, sc := range s.entries {
		if sc.feed.Name == name {
			feed, found = sc.feed, true
		}
	}
	if !found || s.stopped {
		s.mu.Unlock()
		if s.stopped {
			return Result{}, fmt.Errorf("poll %s: %w", name, ErrStopped)
		}
		return Result{}, fmt.Errorf("no feed named %q", name)
	}
	s.polls.Add(1)
	s.mu.Unlock()
	defer s.polls.Done()
	return pollNowWithin(ctx, s.ctx, feed, s.poll)
}

// pollNowWithin runs a PollNow under ctx, cancelled also when the
// scheduler's own context (root) is, at the end of Stop's grace.
func pollNowWithin(ctx, root context.Context, feed crier.Feed,
	poll func(context.Context, crier.Feed, bool) (Result, error)) (Result, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer context.AfterFunc(root, cancel)()
	return poll(ctx, feed, true)
}

// LastBeat is when the cron loop last proved it is alive.
func (s *Scheduler) LastBeat() time.Time { return time.Unix(0, s.beat.Load()) }

// PollAll polls every feed once, concurrently within the poller's limit,
// and returns every result (for `run --once`).
func PollAll(ctx context.Context, p *Poller, feeds []crier.Feed) []Result {
	results := make([]Result, len(feeds))
	var wg sync.WaitGroup
	for i, f := range feeds {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := p.Poll(ctx, f, false)
			res.Feed, res.Err = f.Name, err
			results[i] = res
		}()
	}
	wg.Wait()
	return results
}

// cronLogger adapts slog to cron's logger.
type cronLogger struct{ log *slog.Logger }

func (l cronLogger) Info(msg string, kv ...any) { l.log.Debug("cron: "+msg, kv...) }
func (l cronLogger) Error(err error, msg string, kv ...any) {
	l.log.Error("cron: "+msg, append(kv, "err", err)...)
}
