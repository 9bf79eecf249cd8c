// Package pgtest gives tests a real PostgreSQL: the first DSN call in a
// test binary initdb's a throw-away cluster in a temp dir and starts it on
// a unix socket only (no TCP port to collide with other test binaries);
// every DSN call creates a fresh, empty database in it. Main stops the
// cluster when the tests end, so no server outlives the binary.
//
// The binaries come from PATH or Debian's /usr/lib/postgresql/*/bin (the
// `postgresql` package; .ci/run installs it). Without them the tests skip,
// except under CI, where they fail: CI must run them.
//
// As root (CI, the dev machines) initdb refuses to run, so the server runs
// as the postgres user the Debian package creates, via runuser.
package pgtest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// Main runs the tests and then stops the cluster, if one was started. Use
// it from TestMain: func TestMain(m *testing.M) { pgtest.Main(m) }.
func Main(m *testing.M) {
	code := m.Run()
	if err := theCluster.stop(); err != nil {
		fmt.Fprintln(os.Stderr, "pgtest:", err)
	}
	os.Exit(code)
}

// DSN returns the connection string of a new, empty database, for t alone.
// A package that calls it must call Main from its TestMain, or the server
// outlives the test binary.
func DSN(t testing.TB) string {
	t.Helper()
	c, err := theCluster.start()
	if errors.Is(err, errUnavailable) {
		if os.Getenv("CI") != "" {
			t.Fatalf("pgtest: %v (CI must run the PostgreSQL tests: install Debian's postgresql package)", err)
		}
		t.Skipf("pgtest: %v", err)
	}
	if err != nil {
		t.Fatalf("pgtest: %v", err)
	}
	name := fmt.Sprintf("t%d_%d", os.Getpid(), c.seq.Add(1))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.dsn("postgres"))
	if err != nil {
		t.Fatalf("pgtest: connect: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name+" STRATEGY = FILE_COPY"); err != nil {
		t.Fatalf("pgtest: create database: %v", err)
	}
	return c.dsn(name)
}

// errUnavailable is what a machine without PostgreSQL gives: a skip
// locally, a failure under CI.
var errUnavailable = errors.New("PostgreSQL unavailable")

var errNoBinaries = fmt.Errorf("%w: initdb and pg_ctl not found in PATH or /usr/lib/postgresql/*/bin", errUnavailable)

var theCluster = &cluster{}

type cluster struct {
	once    sync.Once
	err     error
	dir     string // parent of data/ and the socket
	pgCtl   string
	asUser  string // run the server as this user ("" = ourselves)
	seq     atomic.Int64
	stopped bool
}

func (c *cluster) dsn(db string) string {
	return fmt.Sprintf("host=%s port=5432 user=crier dbname=%s sslmode=disable", c.dir, db)
}

func (c *cluster) start() (*cluster, error) {
	c.once.Do(func() { c.err = c.boot() })
	return c, c.err
}

func (c *cluster) boot() error {
	bin, err := findBin()
	if err != nil {
		return err
	}
	c.pgCtl = filepath.Join(bin, "pg_ctl")
	// A short path: a unix socket's path is limited to about 100 bytes.
	dir, err := os.MkdirTemp("", "crierpg")
	if err != nil {
		return err
	}
	c.dir = dir
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return fmt.Errorf("%w: running as root needs the postgres user (Debian's postgresql package): %v", errUnavailable, err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(dir, uid, gid); err != nil {
			return err
		}
		c.asUser = "postgres"
	}
	data := filepath.Join(dir, "data")
	if out, err := c.run(filepath.Join(bin, "initdb"), "-D", data, "-A", "trust", "-U", "crier",
		"--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return fmt.Errorf("initdb: %w\n%s", err, out)
	}
	opts := fmt.Sprintf("-c listen_addresses='' -c unix_socket_directories=%s -c fsync=off "+
		"-c synchronous_commit=off -c full_page_writes=off -c max_connections=200", dir)
	if out, err := c.run(c.pgCtl, "start", "-w", "-t", "60", "-D", data,
		"-l", filepath.Join(dir, "server.log"), "-o", opts); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "server.log"))
		return fmt.Errorf("pg_ctl start: %w\n%s\n%s", err, out, log)
	}
	return nil
}

func (c *cluster) stop() error {
	if c.dir == "" || c.stopped {
		return nil
	}
	c.stopped = true
	var err error
	if c.err == nil {
		if out, e := c.run(c.pgCtl, "stop", "-w", "-m", "immediate", "-D", filepath.Join(c.dir, "data")); e != nil {
			err = fmt.Errorf("pg_ctl stop: %w\n%s", e, out)
		}
	}
	return errors.Join(err, os.RemoveAll(c.dir))
}

func (c *cluster) run(name string, args ...string) ([]byte, error) {
	if c.asUser != "" {
		args = append([]string{"-u", c.asUser, "--", name}, args...)
		name = "runuser"
	}
	cmd := exec.Command(name, args...)
	cmd.Dir = c.dir // the postgres user may not be allowed into ours
	return cmd.CombinedOutput()
}

// findBin returns the directory holding initdb and pg_ctl, the newest
// Debian version when PATH has none.
func findBin() (string, error) {
	if p, err := exec.LookPath("initdb"); err == nil {
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real
		}
		dir := filepath.Dir(p)
		if _, err := os.Stat(filepath.Join(dir, "pg_ctl")); err == nil {
			return dir, nil
		}
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return version(dirs[i]) > version(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errNoBinaries
}

func version(binDir string) int {
	v, _ := strconv.Atoi(strings.Split(filepath.Base(filepath.Dir(binDir)), ".")[0])
	return v
}
