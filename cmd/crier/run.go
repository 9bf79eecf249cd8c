package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os/signal"
	"syscall"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/bolt"
)

func cmdRun(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "run", "[--config FILE] [--once]", "Run the daemon until SIGINT/SIGTERM. With --once, poll every feed once, deliver what can be\ndelivered and exit: 0 when every feed polled and every due notification went out, 1 otherwise.")
	once := f.Bool("once", false, "poll every feed once, deliver, exit")
	if err := f.Parse(args); err != nil {
		return err
	}
	// SIGHUP's default action kills the process: until the daemon listens
	// for it (once it is READY), a reload is ignored, not fatal.
	signal.Ignore(syscall.SIGHUP)
	log, err := f.logger(env.stderr)
	if err != nil {
		return err
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	d, err := openDaemon(ctx, cfg, log, env)
	if err != nil {
		return storeError(err)
	}
	if *once {
		return runOnce(ctx, env, d)
	}
	return d.serve(ctx, newSDNotifier(env.getenv, log))
}

// runOnce is `crier run --once`: one poll of every feed, then deliver.
func runOnce(ctx context.Context, env *cliEnv, d *daemon) (err error) {
	defer func() {
		if cerr := d.store.Close(); err == nil && cerr != nil {
			err = cerr
		}
	}()
	results := feeds.PollAll(ctx, d.poller, d.cfg.Feeds)
	failed, queued := 0, 0
	for _, r := range results {
		if r.Err != nil {
			failed++ // the poller logged it
		}
		queued += r.Queued
	}
	res, err := d.disp.Load().Drain(ctx)
	if err != nil {
		return err
	}
	summary := fmt.Sprintf("polled %d feeds (%d failed), queued %d, delivered %d, pending %d", len(results), failed, queued, res.Delivered, res.Pending)
	if res.Held > 0 {
		// Waiting for quiet hours to end or for a digest is not a failure.
		summary += fmt.Sprintf(", held %d for quiet hours or digests", res.Held)
	}
	if failed > 0 || res.Pending > 0 {
		return &exitError{1, summary}
	}
	fmt.Fprintln(env.stderr, summary)
	return nil
}

// storeError turns "another crier holds the state dir" and "the state
// file is corrupt" into plain messages.
func storeError(err error) error {
	if errors.Is(err, bolt.ErrLocked) {
		return &exitError{1, "crier: " + err.Error()}
	}
	return corruptMessage(err)
}

// openConfigStore loads the config and opens its store, for the offline
// tools that read or change the store of a stopped daemon.
func (f *flags) openConfigStore(env *cliEnv) (*crier.Config, store.Store, error) {
	cfg, err := f.loadConfig(env)
	if err != nil {
		return nil, nil, err
	}
	st, err := openStore(cfg)
	if err != nil {
		return nil, nil, err
	}
	return cfg, st, nil
}

// openStore opens the configured store for the offline tools.
func openStore(cfg *crier.Config) (store.Store, error) {
	st, err := openBackend(context.Background(), cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, openStoreError(cfg, err)
	}
	return st, nil
}

// openStoreError turns a failure to open the store into what the user
// can act on.
func openStoreError(cfg *crier.Config, err error) error {
	if errors.Is(err, bolt.ErrLocked) {
		return &exitError{1, fmt.Sprintf("crier: the store in %s is locked: the daemon is running. Stop it first (systemctl stop crier).", cfg.StateDir)}
	}
	return corruptMessage(err)
}
