package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/cmd/crier/internal/web"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/notify"
	"github.com/crierd/crier/store"
	"github.com/prometheus/client_golang/prometheus"
)

const (
	pollGrace  = 15 * time.Second // polls in flight may finish at shutdown
	sendGrace  = 35 * time.Second // a send in flight may finish (its own timeout is 30 s)
	flushGrace = 5 * time.Second  // the dispatcher may deliver what the last polls queued
)

// scheduler is what the daemon needs of feeds.Scheduler (one worker's cron
// schedules) and feeds.FleetScheduler (feeds claimed from a shared store).
type scheduler interface {
	Apply(feeds []crier.Feed) error
	Start()
	Stop(grace time.Duration)
	Next(feedID string) time.Time
	Feeds() []crier.Feed
	PollNow(ctx context.Context, name string) (feeds.Result, error)
	LastBeat() time.Time
}

// daemon is crier's parts wired together for one config.
type daemon struct {
	log     *slog.Logger
	stdout  io.Writer
	getenv  func(string) (string, bool)
	store   store.Store
	poller  *feeds.Poller
	sched   scheduler
	metrics *web.Metrics
	clock   clock         // the scheduler's and the prune loop's time
	websub  *feeds.WebSub // nil without http.public_url

	// fleet is the store when workers share it (store.postgres), else
	// nil; worker names this process in its leases.
	fleet     store.Fleet
	worker    string
	configGen int64 // the fleet's config generation in force here

	mu  sync.Mutex    // guards cfg
	cfg *crier.Config // the config in force
	// swapping is held while a reload hands the outbox to a new
	// dispatcher, and while orphaned queues are dead-lettered.
	swapping sync.Mutex
	disp     atomic.Pointer[notify.Dispatcher]
	// dispDone is closed when the running dispatcher's Run returns.
	dispDone chan struct{}
}

// buildNotifiers is how run, reload and check build cfg's notifiers: one
// code path, so that check refuses exactly what run would.
func buildNotifiers(cfg *crier.Config, stdout io.Writer, log *slog.Logger) (map[string]notify.Notifier, error) {
	return notify.BuildAll(cfg, notify.Deps{Stdout: stdout, Log: log})
}

// openDaemon opens the store and builds every part, starting nothing. The
// notifiers are built first: a config that cannot run leaves no store.
func openDaemon(ctx context.Context, cfg *crier.Config, log *slog.Logger, env *cliEnv) (*daemon, error) {
	notifiers, err := buildNotifiers(cfg, env.stdout, log)
	if err != nil {
		return nil, err
	}
	st, err := openBackend(ctx, cfg, log)
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, log: log, stdout: env.stdout, getenv: env.getenv, store: st, clock: realClock{}}
	if fl, ok := st.(store.Fleet); ok {
		d.fleet, d.worker = fl, workerName(cfg.Store.Postgres.Worker)
		d.log = log.With("worker", d.worker)
		log = d.log
	}
	d.metrics = web.NewMetrics(prometheus.NewRegistry(), st, func() []crier.Feed { return d.config().Feeds })
	disp, routing := d.newDispatcher(cfg, notifiers)
	if err := d.buryOrphans(cfg); err != nil {
		st.Close()
		return nil, err
	}
	d.disp.Store(disp)
	fetcher := feeds.NewFetcher(nil, feeds.FetchOptions{
		MaxBody: cfg.HTTP.MaxBody, UserAgent: cfg.HTTP.UserAgent, PerHost: cfg.HTTP.PerHost,
	})
	d.poller = feeds.NewPoller(fetcher, st, feeds.PollerOptions{
		Log:           log,
		Concurrency:   cfg.HTTP.Concurrency,
		NotifierBurst: routing.NotifierBurst,
		Alerts:        routing.Alerts,
		Queued:        d.kick,
		Interval:      func(f crier.Feed) time.Duration { return feeds.Interval(f.Schedule) },
		OnPoll: func(f crier.Feed, res feeds.Result, took time.Duration) {
			d.metrics.ObservePoll(f, res, took)
			st.RecordPoll(took, res.Err != nil)
		},
		Paused: d.paused,
	})
	if d.fleet != nil {
		d.sched = feeds.NewFleetScheduler(d.poller, d.fleet, feeds.FleetOptions{
			Owner: d.worker, Lease: cfg.Store.Postgres.Lease, Log: log, Clock: d.clock,
		})
	} else {
		d.sched = feeds.NewScheduler(d.poller, log, d.clock)
	}
	if err := d.openWebSub(cfg); err != nil {
		st.Close()
		return nil, err
	}
	return d, nil
}

