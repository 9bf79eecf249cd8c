package bolt

import (
	"path/filepath"
	"testing"

	"github.com/crierd/crier/store/storetest"
)

// The suite's clock and builders, under the names these tests use.
type clock = storetest.Clock

func newClock() *clock { return storetest.NewClock(storetest.Epoch) }

var (
	item       = storetest.Item
	toNotifier = storetest.ToNotifier
	delivery   = storetest.Delivery
	titles     = storetest.Titles
)

// openAt opens the store at path with clk, closing it when the test ends.
func openAt(t testing.TB, path string, clk *clock) *Store {
	t.Helper()
	s, err := Open(path, Options{Now: clk.Now, NoSync: true})
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

func openTemp(t testing.TB) (*Store, *clock) {
	t.Helper()
	clk := newClock()
	return openAt(t, filepath.Join(t.TempDir(), "crier.db"), clk), clk
}
