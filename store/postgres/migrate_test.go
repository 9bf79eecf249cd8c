package postgres

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/crierd/crier/store/postgres/pgtest"
)

func TestMigrateIsIdempotent(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	from, to, err := Migrate(ctx, dsn, nil)
	if err != nil || from != 0 || to != SchemaVersion() {
		t.Fatalf("first Migrate = %d→%d, %v; want 0→%d", from, to, err, SchemaVersion())
	}
	from, to, err = Migrate(ctx, dsn, nil)
	if err != nil || from != to || to != SchemaVersion() {
		t.Fatalf("second Migrate = %d→%d, %v; want nothing to do", from, to, err)
	}
	s, err := Open(ctx, dsn, Options{NoMigrate: true})
	if err != nil {
		t.Fatalf("Open without migrating a migrated database: %v", err)
	}
	s.Close()
}

// Workers starting together migrate once: the others wait for the lock.
func TestConcurrentOpensMigrateOnce(t *testing.T) {
	dsn := pgtest.DSN(t)
	var wg sync.WaitGroup
	errs := make([]error, 4)
	for i := range errs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := Open(context.Background(), dsn, Options{})
			if err == nil {
				s.Close()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(context.Background(), dsn, Options{NoMigrate: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var n int
	if err := s.pool.QueryRow(context.Background(), "SELECT count(*) FROM crier_schema").Scan(&n); err != nil || n != SchemaVersion() {
		t.Errorf("crier_schema has %d rows (%v), want %d: one per migration", n, err, SchemaVersion())
	}
}

func TestOpenRefusesUnmigratedAndNewerSchemas(t *testing.T) {
	dsn := pgtest.DSN(t)
	ctx := context.Background()
	_, err := Open(ctx, dsn, Options{NoMigrate: true})
	if err == nil || !strings.Contains(err.Error(), "crier migrate") {
		t.Fatalf("Open(NoMigrate) of an empty database = %v, want a hint to run crier migrate", err)
	}
	s, err := Open(ctx, dsn, Options{})
	if err != nil {
		t.Fatal(err)
	}
	newer := SchemaVersion() + 1
	if _, err := s.pool.Exec(ctx, "INSERT INTO crier_schema (version, name) VALUES ($1, 'from the future')", newer); err != nil {
		t.Fatal(err)
	}
	s.Close()
	for _, opt := range []Options{{}, {NoMigrate: true}} {
		_, err := Open(ctx, dsn, opt)
		want := fmt.Sprintf("schema version %d, this crier knows up to version %d", newer, SchemaVersion())
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Open(%+v) of a newer schema = %v, want %q", opt, err, want)
		}
	}
	if _, _, err := Migrate(ctx, dsn, nil); err == nil {
		t.Error("Migrate of a newer schema succeeded")
	}
}
