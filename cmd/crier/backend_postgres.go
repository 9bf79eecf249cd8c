package main

import (
	"context"
	"log/slog"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/postgres"
)

// openPostgres opens the fleet's database, migrating its schema first
// (under a lock: of several workers starting at once, one migrates).
func openPostgres(ctx context.Context, pg *crier.PostgresConfig, log *slog.Logger) (store.Store, error) {
	st, err := postgres.Open(ctx, pg.DSN, postgres.Options{Logger: log})
	if err != nil {
		return nil, err
	}
	return st, nil
}
