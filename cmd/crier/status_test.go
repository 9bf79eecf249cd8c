package main

import (
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestStatusAndListener: `crier status` reads the store of a stopped
// daemon and the API of a running one, whose /metrics and /healthz work.
func TestStatusAndListener(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	good, broken := newTestFeed(t, "rss", 3), newTestFeed(t, "atom", 3)
	broken.setStatus(http.StatusServiceUnavailable)
	h := newHarness(t, push, map[string]*testFeed{"Good": good, "Broken": broken})
	addr := freeAddr(t)
	h.edit("defaults:\n", "http:\n  listen: "+addr+"\ndefaults:\n")
	h.edit(`schedule: "@every 1m"`, `schedule: "@every 1s"`)
	h.crier("run", "--once")

	code, out, errOut := h.crier("status")
	if code != 0 || !strings.Contains(out, "the daemon is not running") {
		t.Fatalf("status of a stopped daemon: exit %d\n%s%s", code, out, errOut)
	}
	for _, want := range []string{"Good", "Broken", "HTTP 503"} {
		if !strings.Contains(out, want) {
			t.Errorf("status lacks %q:\n%s", want, out)
		}
	}

	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()
	var metrics string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		resp, err := testClient.Get("http://" + addr + "/metrics")
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			metrics = string(b)
			if strings.Contains(metrics, `crier_polls_total{feed="Good"`) {
				break
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(metrics, `crier_polls_total{feed="Good"`) || !strings.Contains(metrics, "crier_outbox_depth") {
		t.Errorf("metrics from the running daemon:\n%.2000s", metrics)
	}
	if resp, err := testClient.Get("http://" + addr + "/healthz"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("healthz: %v %v", resp, err)
	}
	code, out, errOut = h.crier("status")
	if code != 0 || !strings.Contains(out, "the running daemon at "+addr) || !strings.Contains(out, "Broken") {
		t.Errorf("status of a running daemon: exit %d\n%s%s", code, out, errOut)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
