package main

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/store/bolt"
)

// crierChild runs `crier ARGS…` as a real process, as systemd would, and
// returns its exit code and stderr: a panic in any goroutine shows there.
func (h *harness) crierChild(args ...string) (int, string) {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], append(args[:1:1], append([]string{"--config", h.config}, args[1:]...)...)...)
	cmd.Env = append(os.Environ(), "CRIER_TEST_AS_CRIER=1")
	for k, v := range h.env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return 0, stderr.String()
	case errors.As(err, &ee):
		return ee.ExitCode(), stderr.String()
	}
	h.t.Fatalf("crier %v: %v", args, err)
	return 0, ""
}

// A corrupt crier.db stops run, status and deadletters with one line that
// names the file, says "corrupt" and what to do, never with a stack trace;
// `crier store repair` then gets crier going again.
func TestCorruptStateFile(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	h := newHarness(t, push, map[string]*testFeed{"Wire": newTestFeed(t, "rss", 40)})
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("run --once: %d\n%s", code, errOut)
	}
	path := filepath.Join(h.dir, "state", "crier.db")
	orig, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	const pageSize = 4096 // bbolt's on this machine's page size; checked below
	if len(orig) < 6*pageSize {
		t.Fatalf("state file only %d bytes", len(orig))
	}
	damages := []struct {
		name   string
		damage func([]byte) []byte
	}{
		{"truncated after the meta pages", func(b []byte) []byte { return b[:2*pageSize+100] }},
		{"both meta pages flipped", func(b []byte) []byte { b[40] ^= 0xff; b[pageSize+40] ^= 0xff; return b }},
		{"pages after the metas zeroed", func(b []byte) []byte { clear(b[2*pageSize:]); return b }},
	}
	for _, d := range damages {
		if err := os.WriteFile(path, d.damage(append([]byte(nil), orig...)), 0o600); err != nil {
			t.Fatal(err)
		}
		for _, cmd := range []string{"run", "status", "deadletters"} {
			code, errOut := h.crierChild(cmd)
			line := strings.TrimSpace(errOut)
			if code == 0 || strings.Contains(line, "\n") || !strings.Contains(line, path) ||
				!strings.Contains(line, "corrupt") || !strings.Contains(line, "crier store repair") ||
				strings.Contains(errOut, "panic") || strings.Contains(errOut, "goroutine") {
				t.Errorf("%s: crier %s: exit %d, stderr:\n%s", d.name, cmd, code, tail(errOut, 2000))
			}
		}
	}

	// The last damage left nothing but the meta pages: repair keeps the
	// damaged file and says what it lost; crier runs again.
	code, out, errOut := h.crier("store", "repair")
	if code != 0 || !strings.Contains(out, "repaired "+path) || !strings.Contains(out, "lost ") ||
		!strings.Contains(out, path+".corrupt-") {
		t.Fatalf("store repair: exit %d\n%s%s", code, out, errOut)
	}
	if code, out, errOut := h.crier("store", "check"); code != 0 || !strings.Contains(out, path+": OK") {
		t.Errorf("store check after repair: exit %d\n%s%s", code, out, errOut)
	}
	if code, errOut := h.crierChild("deadletters"); code != 0 {
		t.Errorf("deadletters after repair: exit %d\n%s", code, errOut)
	}
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Errorf("run --once after repair: exit %d\n%s", code, errOut)
	}
}

// `crier backup` copies the state file straight from disk when the daemon
// is stopped and through its API while it runs; either copy opens with
// everything in it.
func TestBackup(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	h := newHarness(t, push, map[string]*testFeed{"Wire": newTestFeed(t, "rss", 5)})
	addr := freeAddr(t)
	h.edit("defaults:\n", "http:\n  listen: "+addr+"\ndefaults:\n")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("run --once: %d\n%s", code, errOut)
	}
	path := filepath.Join(h.dir, "state", "crier.db")
	feedsIn := func(file string) int {
		t.Helper()
		st, err := bolt.Open(file, bolt.Options{NoSync: true})
		if err != nil {
			t.Fatalf("open %s: %v", file, err)
		}
		defer st.Close()
		states, err := st.FeedStates()
		if err != nil {
			t.Fatal(err)
		}
		return len(states)
	}

	stopped := filepath.Join(h.dir, "stopped.db")
	code, out, errOut := h.crier("backup", stopped)
	if code != 0 || !strings.Contains(out, "backed up "+path+" to "+stopped) || !strings.Contains(out, "from "+path) {
		t.Fatalf("backup of a stopped daemon's store: exit %d\n%s%s", code, out, errOut)
	}
	if n := feedsIn(stopped); n != 1 {
		t.Errorf("backup holds %d feed states, want 1", n)
	}

	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()
	waitHealthy(t, addr)
	running := filepath.Join(h.dir, "running.db")
	code, out, errOut = h.crier("backup", running)
	if code != 0 || !strings.Contains(out, "from the running daemon at "+addr) {
		t.Fatalf("backup of a running daemon's store: exit %d\n%s%s", code, out, errOut)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if n := feedsIn(running); n != 1 {
		t.Errorf("backup holds %d feed states, want 1", n)
	}
}

// waitHealthy waits for the daemon listening on addr to answer /healthz
// with 200; it has the store open by then.
func waitHealthy(t *testing.T, addr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := testClient.Get("http://" + addr + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("daemon never healthy: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
