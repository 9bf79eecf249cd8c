package main

import (
	"strings"
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
