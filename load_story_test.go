package crier

import (
	"strings"
	"testing"
	"time"
)

func TestLoadSameStory(t *testing.T) {
	t.Parallel()
	cfg := mustLoad(t, `defaults:
  same_story: similar
notifiers:
  - type: pushover
    token: t
    user: u
    window: 6h
    escalate: {sources: 4, within: 1h, priority: 2}
  - type: ntfy
    topic: news
    same_story: off
  - type: jsonl
    path: log/items.jsonl
feeds:
  - url: https://a.example/feed
  - url: https://b.example/feed
    same_story: link
`, nil, nil)
	if cfg.Feeds[0].SameStory != SameStorySimilar || cfg.Feeds[1].SameStory != SameStoryLink {
		t.Errorf("feeds same_story %v, %v; want similar (defaults), link", cfg.Feeds[0].SameStory, cfg.Feeds[1].SameStory)
	}
	po, ntfy, jl := cfg.Notifiers[0], cfg.Notifiers[1], cfg.Notifiers[2]
	if po.SameStory != SameStoryLink || po.Window != 6*time.Hour || po.Escalate == nil ||
		*po.Escalate != (Escalate{Sources: 4, Within: time.Hour, Priority: 2}) {
		t.Errorf("pushover: same_story %v window %v escalate %+v", po.SameStory, po.Window, po.Escalate)
	}
	if ntfy.SameStory != SameStoryOff || ntfy.Escalate != nil {
		t.Errorf("ntfy: same_story %v escalate %+v; want off, none", ntfy.SameStory, ntfy.Escalate)
	}
	if jl.SameStory != SameStoryOff {
		t.Errorf("jsonl same_story %v, want off: its log keeps every item", jl.SameStory)
	}
}

func TestLoadSameStoryErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ src, want string }{
		{"defaults:\n  same_story: fuzzy\n", "defaults.same_story: expected off, link or similar"},
		{"notifiers:\n  - type: jsonl\n    path: x\n    escalate: {sources: 1}\n", "escalate.sources"},
		{"notifiers:\n  - type: jsonl\n    path: x\n    escalate: {when: now}\n", "escalate.when"},
	} {
		_, err := loadString(t, tc.src+"feeds:\n  - url: https://a.example/feed\n", nil, nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: error %v, want one naming %q", tc.src, err, tc.want)
		}
	}
}
