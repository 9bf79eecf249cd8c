package feeds

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/crierd/crier"
)

// PollerOptions wires a Poller.
type PollerOptions struct {
	Log         *slog.Logger
	Now         func() time.Time
	Concurrency int // fetches in flight across all feeds
	// NotifierBurst holds the notifiers that set their own burst threshold.
	NotifierBurst map[string]int
	// Queued is called after a poll committed notifications to the outbox.
	Queued func()
	// Interval returns the feed's nominal polling interval (for backoff).
	Interval func(crier.Feed) time.Duration
	// Alerts names the notifiers that hear about feed health; none: no alerts.
	Alerts []string
	// OnPoll observes every poll that fetched (metrics).
	OnPoll func(feed crier.Feed, res Result, took time.Duration)
	// Paused says whether the user paused the feed (from the status
	// page): its scheduled polls are skipped, a forced one still fetches.
	// Nil: nothing is ever paused.
	Paused func(feed crier.Feed) bool
}

// Poller runs one poll of one feed end to end: fetch, parse, identify,
// plan and commit. It is safe for concurrent use on different feeds.
type Poller struct {
	fetcher *Fetcher
	store   crier.Recorder
	opt     PollerOptions
	slots   chan struct{}
	routing atomic.Pointer[Routing] // swapped by a config reload
	disk    storeHealth
	subs    atomic.Pointer[subscriptionsRef]

	mu    sync.Mutex
	hosts map[string]chan struct{} // per-host slots, taken before a global one
	feeds map[string]chan struct{} // one poll at a time per feed
}

// Routing is the part of the poller's options that a reload may change.
type Routing struct {
	NotifierBurst map[string]int
	Alerts        []string
	Stories       StoryPolicy
}

// SetRouting applies reloaded notifier settings to the polls that follow.
func (p *Poller) SetRouting(r Routing) { p.routing.Store(&r) }

// NewPoller returns a Poller that fetches with f and records in s.
func NewPoller(f *Fetcher, s crier.Recorder, opt PollerOptions) *Poller {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Concurrency <= 0 {
		opt.Concurrency = 8
	}
	if opt.Queued == nil {
		opt.Queued = func() {}
	}
	if opt.OnPoll == nil {
		opt.OnPoll = func(crier.Feed, Result, time.Duration) {}
	}
	if opt.Interval == nil {
		opt.Interval = func(crier.Feed) time.Duration { return 10 * time.Minute }
	}
	p := &Poller{fetcher: f, store: s, opt: opt, slots: make(chan struct{}, opt.Concurrency),
		hosts: map[string]chan struct{}{}, feeds: map[string]chan struct{}{}, disk: storeHealth{log: opt.Log}}
	p.SetRouting(Routing{NotifierBurst: opt.NotifierBurst, Alerts: opt.Alerts})
	return p
}

// LastPoll is when feed was last polled, zero if never (or unreadable).
func (p *Poller) LastPoll(feed crier.Feed) time.Time {
	st, _, err := p.store.FeedState(feed.FeedID())
	if err != nil {
		return time.Time{}
	}
	return st.LastPoll
}

// Result describes one poll.
type Result struct {
	Feed        string
	Skipped     string // why the poll did not fetch ("backing off", "gone", …)
	NotModified bool
	Unchanged   bool // same bytes as last time: parsing skipped
	Items       int
	New         int
	Queued      int
	Stats       PlanStats
	Status      int // HTTP status of the fetch, 0 when none
	Bytes       int // body bytes fetched
	Err         error
}

