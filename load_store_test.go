package crier

import (
	"strings"
	"testing"
	"time"
)

func TestLoadStore(t *testing.T) {
	t.Parallel()
	const rest = "notifiers: [{type: console}]\n"
	files := map[string]string{"/etc/crier/pg.dsn": "postgres://crier:pw@db/crier\n"}
	for _, tc := range []struct {
		name, src string
		want      *PostgresConfig // nil: bbolt
		err       string
	}{
		{name: "no store section keeps bbolt"},
		{name: "dsn", src: "store:\n  postgres:\n    dsn: postgres://db/crier\n",
			want: &PostgresConfig{DSN: "postgres://db/crier", Lease: DefaultLease}},
		{name: "dsn_file relative to the config, lease and worker",
			src:  "store:\n  postgres:\n    dsn_file: pg.dsn\n    lease: 30s\n    worker: box-1\n",
			want: &PostgresConfig{DSN: "postgres://crier:pw@db/crier", Lease: 30 * time.Second, Worker: "box-1"}},
		{name: "no dsn", src: "store:\n  postgres:\n    lease: 1m\n", err: "config.yaml:2: store.postgres.dsn: missing secret: set dsn or dsn_file"},
		{name: "both", src: "store:\n  postgres:\n    dsn: x\n    dsn_file: pg.dsn\n", err: "config.yaml:4: store.postgres.dsn_file: give dsn or dsn_file, not both"},
		{name: "lease too short", src: "store:\n  postgres:\n    dsn: x\n    lease: 5s\n", err: "config.yaml:4: store.postgres.lease: 5s is too short"},
		{name: "unknown backend", src: "store:\n  mysql: {}\n", err: "config.yaml:2: store.mysql: unknown key"},
		{name: "websub in a fleet", src: "http:\n  listen: 127.0.0.1:8080\n  public_url: https://crier.example.org\nstore:\n  postgres:\n    dsn: x\n",
			err: "config.yaml:4: store.postgres: WebSub (http.public_url) is not supported with a PostgreSQL store yet"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := loadString(t, tc.src+rest, nil, files)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("error = %v, want it to contain %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			got := cfg.Store.Postgres
			switch {
			case tc.want == nil && got != nil:
				t.Fatalf("postgres = %+v, want the bbolt default", *got)
			case tc.want != nil && (got == nil || *got != *tc.want):
				t.Fatalf("postgres = %+v, want %+v", got, *tc.want)
			}
		})
	}
}
