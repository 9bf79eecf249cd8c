package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/store/postgres/pgtest"
)

// TestFleetSurvivesKills runs three `crier run` workers on one real
// PostgreSQL database while four feeds publish, and kill -9s a random
// worker again and again (restarting it, as systemd would). Every story
// must reach the phone, with at most one duplicate per kill: the send in
// flight when a worker died.
func TestFleetSurvivesKills(t *testing.T) {
	if testing.Short() {
		t.Skip("fleet kill loop takes ~40 s")
	}
	t.Parallel()
	dsn := pgtest.DSN(t)
	push := pushoverfake.New()
	defer push.Close()
	wires := map[string]*testFeed{}
	var names []string
	for i := range 4 {
		name := fmt.Sprintf("Wire%d", i)
		f := newTestFeed(t, "rss", 0)
		f.prefix, f.ids = name, name // distinct headlines, GUIDs and links: distinct stories
		for range 5 {
			f.add()
		}
		wires[name], names = f, append(names, name)
	}
	h := newHarness(t, push, wires)
	dsnFile := filepath.Join(h.dir, "postgres.dsn")
	if err := os.WriteFile(dsnFile, []byte(dsn+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	h.edit(`schedule: "@every 1m"`, "schedule: \"@every 1s\"\n  burst: 0")
	h.edit("notifiers:", fmt.Sprintf("store:\n  postgres:\n    dsn_file: %s\n    lease: 10s\nnotifiers:", dsnFile))
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}

	const workers, kills = 3, 6
	procs := make([]*exec.Cmd, workers)
	for i := range procs {
		procs[i] = h.crierProcess("run")
	}
	var published []string
	publishFor := func(d time.Duration) {
		for end := time.Now().Add(d); time.Now().Before(end); {
			published = append(published, wires[names[rand.IntN(len(names))]].add())
			time.Sleep(100 * time.Millisecond)
		}
	}
	for k := range kills {
		publishFor(time.Duration(1500+rand.IntN(2000)) * time.Millisecond)
		// Every other kill hits the worker sending to the phone, so its
		// lane must move; the others hit any worker, mid-poll or idle.
		i := rand.IntN(workers)
		if k%2 == 0 {
			i = h.laneHolder(procs)
		}
		if err := procs[i].Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = procs[i].Wait()
		procs[i] = h.crierProcess("run")
	}
	publishFor(time.Second)

	// A reload on one worker reaches the others: a feed added to the file
	// and announced to worker 0 alone is polled, whoever claims it.
	late := newTestFeed(t, "rss", 0)
	late.prefix, late.ids = "Late", "late"
	late.add()
	h.edit("feeds:\n", fmt.Sprintf("feeds:\n  - name: Late\n    url: %s/feed\n", late.srv.URL))
	// Every worker, the restarted ones too, has read the generation in
	// force and listens for SIGHUP once it says it is running.
	h.waitRunning(procs)
	if err := procs[0].Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	h.waitLogFor(30*time.Second, workers-1, "another worker reloaded the config")
	// A worker that had not reloaded yet may have claimed the new feed and
	// handed it back for 5 s; its first poll seeds it silently.
	h.waitLogFor(time.Minute, 1, "feed=Late items=")
	published = append(published, late.add())

	// A lane held by a killed worker moves after its 10 s lease.
	awaitPushed(push, published, 60*time.Second)
	for _, p := range procs {
		if err := p.Process.Signal(syscall.SIGTERM); err != nil {
			t.Error(err)
		}
	}
	for _, p := range procs {
		if err := p.Wait(); err != nil {
			t.Errorf("graceful stop: %v", err)
		}
	}

	dups := h.checkPushed(push, published, kills)
	t.Logf("%d stories, %d workers, %d kills, %d duplicates, %d requests to Pushover", len(published), workers, kills, dups, push.Requests())
}

// laneHolder is the index of the worker that last said it sends to the
// phone, or a random one when none has yet.
func (h *harness) laneHolder(procs []*exec.Cmd) int {
	log, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
	lines := strings.Split(string(log), "\n")
	for j := len(lines) - 1; j >= 0; j-- {
		if !strings.Contains(lines[j], "sending on this notifier for the fleet") {
			continue
		}
		for i, p := range procs {
			if strings.Contains(lines[j], fmt.Sprintf("worker=%s:%d ", hostname(), p.Process.Pid)) {
				return i
			}
		}
		break // its holder was killed already: any worker will do
	}
	return rand.IntN(len(procs))
}

func hostname() string {
	h, _ := os.Hostname()
	return h
}

// waitRunning waits until every one of procs has said it is running (a
// worker killed before it did never will, so lines are matched by pid).
func (h *harness) waitRunning(procs []*exec.Cmd) {
	h.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		log, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
		running := 0
		for _, line := range strings.Split(string(log), "\n") {
			for _, p := range procs {
				if strings.Contains(line, `msg="crier running"`) && strings.Contains(line, fmt.Sprintf("worker=%s:%d ", hostname(), p.Process.Pid)) {
					running++
				}
			}
		}
		if running >= len(procs) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("only %d of %d workers said they are running", running, len(procs))
		}
		time.Sleep(50 * time.Millisecond)
	}
}
