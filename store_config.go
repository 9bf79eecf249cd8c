package crier

import "time"

// StoreConfig says where crier keeps its state (`store:`). The default is
// the embedded bbolt file in state_dir; Postgres, when set, is a database
// that several `crier run` workers share (a fleet).
type StoreConfig struct {
	Postgres *PostgresConfig
}

// PostgresConfig is `store: {postgres: …}`.
type PostgresConfig struct {
	// DSN is the connection string (dsn or dsn_file): a URL or key=value
	// pairs, as libpq reads them. It is a secret: it may hold a password.
	DSN string
	// Lease is how long a worker holds a feed it polls and a notifier lane
	// it sends on without renewing: a dead worker's feeds and lanes move to
	// the others within one lease.
	Lease time.Duration
	// Worker names this process in leases and logs; default host:pid.
	Worker string
}

// DefaultLease suits polls bounded by the default fetch timeout: a poll
// that outlives its lease may be repeated by another worker, which costs a
// fetch but never a duplicate push (the ingest transaction decides).
const DefaultLease = 2 * time.Minute
