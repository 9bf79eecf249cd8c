package postgres

import (
	"log/slog"
	"testing"
	"time"

	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/postgres/pgtest"
	"github.com/crierd/crier/store/storetest"
)

// TestConformance runs the suite every backend keeps, on a real database
// per subtest; a reopen is a new connection pool on the same database.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Backend{Open: func(t *testing.T, now func() time.Time) (store.Store, func() store.Store) {
		dsn := pgtest.DSN(t)
		open := func() store.Store {
			t.Helper()
			s, err := Open(t.Context(), dsn, Options{Now: now, Logger: slog.New(slog.DiscardHandler)})
			if err != nil {
				t.Fatalf("open: %v", err)
			}
			return s
		}
		return open(), open
	}})
}
