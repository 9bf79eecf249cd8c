package postgres

import (
	"context"
	"embed"
	"fmt"
	"io/fs"
	"log/slog"
	"sort"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Migrations are the SQL files in migrations/, NNNN_what.sql, applied in
// order, each in its own transaction with its row in crier_schema. They
// run under a session advisory lock, so workers starting together migrate
// once: the others wait, then find nothing to do.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// migrateLock is the advisory lock key of migrations ("crier mi").
const migrateLock int64 = 0x6372696572206d69

type migration struct {
	version int
	name    string
	sql     string
}

func migrations() ([]migration, error) {
	names, err := fs.Glob(migrationFiles, "migrations/*.sql")
	if err != nil {
		return nil, err
	}
	var out []migration
	for _, n := range names {
		base := strings.TrimPrefix(n, "migrations/")
		v, err := strconv.Atoi(strings.SplitN(base, "_", 2)[0])
		if err != nil {
			return nil, fmt.Errorf("migration %s: no version number: %w", base, err)
		}
		b, err := migrationFiles.ReadFile(n)
		if err != nil {
			return nil, err
		}
		out = append(out, migration{version: v, name: base, sql: string(b)})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].version < out[j].version })
	for i, m := range out {
		if m.version != i+1 {
			return nil, fmt.Errorf("migration %s: expected version %d", m.name, i+1)
		}
	}
	return out, nil
}

// SchemaVersion is the newest schema this crier knows.
func SchemaVersion() int {
	ms, err := migrations()
	if err != nil {
		panic(err) // the embedded files are wrong: a build that cannot ship
	}
	return len(ms)
}

// Migrate brings the database at dsn to the newest schema, for `crier
// migrate`: from is the version it had, to the version it has now.
func Migrate(ctx context.Context, dsn string, log *slog.Logger) (from, to int, err error) {
	conn, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return 0, 0, fmt.Errorf("connect to postgres: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	return migrate(ctx, conn, log)
}

func migrate(ctx context.Context, conn *pgx.Conn, log *slog.Logger) (from, to int, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ms, err := migrations()
	if err != nil {
		return 0, 0, err
	}
	if _, err := conn.Exec(ctx, "SELECT pg_advisory_lock($1)", migrateLock); err != nil {
		return 0, 0, fmt.Errorf("wait for the migration lock: %w", err)
	}
	defer func() {
		_, _ = conn.Exec(context.WithoutCancel(ctx), "SELECT pg_advisory_unlock($1)", migrateLock)
	}()
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS crier_schema (
		version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`); err != nil {
		return 0, 0, fmt.Errorf("create crier_schema: %w", err)
	}
	from, err = schemaVersion(ctx, conn)
	if err != nil {
		return 0, 0, err
	}
	if err := newerThanKnown(from, len(ms)); err != nil {
		return from, from, err
	}
	to = from
	for _, m := range ms[from:] {
		err := pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			if _, err := tx.Exec(ctx, m.sql); err != nil {
				return err
			}
			_, err := tx.Exec(ctx, "INSERT INTO crier_schema (version, name) VALUES ($1, $2)", m.version, m.name)
			return err
		})
		if err != nil {
			return from, to, fmt.Errorf("migration %s: %w", m.name, err)
		}
		to = m.version
		log.Info("database schema migrated", "version", m.version, "migration", m.name)
	}
	return from, to, nil
}

type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

// schemaVersion reads the database's schema version; 0 when crier never
// migrated it.
func schemaVersion(ctx context.Context, q querier) (int, error) {
	var exists bool
	if err := q.QueryRow(ctx, "SELECT to_regclass('crier_schema') IS NOT NULL").Scan(&exists); err != nil || !exists {
		if err != nil {
			return 0, fmt.Errorf("read schema version: %w", err)
		}
		return 0, nil
	}
	var v int
	if err := q.QueryRow(ctx, "SELECT coalesce(max(version), 0) FROM crier_schema").Scan(&v); err != nil {
		return 0, fmt.Errorf("read schema version: %w", err)
	}
	return v, nil
}

func newerThanKnown(have, known int) error {
	if have > known {
		return fmt.Errorf("the database has crier schema version %d, this crier knows up to version %d: upgrade crier", have, known)
	}
	return nil
}
