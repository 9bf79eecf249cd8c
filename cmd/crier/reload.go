package main

import (
	"context"
	"errors"
	"reflect"
	"strconv"
	"time"

	"github.com/crierd/crier"
)

// reload re-reads the config. An invalid one is reported and ignored; a
// valid one is applied without a restart: feeds start, stop or change at
// their next poll, and notifier changes hand the outbox to a new
// dispatcher between sends, so nothing is lost or sent twice. It reports
// whether the new config is in force.
func (d *daemon) reload(dispCtx context.Context, sd *sdNotifier) bool {
	sd.send("RELOADING=1\nMONOTONIC_USEC=" + strconv.FormatInt(time.Now().UnixMicro(), 10))
	old := d.config()
	cfg, err := crier.LoadFile(old.Path, crier.LoadOptions{Env: d.getenv})
	if err != nil {
		d.rejectReload(sd, err)
		return false
	}
	if cfg.StateDir != old.StateDir {
		d.log.Warn("state_dir changes take effect after a restart", "state_dir", old.StateDir)
		cfg.StateDir = old.StateDir
	}
	if !reflect.DeepEqual(cfg.Store, old.Store) {
		d.log.Warn("store settings take effect after a restart")
		cfg.Store = old.Store
	}
	if cfg.HTTP != old.HTTP {
		d.log.Warn("http settings take effect after a restart")
	}

	if notifiersChanged(old, cfg) || !reflect.DeepEqual(old.Alerts, cfg.Alerts) {
		notifiers, err := buildNotifiers(cfg, d.stdout, d.log)
		if err != nil {
			d.rejectReload(sd, err)
			return false
		}
		disp, routing := d.newDispatcher(cfg, notifiers)
		// New polls route to the new notifiers first; then the old
		// dispatcher finishes its sends, and only then are the queues of
		// removed notifiers dead-lettered, so nothing is both sent and
		// buried. (A poll still in flight with the old routes may queue
		// for a removed notifier; the prune loop buries those later.)
		d.swapping.Lock()
		d.poller.SetRouting(routing)
		d.applyFeeds(cfg)
		for !d.stopDispatcher(sendGrace) {
			// Sends are bounded by their timeouts; waiting on is safer
			// than two dispatchers sending for one notifier.
			d.log.Warn("reload waits for a notifier that is still sending")
		}
		d.setConfig(cfg)
		if err := d.buryOrphans(cfg); err != nil {
			d.log.Error("dead-lettering queues of removed notifiers", "err", err)
		}
		d.disp.Store(disp)
		d.startDispatcher(dispCtx)
		d.swapping.Unlock()
		disp.Kick()
	} else {
		d.applyFeeds(cfg)
		d.setConfig(cfg)
	}
	d.log.Info("config reloaded", "feeds", len(cfg.Feeds), "notifiers", len(cfg.Notifiers))
	sd.send("READY=1\nSTATUS=" + d.status())
	return true
}

// rejectReload logs why a new config cannot be applied, one record per
// problem with its file and line, and keeps the running one.
func (d *daemon) rejectReload(sd *sdNotifier, err error) {
	var ce crier.ConfigErrors
	if errors.As(err, &ce) {
		for _, e := range ce {
			d.log.Error("config reload rejected", "file", e.File, "line", e.Line, "field", e.Field, "problem", e.Problem)
		}
	} else {
		d.log.Error("config reload rejected", "err", err)
	}
	sd.send("READY=1\nSTATUS=reload failed, still running the previous config: " + firstLine(err.Error()))
}

func (d *daemon) applyFeeds(cfg *crier.Config) {
	if err := d.sched.Apply(cfg.Feeds); err != nil {
		// Load validated every schedule, so this is a bug, not bad input.
		d.log.Error("applying reloaded feeds", "err", err)
	}
	if d.websub != nil {
		d.websub.Apply(cfg.Feeds) // removed feeds are unsubscribed
	}
}

// notifiersChanged compares notifier settings, ignoring where they sit in the file.
func notifiersChanged(a, b *crier.Config) bool {
	if len(a.Notifiers) != len(b.Notifiers) {
		return true
	}
	for i := range a.Notifiers {
		x, y := a.Notifiers[i], b.Notifiers[i]
		x.Line, y.Line = 0, 0
		if !reflect.DeepEqual(x, y) {
			return true
		}
	}
	return false
}

func firstLine(s string) string {
	for i, r := range s {
		if r == '\n' {
			return s[:i]
		}
	}
	return s
}
