package main

import (
	"context"
	"fmt"
	"log/slog"
	"strings"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/bolt"
	"github.com/crierd/crier/store/postgres"
)

// openBackend opens the store cfg names: the bbolt file in state_dir (the
// default), or the PostgreSQL database a fleet of workers shares.
func openBackend(ctx context.Context, cfg *crier.Config, log *slog.Logger) (store.Store, error) {
	if pg := cfg.Store.Postgres; pg != nil {
		// Open migrates the schema first, under a lock: of several
		// workers starting at once, one migrates.
		st, err := postgres.Open(ctx, pg.DSN, postgres.Options{Logger: log})
		if err != nil {
			return nil, fmt.Errorf("store.postgres: %w", err)
		}
		return st, nil
	}
	st, err := bolt.Open(stateFile(cfg), bolt.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	return st, nil
}

// fileStoreOnly refuses the commands that work on the bbolt file (store
// check|repair, backup) when the config names PostgreSQL, whose own tools
// (pg_dump, amcheck) do that job.
func fileStoreOnly(cfg *crier.Config, cmd string) error {
	if cfg.Store.Postgres == nil {
		return nil
	}
	return &exitError{1, fmt.Sprintf("crier %s: the store is PostgreSQL (store.postgres in %s): use its own tools, e.g. pg_dump", cmd, cfg.Path)}
}

// stateDescription says where the state is, with no secret in it.
func stateDescription(cfg *crier.Config) string {
	pg := cfg.Store.Postgres
	if pg == nil {
		return stateFile(cfg)
	}
	dsn := pg.DSN
	if !strings.Contains(dsn, "://") {
		return "PostgreSQL (key=value DSN), lease " + pg.Lease.String()
	}
	return "PostgreSQL " + crier.RedactURL(dsn) + ", lease " + pg.Lease.String()
}
