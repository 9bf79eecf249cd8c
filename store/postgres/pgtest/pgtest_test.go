package pgtest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
)

func TestMain(m *testing.M) { Main(m) }

// Two DSNs name two empty databases of one running server.
func TestDSNGivesFreshDatabases(t *testing.T) {
	ctx := context.Background()
	var names []string
	for range 2 {
		conn, err := pgx.Connect(ctx, DSN(t))
		if err != nil {
			t.Fatal(err)
		}
		var db string
		var tables int
		if err := conn.QueryRow(ctx, "SELECT current_database(), (SELECT count(*) FROM pg_tables WHERE schemaname='public')").Scan(&db, &tables); err != nil {
			t.Fatal(err)
		}
		conn.Close(ctx)
		if tables != 0 {
			t.Errorf("database %s has %d tables, want none", db, tables)
		}
		if _, err := conn.Exec(ctx, "SELECT 1"); err == nil {
			t.Fatal("closed connection still works")
		}
		names = append(names, db)
	}
	if names[0] == names[1] {
		t.Errorf("two DSN calls gave the same database %s", names[0])
	}
}
