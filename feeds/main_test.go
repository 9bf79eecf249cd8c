package feeds

import (
	"testing"

	"github.com/crierd/crier/store/postgres/pgtest"
)

// TestMain stops the PostgreSQL that the fleet benchmark starts.
func TestMain(m *testing.M) { pgtest.Main(m) }
