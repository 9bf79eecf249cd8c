package main

import (
	"bufio"
	"io"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

// post makes a state-changing API call on the daemon's loopback listener.
func post(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := testClient.Post(url, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// polls sums crier_polls_total for feed from the daemon's metrics.
func polls(t *testing.T, addr, feed string) int {
	t.Helper()
	resp, err := testClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	n := 0
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if rest, ok := strings.CutPrefix(line, `crier_polls_total{feed="`+feed+`"`); ok {
			v, _ := strconv.ParseFloat(rest[strings.LastIndexByte(rest, ' ')+1:], 64)
			n += int(v)
		}
	}
	return n
}

// TestPauseSurvivesRestartAndTestNotify: a feed paused through the API is
// not polled on its schedule, still after a restart, while poll-now works;
// the daemon sends a test notification through the configured notifier.
func TestPauseSurvivesRestartAndTestNotify(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	h := newHarness(t, push, map[string]*testFeed{"Held": newTestFeed(t, "rss", 2), "Other": newTestFeed(t, "atom", 2)})
	addr := freeAddr(t)
	h.edit("defaults:\n", "http:\n  listen: "+addr+"\ndefaults:\n")
	h.edit(`schedule: "@every 1m"`, `schedule: "@every 1s"`)
	base := "http://" + addr

	start := func() *exec.Cmd {
		cmd := h.crierProcess("run")
		t.Cleanup(func() { cmd.Process.Kill() })
		deadline := time.Now().Add(10 * time.Second)
		for polls(t, addr, "Other") < 2 {
			if time.Now().After(deadline) {
				t.Fatal("the daemon did not poll Other twice within 10 s")
			}
			time.Sleep(50 * time.Millisecond)
		}
		return cmd
	}
	stop := func(cmd *exec.Cmd) {
		cmd.Process.Signal(syscall.SIGTERM)
		if err := cmd.Wait(); err != nil {
			t.Errorf("stop: %v", err)
		}
	}

	cmd := start()
	if code, body := post(t, base+"/api/pause?feed=Held"); code != 200 || !strings.Contains(body, `"paused": true`) {
		t.Fatalf("pause: %d %s", code, body)
	}
	if code, body := post(t, base+"/api/test-notify?notifier=phone"); code != 200 || !strings.Contains(body, `"result": "sent"`) {
		t.Errorf("test-notify: %d %s", code, body)
	}
	sent := false
	for _, m := range push.Messages() {
		sent = sent || strings.Contains(m.Message, "notifier phone works")
	}
	if !sent {
		t.Errorf("no test notification reached Pushover: %+v", push.Messages())
	}
	stop(cmd)

	// After a restart Other is polled on schedule (and at start), Held not.
	cmd = start()
	defer stop(cmd)
	if n := polls(t, addr, "Held"); n != 0 {
		t.Errorf("paused feed polled %d times after a restart", n)
	}
	resp, err := testClient.Get(base + "/api/feeds")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), `"paused": true`) {
		t.Errorf("/api/feeds after a restart shows nothing paused:\n%s", b)
	}
	if code, body := post(t, base+"/api/poll?feed=Held"); code != 200 || polls(t, addr, "Held") != 1 {
		t.Errorf("poll now of a paused feed: %d %s", code, body)
	}
}
