package main

import (
	"fmt"
	"math/rand/v2"
	"net/http"
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

// TestMain lets tests re-execute this binary as the real crier command, so
// a crash test can kill -9 a real process.
func TestMain(m *testing.M) {
	if os.Getenv("CRIER_TEST_AS_CRIER") == "1" {
		env := &cliEnv{stdout: os.Stdout, stderr: os.Stderr, getenv: os.LookupEnv}
		os.Exit(realMain(env, os.Args[1:]))
	}
	pgtest.Main(m) // stops the PostgreSQL the fleet tests started
}

// crierProcess starts `crier ARGS…` as a child process.
func (h *harness) crierProcess(args ...string) *exec.Cmd {
	h.t.Helper()
	cmd := exec.Command(os.Args[0], append(args[:1:1], append([]string{"--config", h.config}, args[1:]...)...)...)
	cmd.Env = append(os.Environ(), "CRIER_TEST_AS_CRIER=1")
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	logf, err := os.OpenFile(filepath.Join(h.dir, "child.log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		h.t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		h.t.Fatal(err)
	}
	logf.Close()
	return cmd
}

// TestCrashSafety kills crier with SIGKILL again and again while a feed
// publishes and Pushover flaps between failing and accepting. Afterwards
// every story must have been pushed, with at most one duplicate per kill
// (the send in flight when the process died).
func TestCrashSafety(t *testing.T) {
	if testing.Short() {
		t.Skip("crash loop takes ~20 s")
	}
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 5)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	// Every item on its own, and polled every second.
	cfg, _ := os.ReadFile(h.config)
	cfg = []byte(strings.Replace(string(cfg), `schedule: "@every 1m"`, "schedule: \"@every 1s\"\n  burst: 0", 1))
	if err := os.WriteFile(h.config, cfg, 0o600); err != nil {
		t.Fatal(err)
	}
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}

	var published []string
	const kills = 8
	for i := range kills {
		push.SetFailing(map[bool]int{true: http.StatusInternalServerError, false: 0}[i%2 == 0])
		cmd := h.crierProcess("run")
		deadline := time.Now().Add(time.Duration(600+rand.IntN(1200)) * time.Millisecond)
		for time.Now().Before(deadline) {
			published = append(published, feed.add())
			time.Sleep(150 * time.Millisecond)
		}
		if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = cmd.Wait()
	}

	// Let a healthy run deliver the rest, then stop it gracefully.
	push.SetFailing(0)
	// A child killed early, as on a loaded machine, never said it was
	// running: count what the killed ones said, then wait for one more.
	before, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
	cmd := h.crierProcess("run")
	h.waitLog(strings.Count(string(before), "crier running")+1, "crier running") // SIGTERM before its handler is set would kill it
	awaitPushed(push, published, 40*time.Second)
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("graceful stop: %v", err)
	}

	dups := h.checkPushed(push, published, kills)
	t.Logf("%d stories, %d kills, %d duplicates, %d requests to Pushover", len(published), kills, dups, push.Requests())
}

// awaitPushed waits up to limit for every story in published to be pushed.
func awaitPushed(push *pushoverfake.Server, published []string, limit time.Duration) {
	want := map[string]bool{}
	for _, p := range published {
		want[p] = true
	}
	for deadline := time.Now().Add(limit); time.Now().Before(deadline) && len(delivered(push)) < len(want); {
		time.Sleep(200 * time.Millisecond)
	}
}

// checkPushed is a crash test's verdict: every story in published was
// pushed, nothing else was, and at most kills were pushed twice (the send
// in flight when a process died). It returns the duplicates.
func (h *harness) checkPushed(push *pushoverfake.Server, published []string, kills int) int {
	h.t.Helper()
	want := map[string]bool{}
	for _, p := range published {
		want[p] = true
	}
	got := delivered(push)
	dups := 0
	for title, n := range got {
		if !want[title] {
			h.t.Errorf("pushed %q, which was never published after seeding", title)
		}
		dups += n - 1
	}
	var missing []string
	for _, p := range published {
		if got[p] == 0 {
			missing = append(missing, p)
		}
	}
	log, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
	if len(missing) > 0 {
		h.t.Fatalf("%d of %d stories never pushed: %q\nchild log tail:\n%s", len(missing), len(published), missing, tail(string(log), 4000))
	}
	if dups > kills {
		h.t.Fatalf("%d duplicate pushes after %d kills\nchild log tail:\n%s", dups, kills, tail(string(log), 6000))
	}
	return dups
}

// waitLog waits until the children's log holds n lines containing what.
func (h *harness) waitLog(n int, what string) {
	h.t.Helper()
	h.waitLogFor(10*time.Second, n, what)
}

// waitLogFor is waitLog with its own deadline.
func (h *harness) waitLogFor(limit time.Duration, n int, what string) {
	h.t.Helper()
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		log, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
		if strings.Count(string(log), what) >= n {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	h.t.Fatalf("child log never said %q %d times", what, n)
}

// delivered counts accepted pushes by headline.
func delivered(push *pushoverfake.Server) map[string]int {
	got := map[string]int{}
	for _, m := range push.Messages() {
		got[strings.SplitN(m.Message, "\n", 2)[0]]++
	}
	return got
}

func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return fmt.Sprint("…", s[len(s)-n:])
}
