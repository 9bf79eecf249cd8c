package main

import (
	"strings"
	"syscall"
	"testing"

	"github.com/crierd/crier/notify/pushoverfake"
)

// Two feeds carry the same story under one link: one push, and `crier
// explain` says who saw it, where it went and why the other report did not.
func TestExplainSameStory(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	wire := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": wire})
	h.edit("feeds:\n", "feeds:\n  - name: Mirror\n    url: "+wire.srv.URL+"/feed?mirror=1\n")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("first run: %d\n%s", code, errOut)
	}
	title := wire.add()
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("second run: %d\n%s", code, errOut)
	}
	if got := titles(push.Messages()); len(got) != 1 || !strings.Contains(got[0], title) {
		t.Fatalf("pushed %q, want %q once", got, title)
	}

	link := wire.srv.URL + "/r/3?utm_source=x"
	code, out, errOut := h.crier("explain", link)
	if code != 0 {
		t.Fatalf("explain: %d\n%s", code, errOut)
	}
	for _, want := range []string{
		"  Wire: first seen", "  Mirror: first seen",
		"filter (Wire): passed", "routed (Wire): to phone",
		"(first report); pushed to phone",
		"(same link or GUID); not pushed to phone: they already had the story",
		"delivered to phone at",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("explain lacks %q:\n%s", want, out)
		}
	}
}

// While the daemon runs and holds the store, `crier explain` asks its API
// and prints what it prints from the store of a stopped daemon.
func TestExplainWhileRunning(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	wire := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": wire})
	addr := freeAddr(t)
	h.edit("defaults:\n", "http:\n  listen: "+addr+"\ndefaults:\n")
	h.edit("feeds:\n", "feeds:\n  - name: Mirror\n    url: "+wire.srv.URL+"/feed?mirror=1\n")
	for i := range 2 {
		if i == 1 {
			wire.add()
		}
		if code, _, errOut := h.crier("run", "--once"); code != 0 {
			t.Fatalf("run %d: %d\n%s", i+1, code, errOut)
		}
	}
	link := wire.srv.URL + "/r/3"
	code, offline, errOut := h.crier("explain", link)
	if code != 0 || !strings.Contains(offline, "delivered to phone at") {
		t.Fatalf("explain, daemon stopped: %d\n%s%s", code, offline, errOut)
	}

	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()
	// Until it listens, explain could read the store itself and pass
	// without asking the daemon.
	waitHealthy(t, addr)
	code, online, errOut := h.crier("explain", link)
	if code != 0 || online != offline {
		t.Errorf("explain, daemon running: exit %d\n%s%s\nwant what the stopped daemon's store said:\n%s", code, online, errOut, offline)
	}
	if code, _, errOut := h.crier("explain", "%zz"); code != 2 || !strings.Contains(errOut, "not a link") {
		t.Errorf("explain of a non-link while running: exit %d, %s", code, errOut)
	}
	cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("stop: %v", err)
	}
}
