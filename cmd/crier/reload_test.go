package main

import (
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

// sdListener collects what crier tells systemd over NOTIFY_SOCKET.
type sdListener struct {
	conn *net.UnixConn
	msgs chan string
}

func listenSD(t *testing.T) (*sdListener, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	l := &sdListener{conn: conn, msgs: make(chan string, 1000)}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(l.msgs)
				return
			}
			l.msgs <- string(buf[:n])
		}
	}()
	t.Cleanup(func() { conn.Close() })
	return l, path
}

// await returns the first message containing want, failing after timeout.
func (l *sdListener) await(t *testing.T, want string, timeout time.Duration) string {
	t.Helper()
	deadline := time.After(timeout)
	for {
		select {
		case m, ok := <-l.msgs:
			if !ok {
				t.Fatalf("notify socket closed while waiting for %q", want)
			}
			if strings.Contains(m, want) {
				return m
			}
		case <-deadline:
			t.Fatalf("no %q from crier within %s", want, timeout)
		}
	}
}

// countingFeed wraps a test feed and counts requests to it.
func counted(f *testFeed) *atomic.Int64 {
	var n atomic.Int64
	inner := f.srv.Config.Handler
	f.srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		inner.ServeHTTP(w, r)
	})
	return &n
}

func writeConfig(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestReloadAndSDNotify runs the daemon as systemd would: it must say
// READY, ping the watchdog, apply a reload that adds and removes feeds
// while polls run, survive an invalid reload, and say STOPPING.
func TestReloadAndSDNotify(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	a, b, c := newTestFeed(t, "rss", 3), newTestFeed(t, "atom", 3), newTestFeed(t, "rss", 4)
	c.prefix = "C" // its titles must not collide with A's
	bHits := counted(b)
	h := newHarness(t, push, map[string]*testFeed{"A": a, "B": b})
	cfg, _ := os.ReadFile(h.config)
	fast := strings.Replace(string(cfg), `schedule: "@every 1m"`, `schedule: "@every 1s"`, 1)
	writeConfig(t, h.config, fast)

	sd, sock := listenSD(t)
	h.env["NOTIFY_SOCKET"] = sock
	h.env["WATCHDOG_USEC"] = "400000"
	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()

	ready := sd.await(t, "READY=1", 10*time.Second)
	if !strings.Contains(ready, "STATUS=2 feeds") {
		t.Errorf("READY without a useful STATUS: %q", ready)
	}
	sd.await(t, "WATCHDOG=1", 3*time.Second)

	// Both feeds seeded (a story added before A's first poll would be
	// part of its silent seed); then a new story in A is pushed.
	h.waitLog(2, "feed seeded")
	storyA1 := a.add()
	waitPushed(t, push, storyA1)

	// Reload: B goes, C comes, while polls keep running every second.
	withoutB := strings.Replace(fast, "  - name: B\n    url: "+b.srv.URL+"/feed\n", "", 1)
	withoutB = strings.Replace(withoutB, "  - name: A\n", "  - name: C\n    url: "+c.srv.URL+"/feed\n  - name: A\n", 1)
	if withoutB == fast || strings.Contains(withoutB, b.srv.URL) {
		t.Fatalf("test bug: config not rewritten:\n%s", withoutB)
	}
	writeConfig(t, h.config, withoutB)
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	sd.await(t, "RELOADING=1", 5*time.Second)
	if m := sd.await(t, "READY=1", 5*time.Second); !strings.Contains(m, "STATUS=2 feeds") {
		t.Errorf("after reload: %q", m)
	}
	time.Sleep(1500 * time.Millisecond) // a poll of B in flight at the reload may finish
	hitsAfterReload := bHits.Load()
	storyC1 := c.add() // C's first poll seeded its backlog silently; this one is new
	storyA2 := a.add()
	b.add()
	waitPushed(t, push, storyC1, storyA2)
	if got := bHits.Load(); got > hitsAfterReload {
		t.Errorf("removed feed B polled %d more times after the reload", got-hitsAfterReload)
	}

	// An invalid config is rejected; the old one keeps running.
	writeConfig(t, h.config, withoutB+"  - name: broken\n    url: not a url\n    schedul: x\n")
	if err := cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if m := sd.await(t, "READY=1", 5*time.Second); !strings.Contains(m, "reload failed") {
		t.Errorf("invalid reload not reported in STATUS: %q", m)
	}
	storyA3 := a.add()
	waitPushed(t, push, storyA3)

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	sd.await(t, "STOPPING=1", 5*time.Second)
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit after SIGTERM: %v", err)
	}
	counts := delivered(push)
	for _, s := range []string{storyA1, storyA2, storyA3, storyC1} {
		if counts[s] != 1 {
			t.Errorf("%q pushed %d times, want once", s, counts[s])
		}
	}
	if len(counts) != 4 {
		t.Errorf("pushed %v, want exactly the four new stories", counts)
	}
}

func waitPushed(t *testing.T, push *pushoverfake.Server, stories ...string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		got := delivered(push)
		all := true
		for _, s := range stories {
			all = all && got[s] > 0
		}
		if all {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("not pushed within 15 s: %q (pushed so far: %v)", stories, delivered(push))
}
