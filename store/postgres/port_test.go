package postgres_test

import (
	"github.com/crierd/crier/store"
	"github.com/crierd/crier/store/postgres"
)

var _ store.Fleet = (*postgres.Store)(nil)