// newDispatcher makes a dispatcher over cfg's notifiers, built by
// buildNotifiers. It changes nothing: a reload whose notifiers cannot be
// built is rejected before anything stops.
func (d *daemon) newDispatcher(cfg *crier.Config, notifiers map[string]notify.Notifier) (*notify.Dispatcher, feeds.Routing) {
	quiet := map[string]*crier.QuietHours{}
	digest := map[string]string{}
	routing := feeds.Routing{NotifierBurst: map[string]int{}, Alerts: cfg.Alerts.Notify,
		Stories: feeds.StoryPolicy{Notifiers: map[string]feeds.NotifierStory{}}}
	for _, nc := range cfg.Notifiers {
		routing.Stories.Notifiers[nc.Name] = feeds.NotifierStory{Mode: nc.SameStory, Window: nc.Window, Escalate: nc.Escalate}
		if nc.QuietHours != nil {
			quiet[nc.Name] = nc.QuietHours
		}
		if nc.Digest != "" {
			digest[nc.Name] = nc.Digest
		}
		if nc.Burst != nil {
			routing.NotifierBurst[nc.Name] = *nc.Burst
		}
	}
	disp := notify.NewDispatcher(d.store, notifiers, notify.DispatcherOptions{
		Log: d.log, QuietHours: quiet, Burst: routing.NotifierBurst, Digest: digest,
		StorySources: d.store.StorySources,
		Leases:       d.laneLeases(),
		Owner:        d.worker,
		LeaseTTL:     d.lease(),
		SendTimeout:  d.sendTimeout(),
		OnResult: func(name string, _ crier.Entry, err error) {
			d.metrics.ObserveSend(name, err)
			if q, ok := notifiers[name].(interface {
				Quota() (limit, remaining int, reset time.Time, known bool)
			}); ok {
				if _, remaining, _, known := q.Quota(); known {
					d.metrics.SetQuota(name, remaining)
				}
			}
		},
	})
	return disp, routing
}

// buryOrphans dead-letters queued notifications whose notifier is no longer
// configured: they must stay visible (and redeliverable), never vanish.
func (d *daemon) buryOrphans(cfg *crier.Config) error {
	names, err := d.store.OutboxNotifiers()
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, ok := cfg.Notifier(name); ok {
			continue
		}
		pending, err := d.store.Pending(name)
		if err != nil {
			return err
		}
		for _, e := range pending {
			if err := d.store.Bury(name, e.ID, fmt.Sprintf("notifier %q is no longer configured", name)); err != nil {
				return err
			}
		}
		d.log.Warn("queued notifications for a notifier that is no longer configured moved to dead letters", "notifier", name, "count", len(pending))
	}
	return nil
}

func (d *daemon) kick() { d.disp.Load().Kick() }

// paused says whether the user paused feed from the status page. A state
// file that cannot say polls anyway: never miss a story.
func (d *daemon) paused(feed crier.Feed) bool {
	p, err := d.store.IsPaused(feed.FeedID())
	if err != nil {
		d.log.Error("reading whether a feed is paused; polling it", "feed", feed.Name, "err", err)
	}
	return p
}

