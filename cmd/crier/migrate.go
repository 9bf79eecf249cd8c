package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/crierd/crier/store/postgres"
)

func cmdMigrate(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "migrate", "[--config FILE]",
		"Bring the PostgreSQL schema (store.postgres) to this version of crier. Safe while workers run:\n"+
			"migrations take a lock, so of several at once one applies them; workers also migrate when they start.")
	if err := f.Parse(args); err != nil {
		return err
	}
	cfg, err := f.loadConfig(env)
	if err != nil {
		return err
	}
	if cfg.Store.Postgres == nil {
		return &exitError{1, fmt.Sprintf("crier migrate: %s names no PostgreSQL store (store.postgres); the bbolt file needs no migration", cfg.Path)}
	}
	from, to, err := postgres.Migrate(ctx, cfg.Store.Postgres.DSN, slog.New(slog.DiscardHandler))
	if err != nil {
		return &exitError{1, "crier migrate: " + err.Error()}
	}
	if from == to {
		fmt.Fprintf(env.stdout, "schema is at version %d: nothing to do\n", to)
		return nil
	}
	fmt.Fprintf(env.stdout, "schema migrated from version %d to %d\n", from, to)
	return nil
}