// Poll polls feed once unless it is backing off. The returned Result's Err
// is also returned as the error, wrapped with the feed's name and URL.
func (p *Poller) Poll(ctx context.Context, feed crier.Feed, force bool) (Result, error) {
	res := Result{Feed: feed.Name}
	st, unlock, err := p.takeFeed(ctx, feed)
	if err != nil {
		return res, err
	}
	defer unlock()
	// start is when this poll was due: backoff and the publisher's floor
	// are measured from one poll's start to the next one's.
	start := p.opt.Now()
	switch {
	case st.Gone && !force:
		res.Skipped = "gone"
		return res, nil
	case !force && p.opt.Paused != nil && p.opt.Paused(feed):
		res.Skipped = "paused"
		return res, nil
	case !force && start.Before(st.BackoffUntil):
		res.Skipped = "backing off until " + st.BackoffUntil.Format(time.RFC3339)
		return res, nil
	case !force && feed.RespectTTL && start.Add(slotSlack(p.opt.Interval(feed))).Before(st.NotBefore):
		res.Skipped = "publisher asked not before " + st.NotBefore.Format(time.RFC3339)
		return res, nil
	case !force && p.pushed(feed, st, start):
		res.Skipped = "a WebSub hub pushes it; next fallback poll after " + st.LastPoll.Add(feed.WebSubFallback).Format(time.RFC3339)
		return res, nil
	}
	if until, paused := p.disk.paused(start); paused && !force {
		res.Skipped = "state file not writable; polls paused until " + until.Format(time.RFC3339)
		return res, nil
	}

	// The host's slot first: feeds queued behind a stalled host must not
	// sit on global slots that other hosts' feeds need.
	release, err := p.hostSlot(ctx, pollURL(feed, st))
	if err != nil {
		return res, err
	}
	defer release()
	select {
	case p.slots <- struct{}{}:
		defer func() { <-p.slots }()
	case <-ctx.Done():
		return res, ctx.Err()
	}

	began := time.Now()
	err = p.poll(ctx, feed, start, &st, &res)
	if err != nil {
		// From here on the error may be logged, stored and shown: no
		// credentials from the URL, no megabytes from a server.
		err = showable(err)
	}
	var serr storeError
	switch {
	case err == nil:
		p.disk.wrote(p.opt.Now())
	case ctx.Err() != nil && errors.Is(err, context.Canceled):
		// Shutting down: not the feed's fault, keep its state as it was.
		return res, err
	case errors.As(err, &serr):
		// The feed worked; its state is as good as it was.
		p.disk.failed(p.opt.Now(), feed.Name, err)
		res.Err = fmt.Errorf("feed %s (%s): %w", feed.Name, crier.RedactURL(feed.URL), err)
	default:
		p.recordFailure(feed, &st, start, err)
		res.Err = fmt.Errorf("feed %s (%s): %w", feed.Name, crier.RedactURL(feed.URL), err)
	}
	p.checkHealth(feed, &st)
	p.opt.OnPoll(feed, res, time.Since(began))
	return res, res.Err
}

// defaultTimeout is Load's default, for feeds built without one.
const defaultTimeout = 30 * time.Second

// pollURL is where feed is fetched: its permanent new home once it moved.
func pollURL(feed crier.Feed, st crier.FeedState) string {
	if st.MovedTo != "" {
		return st.MovedTo
	}
	return feed.URL
}

// lockFeed waits until no other poll of feedID runs.
// takeFeed waits for the feed's turn and reads its state. A poll-now, a
// scheduled poll and a hub's push of one feed take turns, so that each
// sees the one before's validators, failure count and seen items.
func (p *Poller) takeFeed(ctx context.Context, feed crier.Feed) (crier.FeedState, func(), error) {
	unlock, err := p.lockFeed(ctx, feed.FeedID())
	if err != nil {
		return crier.FeedState{}, nil, err
	}
	st, _, err := p.store.FeedState(feed.FeedID())
	if err != nil {
		unlock()
		return crier.FeedState{}, nil, fmt.Errorf("feed %s: read state: %w", feed.Name, err)
	}
	st.URL = feed.URL
	return st, unlock, nil
}

