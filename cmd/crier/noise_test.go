package main

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/crierd/crier/notify/pushoverfake"
)

// edit replaces the first occurrence of old in the config file.
func (h *harness) edit(old, new string) {
	h.t.Helper()
	cfg, err := os.ReadFile(h.config)
	if err != nil {
		h.t.Fatal(err)
	}
	text := strings.Replace(string(cfg), old, new, 1)
	if text == string(cfg) {
		h.t.Fatalf("test bug: %q not in config", old)
	}
	writeConfig(h.t, h.config, text)
}

func TestBurstIsSummarisedButLogKeepsEveryItem(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 10)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	h.edit("feeds:\n", "  - {name: log, type: jsonl, path: headlines.jsonl}\nfeeds:\n")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	for range 30 {
		feed.add()
	}
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("burst: exit %d\n%s", code, errOut)
	}
	msgs := push.Messages()
	if len(msgs) != 1 || msgs[0].Title != "30 new headlines from Wire" {
		t.Fatalf("pushover got %q, want one summary", titles(msgs))
	}
	if !strings.Contains(msgs[0].Message, "rss story 11 & more") {
		t.Errorf("summary does not list the first headline: %q", msgs[0].Message)
	}
	f, err := os.Open(filepath.Join(h.dir, "state", "headlines.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		var rec map[string]any
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil || rec["feed"] != "Wire" || rec["title"] == "" {
			t.Errorf("jsonl line %d: %s (%v)", lines+1, sc.Text(), err)
		}
	}
	if lines != 30 {
		t.Errorf("jsonl has %d lines, want 30", lines)
	}
}

func TestRotatedGUIDsPushNothing(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 20)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	feed.rotate("-v2")
	code, _, errOut := h.crier("run", "--once")
	if code != 0 {
		t.Fatalf("rotated run: exit %d\n%s", code, errOut)
	}
	if msgs := push.Messages(); len(msgs) != 0 {
		t.Fatalf("rotation pushed %q", titles(msgs))
	}
	if !strings.Contains(errOut, "rotated its item ids") {
		t.Errorf("no log line about the rotation:\n%s", errOut)
	}
	// A genuinely new story after the rotation still arrives.
	story := feed.add()
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("after rotation: exit %d\n%s", code, errOut)
	}
	if msgs := push.Messages(); len(msgs) != 1 || !strings.HasPrefix(msgs[0].Message, story) {
		t.Fatalf("after rotation got %q, want only %q", titles(msgs), story)
	}
}

func TestQuotaExhaustedParksThenResumes(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "atom", 3)
	h := newHarness(t, push, map[string]*testFeed{"News": feed})
	h.edit(`schedule: "@every 1m"`, "schedule: \"@every 1s\"\n  burst: 0")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	// One push left this month; the month ends in 3 s.
	reset := time.Now().Add(3 * time.Second).Truncate(time.Second).Add(time.Second)
	push.SetRemaining(1, reset)
	push.RefillAtReset(true)
	stories := []string{feed.add(), feed.add(), feed.add()}
	cmd := h.crierProcess("run")
	defer cmd.Process.Kill()
	waitPushed(t, push, stories[0])
	time.Sleep(time.Until(reset) - 500*time.Millisecond)
	if n := push.Requests(); n > 3 {
		t.Errorf("%d requests while the quota was exhausted: retries were burnt instead of parking", n)
	}
	if got := delivered(push); len(got) != 1 {
		t.Fatalf("before the reset: %v", got)
	}
	waitPushed(t, push, stories[1], stories[2])
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	for _, s := range stories {
		if n := delivered(push)[s]; n != 1 {
			t.Errorf("%q pushed %d times", s, n)
		}
	}
	log, _ := os.ReadFile(filepath.Join(h.dir, "child.log"))
	if strings.Count(string(log), "quota") == 0 {
		t.Errorf("exhausted quota not logged:\n%s", log)
	}
}

