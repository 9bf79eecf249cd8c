package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"github.com/crierd/crier/notify"
	"log/slog"
	"os"
	"time"
)

// A fleet's workers all read the same config file (deployed to each box,
// or on shared storage). A reload on one worker (SIGHUP, systemctl reload)
// publishes a new config generation in the database; every other worker
// notices within fleetConfigEvery and reloads its own copy of the file,
// and warns when that copy differs from the one that was published.

// fleetConfigEvery is how often a worker looks for a generation published
// by another: one indexed read of one row.
const fleetConfigEvery = 5 * time.Second

// configBus is what the fleet's config generation needs of the store.
type configBus interface {
	PublishConfig(ctx context.Context, worker, hash string) (int64, error)
	ConfigGeneration(ctx context.Context) (gen int64, hash, worker string, err error)
}

// publishedConfig is a generation another worker published.
type publishedConfig struct {
	gen          int64
	hash, worker string
}

// configHash is the content hash workers compare: a config that loads the
// same from different bytes still counts as different, which errs on the
// side of a warning.
func configHash(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("hash config: %w", err)
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:8]), nil
}

// watchConfigGenerations sends every generation newer than since on out
// until ctx ends. A database that cannot be read is logged once per
// episode and tried again: the worker runs on with the config it has.
func watchConfigGenerations(ctx context.Context, bus configBus, since int64, every time.Duration, log *slog.Logger, out chan<- publishedConfig) {
	t := time.NewTicker(every)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		gen, hash, worker, err := bus.ConfigGeneration(ctx)
		switch {
		case err != nil && ctx.Err() == nil:
			if !failing {
				log.Error("reading the fleet's config generation; running on with this worker's config", "err", err)
			}
			failing = true
			continue
		case err != nil:
			return
		}
		failing = false
		if gen <= since {
			continue
		}
		since = gen
		select {
		case out <- publishedConfig{gen: gen, hash: hash, worker: worker}:
		case <-ctx.Done():
			return
		}
	}
}

// publishConfig tells the other workers that this one reloaded.
func (d *daemon) publishConfig(ctx context.Context) {
	hash, err := configHash(d.config().Path)
	if err == nil {
		var gen int64
		if gen, err = d.fleet.PublishConfig(ctx, d.worker, hash); err == nil {
			d.configGen = max(d.configGen, gen)
			d.log.Info("config published to the fleet", "generation", gen)
			return
		}
	}
	d.log.Error("publishing the reloaded config to the fleet: the other workers keep theirs until they reload", "err", err)
}

// followConfig reloads because another worker did.
func (d *daemon) followConfig(dispCtx context.Context, sd *sdNotifier, p publishedConfig) {
	if p.gen <= d.configGen {
		return // this worker's own publication
	}
	d.configGen = p.gen
	d.log.Info("another worker reloaded the config; reloading", "worker", p.worker, "generation", p.gen)
	if !d.reload(dispCtx, sd) {
		return
	}
	if hash, err := configHash(d.config().Path); err == nil && hash != p.hash {
		d.log.Warn("this worker's config file differs from the one the other worker loaded: every worker must read the same file",
			"worker", p.worker, "file", d.config().Path)
	}
}

// workerName is pg.worker, or host:pid: unique among running workers.
func workerName(name string) string {
	if name != "" {
		return name
	}
	host, err := os.Hostname()
	if err != nil {
		host = "crier"
	}
	return fmt.Sprintf("%s:%d", host, os.Getpid())
}

// outboxListener is what a shared store offers to wake the dispatcher when
// another worker queues a notification (PostgreSQL's LISTEN/NOTIFY).
type outboxListener interface {
	ListenOutbox(ctx context.Context, wake func(notifier string)) error
}

// laneLeases is the fleet's lane leases, or nil for a store of our own.
func (d *daemon) laneLeases() notify.LaneLeases {
	if d.fleet == nil {
		return nil
	}
	return d.fleet
}

// lease is how long this worker holds a lane without renewing it.
func (d *daemon) lease() time.Duration {
	if pg := d.config().Store.Postgres; pg != nil {
		return pg.Lease
	}
	return 0
}

// sendTimeout bounds one send: 30 s, or less in a fleet whose lease is
// short, because a lane starts a send only with a third of its lease left
// (and the dispatcher would otherwise stretch the lease to fit 30 s sends,
// so a dead worker's notifiers would wait that much longer to move).
func (d *daemon) sendTimeout() time.Duration {
	if l := d.lease(); l > 0 {
		return min(30*time.Second, l*4/15)
	}
	return 0 // the dispatcher's default
}
