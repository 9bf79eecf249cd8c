package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/store/postgres/pgtest"
)

// `crier migrate` creates the schema once and then has nothing to do; the
// file-only commands refuse a PostgreSQL store with what to use instead.
func TestMigrateCommand(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	h := newHarness(t, push, map[string]*testFeed{"Wire": newTestFeed(t, "rss", 1)})
	if code, _, errOut := h.crier("migrate"); code != 1 || !strings.Contains(errOut, "names no PostgreSQL store") {
		t.Errorf("migrate on a bbolt config: exit %d, %q; want 1 and that the bbolt file needs none", code, errOut)
	}

	dsnFile := filepath.Join(h.dir, "postgres.dsn")
	if err := os.WriteFile(dsnFile, []byte(pgtest.DSN(t)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.edit("notifiers:", fmt.Sprintf("store:\n  postgres:\n    dsn_file: %s\nnotifiers:", dsnFile))
	code, out, errOut := h.crier("migrate")
	if code != 0 || !strings.Contains(out, "schema migrated from version 0 to ") {
		t.Fatalf("first migrate: exit %d, %q %q", code, out, errOut)
	}
	if code, out, _ := h.crier("migrate"); code != 0 || !strings.Contains(out, "nothing to do") {
		t.Errorf("second migrate: exit %d, %q; want nothing to do", code, out)
	}
	for _, args := range [][]string{{"store", "check"}, {"backup", filepath.Join(h.dir, "copy.db")}} {
		if code, _, errOut := h.crier(args...); code != 1 || !strings.Contains(errOut, "pg_dump") {
			t.Errorf("%s on PostgreSQL: exit %d, %q; want 1 and a pointer to pg_dump", args[0], code, errOut)
		}
	}
	// The offline tools work on the database, daemon or not.
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("run --once on PostgreSQL: exit %d\n%s", code, errOut)
	}
	if code, out, errOut := h.crier("status"); code != 0 || !strings.Contains(out, "Wire") {
		t.Errorf("status on PostgreSQL: exit %d, %q %q", code, out, errOut)
	}
}
