package bolt_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/bolt"
	"github.com/crierd/crier/store/storetest"
)

// TestConformance runs the suite every backend keeps, on real files.
func TestConformance(t *testing.T) {
	t.Parallel()
	storetest.Run(t, storetest.Backend{Open: func(t *testing.T, now func() time.Time) (store.Store, func() store.Store) {
		path := filepath.Join(t.TempDir(), "crier.db")
		open := func() store.Store {
			t.Helper()
			s, err := bolt.Open(path, bolt.Options{Now: now, NoSync: true})
			if err != nil {
				t.Fatalf("open %s: %v", path, err)
			}
			return s
		}
		return open(), open
	}})
}
