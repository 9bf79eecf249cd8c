package crier

import (
	"time"

	"go.yaml.in/yaml/v3"
)

// storeConfig reads `store:`. Only postgres is known; no store section
// keeps the embedded bbolt file.
func (l *loader) storeConfig(n *yaml.Node, sc *StoreConfig) {
	es, _ := l.entries(n, "store")
	for _, e := range es {
		if e.key != "postgres" {
			l.unknown(e, "store")
			continue
		}
		pg := &PostgresConfig{Lease: DefaultLease}
		secret := secretEntries{}
		pes, _ := l.entries(e.v, "store.postgres")
		for _, p := range pes {
			f := sub("store.postgres", p.key)
			switch p.key {
			case "dsn", "dsn_file":
				secret[p.key] = p
			case "lease":
				if d, ok := l.duration(p.v, f, 10*time.Second); ok {
					pg.Lease = d
				}
			case "worker":
				if s, ok := l.str(p.v, f); ok {
					pg.Worker = s
				}
			default:
				l.unknown(p, "store.postgres")
			}
		}
		pg.DSN = l.secret(secret, "dsn", "store.postgres", true, e.k)
		sc.Postgres = pg
	}
}