func (d *daemon) setConfig(cfg *crier.Config) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cfg = cfg
}

func (d *daemon) config() *crier.Config {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cfg
}

// startDispatcher runs the current dispatcher until it is stopped or ctx ends.
func (d *daemon) startDispatcher(ctx context.Context) {
	disp, done := d.disp.Load(), make(chan struct{})
	d.dispDone = done
	go func() {
		defer close(done)
		_ = disp.Run(ctx)
	}()
}

// stopDispatcher lets every send in flight finish, then stops the loops.
// It reports whether that happened within limit.
func (d *daemon) stopDispatcher(limit time.Duration) bool {
	d.disp.Load().Stop()
	select {
	case <-d.dispDone:
		return true
	case <-time.After(limit):
		return false
	}
}

// serve runs the daemon until ctx ends, then shuts down gracefully.
// SIGHUP reloads the config.
func (d *daemon) serve(ctx context.Context, sd *sdNotifier) error {
	bgCtx, stopBg := context.WithCancel(ctx)
	defer stopBg()
	// Bind the listener first: a taken port fails the start, not later.
	var serveHTTP func() error
	if addr := d.cfg.HTTP.Listen; addr != "" {
		h := d.withWebSub(web.NewHandler(web.Options{
			Store: d.store, Daemon: webDaemon{d}, Metrics: d.metrics, Token: d.cfg.HTTP.Token, Log: d.log,
			Notifiers: d.notifierNames, PublicURL: d.cfg.HTTP.PublicURL,
			Explain: func(link string) (string, error) { return explainText(d.config(), d.store, link) },
		}))
		var err error
		if serveHTTP, err = web.Listen(bgCtx, addr, h, d.log); err != nil {
			d.store.Close()
			return fmt.Errorf("http.listen %s: %w", addr, err)
		}
		// web.Listen logs the listener once, with the address it bound.
	}
	if err := d.sched.Apply(d.cfg.Feeds); err != nil {
		d.store.Close()
		return err
	}
	if d.websub != nil {
		// Only the daemon slows polls down for hubs: run --once polls all.
		d.poller.SetSubscriptions(d.websub)
		d.websub.Apply(d.cfg.Feeds)
	}
	d.sched.Start()

	// Sends run under dispCtx, which outlives ctx: at shutdown the
	// dispatcher is stopped between sends, never in the middle of one.
	dispCtx, cancelSends := context.WithCancel(context.Background())
	defer cancelSends()
	d.startDispatcher(dispCtx)

	var wg sync.WaitGroup
	wg.Go(func() { d.pruneLoop(bgCtx) })
	wg.Go(func() { sd.watchdog(bgCtx, d.healthy) })
	if d.websub != nil {
		wg.Go(func() { d.websub.Run(bgCtx) })
	}
	if l, ok := d.store.(outboxListener); ok && d.fleet != nil {
		// Entries queued by other workers' polls wake this worker's
		// lanes at once, not at their next recheck.
		wg.Go(func() {
			if err := l.ListenOutbox(bgCtx, func(string) { d.kick() }); err != nil && bgCtx.Err() == nil {
				d.log.Error("listening for the fleet's new notifications; lanes recheck every few seconds instead", "err", err)
			}
		})
	}
	if serveHTTP != nil {
		wg.Go(func() {
			if err := serveHTTP(); err != nil {
				d.log.Error("status listener", "err", err)
			}
		})
	}

	var published chan publishedConfig
	if d.fleet != nil {
		gen, _, _, err := d.fleet.ConfigGeneration(ctx)
		if err != nil {
			d.log.Warn("reading the fleet's config generation", "err", err)
		}
		d.configGen, published = gen, make(chan publishedConfig)
		wg.Go(func() { watchConfigGenerations(bgCtx, d.fleet, gen, fleetConfigEvery, d.log, published) })
	}

	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)

	d.log.Info("crier running", "feeds", len(d.cfg.Feeds), "notifiers", len(d.cfg.Notifiers), "state_dir", d.cfg.StateDir)
	sd.send("READY=1\nSTATUS=" + d.status())
	statusTick := time.NewTicker(time.Minute)
	defer statusTick.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-hup:
			if d.reload(dispCtx, sd) && d.fleet != nil {
				d.publishConfig(ctx)
			}
		case p := <-published:
			d.followConfig(dispCtx, sd, p)
		case <-statusTick.C:
			sd.send("STATUS=" + d.status())
		}
	}

	sd.send("STOPPING=1")
	d.log.Info("stopping: letting polls in flight finish", "grace", pollGrace)
	d.sched.Stop(pollGrace)
	stopBg()
	wg.Wait()
	if !d.stopDispatcher(sendGrace) {
		d.log.Warn("a notifier is still sending after the grace period; cancelling it", "grace", sendGrace)
	}
	cancelSends()
	<-d.dispDone
	flushCtx, cancel := context.WithTimeout(context.Background(), flushGrace)
	defer cancel()
	res, err := d.disp.Load().Drain(flushCtx)
	if err != nil {
		d.log.Warn("flushing the outbox", "err", err)
	}
	d.log.Info("stopped", "delivered_at_exit", res.Delivered, "pending", res.Pending)
	return d.store.Close()
}

