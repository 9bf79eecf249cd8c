package main

import (
	"context"
	"errors"
	"log/slog"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

// openPostgres is replaced when store/postgres lands.
func openPostgres(ctx context.Context, pg *crier.PostgresConfig, log *slog.Logger) (store.Store, error) {
	return nil, errors.New("not built yet")
}
