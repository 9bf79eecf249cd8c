package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/notify"
	"github.com/crierd/crier/store"
)

const (
	pollGrace  = 15 * time.Second // polls in flight may finish at shutdown
	flushGrace = 5 * time.Second  // the dispatcher may deliver what they queued
	pruneEvery = 6 * time.Hour
)

// daemon is crier's parts wired together for one config.
type daemon struct {
	cfg       *crier.Config
	log       *slog.Logger
	store     *store.Store
	notifiers map[string]notify.Notifier
	poller    *feeds.Poller
	disp      *notify.Dispatcher
	sched     *feeds.Scheduler
}

// openDaemon opens the store and builds every part, starting nothing.
func openDaemon(cfg *crier.Config, log *slog.Logger, stdout io.Writer) (*daemon, error) {
	st, err := store.Open(filepath.Join(cfg.StateDir, "crier.db"), store.Options{})
	if err != nil {
		return nil, err
	}
	d := &daemon{cfg: cfg, log: log, store: st, notifiers: map[string]notify.Notifier{}}
	quiet := map[string]*crier.QuietHours{}
	burst := map[string]int{}
	for _, nc := range cfg.Notifiers {
		n, err := notify.Build(nc, notify.Deps{Stdout: stdout, StateDir: cfg.StateDir, Log: log})
		if err != nil {
			st.Close()
			return nil, fmt.Errorf("notifier %s: %w", nc.Name, err)
		}
		d.notifiers[nc.Name] = n
		if nc.QuietHours != nil {
			quiet[nc.Name] = nc.QuietHours
		}
		if nc.Burst != nil {
			burst[nc.Name] = *nc.Burst
		}
	}
	if err := d.buryOrphans(); err != nil {
		st.Close()
		return nil, err
	}
	d.disp = notify.NewDispatcher(st, d.notifiers, notify.DispatcherOptions{Log: log, QuietHours: quiet, Burst: burst})
	fetcher := feeds.NewFetcher(nil, feeds.FetchOptions{
		MaxBody: cfg.HTTP.MaxBody, UserAgent: cfg.HTTP.UserAgent, PerHost: cfg.HTTP.PerHost,
	})
	d.poller = feeds.NewPoller(fetcher, st, feeds.PollerOptions{
		Log:           log,
		Concurrency:   cfg.HTTP.Concurrency,
		NotifierBurst: burst,
		Queued:        d.disp.Kick,
		Interval:      func(f crier.Feed) time.Duration { return feeds.Interval(f.Schedule) },
		Alerts:        cfg.Alerts.Notify,
	})
	d.sched = feeds.NewScheduler(d.poller, log)
	return d, nil
}

// buryOrphans dead-letters queued notifications whose notifier is no longer
// configured: they must stay visible (and redeliverable), never vanish.
func (d *daemon) buryOrphans() error {
	names, err := d.store.OutboxNotifiers()
	if err != nil {
		return err
	}
	for _, name := range names {
		if _, ok := d.notifiers[name]; ok {
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

// serve runs the daemon until ctx ends, then shuts down gracefully.
func (d *daemon) serve(ctx context.Context, sd *sdNotifier) error {
	if err := d.sched.Apply(d.cfg.Feeds); err != nil {
		return err
	}
	d.sched.Start()

	var wg sync.WaitGroup
	dispCtx, stopDisp := context.WithCancel(context.Background())
	defer stopDisp()
	wg.Go(func() { _ = d.disp.Run(dispCtx) })
	bgCtx, stopBg := context.WithCancel(ctx)
	defer stopBg()
	wg.Go(func() { d.pruneLoop(bgCtx) })
	wg.Go(func() { sd.watchdog(bgCtx, d.healthy) })

	d.log.Info("crier running", "feeds", len(d.cfg.Feeds), "notifiers", len(d.notifiers), "state_dir", d.cfg.StateDir)
	sd.send("READY=1\nSTATUS=" + d.status())
	statusTick := time.NewTicker(time.Minute)
	defer statusTick.Stop()
	for running := true; running; {
		select {
		case <-ctx.Done():
			running = false
		case <-statusTick.C:
			sd.send("STATUS=" + d.status())
		}
	}

	sd.send("STOPPING=1")
	d.log.Info("stopping: letting polls in flight finish", "grace", pollGrace)
	d.sched.Stop(pollGrace)
	stopBg()
	stopDisp()
	wg.Wait()
	flushCtx, cancel := context.WithTimeout(context.Background(), flushGrace)
	defer cancel()
	delivered, pending, err := d.disp.Drain(flushCtx)
	if err != nil {
		d.log.Warn("flushing the outbox", "err", err)
	}
	d.log.Info("stopped", "delivered_at_exit", delivered, "pending", pending)
	return d.store.Close()
}

// healthy reports whether the scheduler and dispatcher make progress.
func (d *daemon) healthy(now time.Time) (bool, string) {
	if age := now.Sub(d.sched.LastBeat()); age > 3*time.Minute {
		return false, fmt.Sprintf("scheduler silent for %s", age.Round(time.Second))
	}
	if age := now.Sub(d.disp.LastProgress()); age > 3*time.Minute {
		return false, fmt.Sprintf("dispatcher silent for %s", age.Round(time.Second))
	}
	return true, ""
}

// status is the one-line summary systemd shows.
func (d *daemon) status() string {
	states, _ := d.store.FeedStates()
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
	counts, _ := d.store.OutboxCounts()
	queued := 0
	for _, n := range counts {
		queued += n
	}
	s := fmt.Sprintf("%d feeds, %d failing, %d queued", len(d.cfg.Feeds), failing, queued)
	if !last.IsZero() {
		s += ", last poll " + last.Format("15:04:05")
	}
	return s
}

func (d *daemon) pruneLoop(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		keep := map[string]bool{}
		for _, f := range d.cfg.Feeds {
			keep[f.FeedID()] = true
		}
		n, err := d.store.Prune(ctx, time.Now().Add(-d.cfg.Retention), keep, 1000)
		if err != nil && ctx.Err() == nil {
			d.log.Error("pruning seen items", "err", err)
		} else if n > 0 {
			d.log.Info("pruned seen items past retention", "removed", n)
		}
		t.Reset(pruneEvery)
	}
}