// healthy reports whether the scheduler and dispatcher make progress. The
// dispatcher marks progress at least every 30 s and a send may take 30 s.
func (d *daemon) healthy(now time.Time) (bool, string) {
	if age := now.Sub(d.sched.LastBeat()); age > 3*time.Minute {
		return false, fmt.Sprintf("scheduler silent for %s", age.Round(time.Second))
	}
	if age := now.Sub(d.disp.Load().LastProgress()); age > 3*time.Minute {
		return false, fmt.Sprintf("dispatcher silent for %s", age.Round(time.Second))
	}
	return true, ""
}

// status is the one-line summary systemd shows.
func (d *daemon) status() string {
	states, err := d.store.FeedStates()
	if err != nil {
		return "store unreadable: " + err.Error()
	}
	failing := 0
	var last time.Time
	for _, st := range states {
		if st.Failures > 0 {
			failing++
		}
		if st.LastPoll.After(last) {
			last = st.LastPoll
		}
	}
	counts, err := d.store.OutboxCounts()
	if err != nil {
		return "store unreadable: " + err.Error()
	}
	queued := 0
	for _, n := range counts {
		queued += n
	}
	s := fmt.Sprintf("%d feeds, %d failing, %d queued", len(d.config().Feeds), failing, queued)
	if !last.IsZero() {
		s += ", last poll " + last.Format("15:04:05")
	}
	return s
}

// webDaemon is what the status page and API see of the daemon.
type webDaemon struct{ d *daemon }

func (w webDaemon) Feeds() []crier.Feed                  { return w.d.config().Feeds }
func (w webDaemon) NextPoll(feedID string) time.Time     { return w.d.sched.Next(feedID) }
func (w webDaemon) Healthy(now time.Time) (bool, string) { return w.d.healthy(now) }
func (w webDaemon) Kick()                                { w.d.kick() }
func (w webDaemon) PollNow(ctx context.Context, name string) (feeds.Result, error) {
	return w.d.sched.PollNow(ctx, name)
}

func (w webDaemon) Notifiers() []string { return w.d.notifierNames() }

// TestNotify is `crier test-notify NAME` run by the daemon, with the
// config in force.
func (w webDaemon) TestNotify(ctx context.Context, name string) error {
	cfg := w.d.config()
	nc, ok := cfg.Notifier(name)
	if !ok {
		return fmt.Errorf("no notifier named %q", name)
	}
	return sendTest(ctx, nc, notify.Deps{Stdout: w.d.stdout, StateDir: cfg.StateDir, Log: w.d.log})
}
