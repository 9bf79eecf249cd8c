package postgres

import (
	"context"
	"testing"

	"github.com/crierd/crier/store/postgres/pgtest"
	"github.com/crierd/crier/store/storetest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// The suite's clock and builders, under the names these tests use.
type clock = storetest.Clock

func newClock() *clock { return storetest.NewClock(storetest.Epoch) }

var (
	item       = storetest.Item
	toNotifier = storetest.ToNotifier
	delivery   = storetest.Delivery
	titles     = storetest.Titles
)

// openDSN opens the store at dsn with clk, closing it when the test ends.
func openDSN(t testing.TB, dsn string, clk *clock) *Store {
	t.Helper()
	s, err := Open(context.Background(), dsn, Options{Now: clk.Now})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// openTemp opens a store on a fresh database.
func openTemp(t testing.TB) (*Store, *clock) {
	t.Helper()
	clk := newClock()
	return openDSN(t, pgtest.DSN(t), clk), clk
}

// must(f())(t) is f's value, failing t on f's error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// mustOK(err)(t) fails t on err.
func mustOK(err error) func(testing.TB) {
	return func(t testing.TB) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
}