func (p *Poller) lockFeed(ctx context.Context, feedID string) (func(), error) {
	p.mu.Lock()
	lock, ok := p.feeds[feedID]
	if !ok {
		lock = make(chan struct{}, 1)
		p.feeds[feedID] = lock
	}
	p.mu.Unlock()
	select {
	case lock <- struct{}{}:
		return func() { <-lock }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// hostSlot waits for one of the fetcher's PerHost slots for rawURL's host.
// The Fetcher enforces the same limit itself; taking it here, before the
// global slot, keeps the waiting outside both the global pool and the
// feed's timeout.
func (p *Poller) hostSlot(ctx context.Context, rawURL string) (func(), error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Host == "" {
		return func() {}, nil // Fetch reports the bad URL
	}
	host := strings.ToLower(u.Host)
	p.mu.Lock()
	sem, ok := p.hosts[host]
	if !ok {
		sem = make(chan struct{}, p.fetcher.opt.PerHost)
		p.hosts[host] = sem
	}
	p.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// slotSlack absorbs the scheduler's timing noise: a poll due exactly when a
// backoff or a publisher's floor ends may start a moment early, and must
// not lose its whole slot for it.
func slotSlack(interval time.Duration) time.Duration {
	return max(0, min(interval/10, time.Second))
}

func (p *Poller) poll(ctx context.Context, feed crier.Feed, start time.Time, st *crier.FeedState, res *Result) error {
	// The floor the publisher set last time, kept across polls that bring
	// no body to read it from (304, identical bytes).
	prevFloor := st.NotBefore.Sub(st.LastPoll)
	timeout := feed.Timeout
	if timeout <= 0 {
		timeout = defaultTimeout
	}
	fctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	fr, err := p.fetcher.Fetch(fctx, pollURL(feed, *st), Validators{ETag: st.ETag, LastModified: st.LastModified})
	now := p.opt.Now()
	st.LastPoll = start
	target := pollURL(feed, *st)
	if err != nil {
		var he *HTTPError
		if errors.As(err, &he) {
			res.Status = he.Status
			st.LastStatus = he.Status
			if he.Gone() {
				if !st.Gone {
					p.opt.Log.Warn("feed is gone (HTTP 410): polling stopped; remove it from the config", "feed", feed.Name, "url", crier.RedactURL(target))
				}
				st.Gone = true
			}
		}
		return err
	}
	st.LastStatus = fr.Status
	res.Status, res.Bytes = fr.Status, len(fr.Body)
	if fr.MovedTo != "" && fr.MovedTo != st.MovedTo {
		p.opt.Log.Warn("feed moved permanently; polling the new location, update the config", "feed", feed.Name,
			"url", crier.RedactURL(feed.URL), "moved_to", crier.RedactURL(fr.MovedTo))
		st.MovedTo = fr.MovedTo
	}
	return p.absorb(feed, fetched{fr: fr, start: start, now: now, prevFloor: prevFloor}, st, res)
}

// fetched is a body to take in: a poll's fetch, or a hub's push.
type fetched struct {
	fr         *FetchResult
	start, now time.Time
	prevFloor  time.Duration
	// push marks a body a WebSub hub delivered: it says nothing about the
	// feed's validators, refresh floor or health, which stay the polls'.
	push bool
}

// absorb takes in one fetched body: parse, identify, plan and commit in
// one store transaction. Polls and pushes share it, so a push is exactly
// an early poll.
func (p *Poller) absorb(feed crier.Feed, f fetched, st *crier.FeedState, res *Result) error {
	fr, start, now, prevFloor := f.fr, f.start, f.now, f.prevFloor
	// The publisher's floor (max-age, ttl) counts only when the feed opts
	// in, and then from this poll's start.
	setFloor := func(floor time.Duration) {
		if f.push {
			return
		}
		if !feed.RespectTTL || floor <= 0 {
			st.NotBefore = time.Time{}
			return
		}
		st.NotBefore = start.Add(floor)
	}
	succeed := func() {
		if f.push {
			return
		}
		st.LastSuccess = now
		st.LastError = ""
		st.Failures = 0
		st.FailingSince = time.Time{}
		st.BackoffUntil = time.Time{}
		st.Gone = false // a forced poll found it back
	}
	if fr.NotModified || (st.Seeded && fr.BodyHash != "" && fr.BodyHash == st.BodyHash) {
		res.NotModified = fr.NotModified
		res.Unchanged = !fr.NotModified
		succeed()
		if fr.MaxAge > 0 {
			setFloor(fr.MaxAge)
		} else {
			setFloor(prevFloor)
		}
		if fr.ETag != "" {
			st.ETag = fr.ETag
		}
		if fr.LastModified != "" {
			st.LastModified = fr.LastModified
		}
		if err := p.store.SaveFeedState(feed.FeedID(), *st); err != nil {
			return storeError{fmt.Errorf("save state: %w", err)}
		}
		return nil
	}

	parsed, err := Parse(fr.Body, fr.ContentType, fr.FinalURL, feed.MaxItems)
	if err != nil {
		return err
	}
	// The new validators and body hash may only be remembered together
	// with the items: saved after a failed Ingest, they would make the next
	// poll skip these very items as "not modified".
	prev := *st
	setFloor(max(fr.MaxAge, parsed.TTL))
	succeed()
	if !f.push {
		st.ETag, st.LastModified = fr.ETag, fr.LastModified
	}
	st.BodyHash = fr.BodyHash
	st.Title, st.Link, st.Items = parsed.Title, parsed.Link, len(parsed.Items)
	if subs := p.subscriptions(); subs != nil && !f.push && feed.WebSub == crier.WebSubAuto {
		subs.Discovered(feed, DiscoverHub(fr.Body, fr.Links, fr.FinalURL))
	}

	var stats PlanStats
	plan := func(fresh []crier.NewItem, first bool) []crier.Delivery {
		ds, s := Plan(PlanInput{
			Feed: feed, FeedLink: parsed.Link, Fresh: fresh, FirstPoll: first,
			NotifierBurst: p.routing.Load().NotifierBurst, Now: now,
		})
		stats = s
		return ds
	}
	ir, err := p.ingest(feed, *st, parsed.Items, now, plan)
	if err != nil {
		st.ETag, st.LastModified, st.BodyHash = prev.ETag, prev.LastModified, prev.BodyHash
		return storeError{fmt.Errorf("record items: %w", err)}
	}
	res.Items, res.New, res.Queued, res.Stats = ir.Items, ir.New, ir.Queued, stats
	if ir.New > 0 || ir.FirstPoll {
		// Counted after the commit: a second, small write, only when
		// something was new. A first poll counts what it announced, not
		// the backlog it only marked seen.
		st.Seeded = true
		n := ir.New
		if ir.FirstPoll {
			n -= stats.Backlog
		}
		countNew(st, now, n)
		if err := p.store.SaveFeedState(feed.FeedID(), *st); err != nil {
			return storeError{fmt.Errorf("save state: %w", err)}
		}
	}
	switch {
	case ir.FirstPoll:
		// Items, not ir.Queued: one item to three notifiers is one story.
		p.opt.Log.Info("feed seeded", "feed", feed.Name, "items", ir.Items, "announced", stats.Announced)
	case stats.Reposted > 0:
		p.opt.Log.Warn("feed rotated its item ids; re-published items not announced", "feed", feed.Name, "reposted", stats.Reposted)
	}
	if ir.Queued > 0 {
		p.opt.Queued()
	}
	return nil
}

// defaultMaxBackoff is Load's default, for feeds built without one.
const defaultMaxBackoff = 24 * time.Hour

// recordFailure keeps the reason and backs the feed off exponentially from
// its own interval up to max_backoff, and at least until the publisher's
// Retry-After. The reason is stored redacted and capped, so that every
// reader of the state (API, status page, `crier status`, alerts) is safe.
func (p *Poller) recordFailure(feed crier.Feed, st *crier.FeedState, start time.Time, cause error) {
	now := p.opt.Now()
	cause = showable(cause)
	st.LastPoll = start
	st.LastError = cause.Error()
	if st.Failures == 0 {
		st.FailingSince = start
	}
	st.Failures++

	// The nth consecutive failure waits interval·2^(n-1): the first is
	// retried at the next scheduled poll, one blip is not worth a backoff.
	// A 429 or 503 that does not say how long to wait gets one doubling
	// more, so even the first one skips a scheduled poll.
	var he *HTTPError
	isHTTP := errors.As(cause, &he)
	steps := st.Failures - 1
	if isHTTP && he.RetryAfter == 0 && (he.Status == 429 || he.Status == 503) {
		steps++
	}
	maxBackoff := feed.MaxBackoff
	if maxBackoff <= 0 {
		maxBackoff = defaultMaxBackoff
	}
	interval := p.opt.Interval(feed)
	wait := interval
	for i := 0; i < steps && wait < maxBackoff; i++ {
		wait *= 2
	}
	wait = min(wait, maxBackoff)
	var until time.Time
	if steps > 0 {
		// From this poll's start, so that the scheduled poll one wait
		// later is the one made, not the one after it.
		until = start.Add(wait - slotSlack(interval))
	}
	if isHTTP && he.RetryAfter > 0 && now.Add(he.RetryAfter).After(until) {
		// The publisher's word, from when it gave it: not a moment before.
		until = now.Add(he.RetryAfter)
	}
	st.BackoffUntil = until
	p.opt.Log.Warn("poll failed", "feed", feed.Name, "url", crier.RedactURL(feed.URL), "failures", st.Failures, "err", cause)
	if err := p.store.SaveFeedState(feed.FeedID(), *st); err != nil {
		p.disk.failed(now, feed.Name, fmt.Errorf("save feed state: %w", err))
	} else {
		p.disk.wrote(now)
	}
}