func TestDeadLettersAndRedeliver(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	story := feed.add()
	push.FailNext(1, 400) // rejected: permanent
	if code, _, _ := h.crier("run", "--once"); code != 0 {
		t.Fatalf("a dead-lettered item leaves nothing pending; want exit 0, got %d", code)
	}
	code, out, errOut := h.crier("deadletters")
	if code != 0 || !strings.Contains(out, "phone") || !strings.Contains(out, "Wire") || !strings.Contains(out, "rss story 4") || !strings.Contains(out, "400") {
		t.Fatalf("deadletters: exit %d\n%s%s", code, out, errOut)
	}

	// While the daemon runs, the offline tools say the store is locked.
	cmd := h.crierProcess("run")
	h.waitLog(1, "crier running") // it holds the store from then on
	code, _, errOut = h.crier("redeliver", "--all")
	cmd.Process.Signal(syscall.SIGTERM)
	cmd.Wait()
	if code != 1 || !strings.Contains(errOut, "locked") || !strings.Contains(errOut, "running") {
		t.Errorf("redeliver while running: exit %d, %q", code, errOut)
	}

	if code, out, errOut := h.crier("redeliver", "--all"); code != 0 || !strings.Contains(out, "moved 1") {
		t.Fatalf("redeliver: exit %d\n%s%s", code, out, errOut)
	}
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("after redeliver: exit %d\n%s", code, errOut)
	}
	if got := delivered(push); got[story] != 1 || len(got) != 1 {
		t.Fatalf("after redeliver pushed %v", got)
	}
	if _, out, _ := h.crier("deadletters"); !strings.Contains(out, "no dead letters") {
		t.Errorf("dead letters remain:\n%s", out)
	}
}

// TestRemovedNotifierQueueIsDeadLettered: notifications queued for a
// notifier that leaves the config are never silently dropped.
func TestRemovedNotifierQueueIsDeadLettered(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	spare := "  - {name: spare, type: exec, command: [/bin/sh, -c, 'exit 75']}\nfeeds:\n"
	h.edit("feeds:\n", spare)
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	story := feed.add()
	if code, _, errOut := h.crier("run", "--once"); code != 1 || !strings.Contains(errOut, "pending 1") {
		t.Fatalf("spare keeps failing: exit %d\n%s", code, errOut)
	}
	h.edit(strings.TrimSuffix(spare, "feeds:\n"), "")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("after removing spare: exit %d\n%s", code, errOut)
	}
	_, out, _ := h.crier("deadletters")
	if !strings.Contains(out, "spare") || !strings.Contains(out, `notifier "spare" is no longer configured`) || !strings.Contains(out, story[:12]) {
		t.Errorf("dead letters:\n%s", out)
	}
	if got := delivered(push); got[story] != 1 {
		t.Errorf("phone got %v", got)
	}
}

// TestEditsAreNotNews: a story whose title changes under the same GUID
// and link is not pushed again.
func TestEditsAreNotNews(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	rss, atom := newTestFeed(t, "rss", 5), newTestFeed(t, "atom", 5)
	h := newHarness(t, push, map[string]*testFeed{"Wire": rss, "Journal": atom})
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	story := rss.add()
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("new story: exit %d\n%s", code, errOut)
	}
	rss.retitle(5, "UPDATED: "+story)
	rss.retitle(2, "Corrected headline")
	atom.retitle(4, "Atom story, now with a better title")
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("after edits: exit %d\n%s", code, errOut)
	}
	if got := delivered(push); len(got) != 1 || got[story] != 1 {
		t.Fatalf("edits were pushed: %v", got)
	}
}

// TestOnceTreatsHeldAsSuccess: a notification waiting for its digest is
// not a failure of `run --once` (cron would mail the operator every run).
func TestOnceTreatsHeldAsSuccess(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"Wire": feed})
	h.edit("    api_url:", "    digest: \"0 0 1 1 *\"\n    api_url:") // once a year
	if code, _, errOut := h.crier("run", "--once"); code != 0 {
		t.Fatalf("seed: exit %d\n%s", code, errOut)
	}
	feed.add()
	feed.add()
	code, _, errOut := h.crier("run", "--once")
	if code != 0 || !strings.Contains(errOut, "delivered 0, pending 0, held 2 for quiet hours or digests") {
		t.Fatalf("exit %d\n%s", code, errOut)
	}
	if n := len(push.Messages()); n != 0 {
		t.Errorf("%d pushes before the digest", n)
	}
}
