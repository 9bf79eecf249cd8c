package notify

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// The log keeps every item of a story, each with the story's id and the
// feeds that reported it before.
func TestJSONLStory(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	j, err := NewJSONL(crier.NotifierConfig{Name: "log", Type: "jsonl"}, path)
	if err != nil {
		t.Fatal(err)
	}
	queued := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	first := crier.Notification{Kind: crier.KindItem, Feed: "Wire", FeedURL: "https://wire.example/feed",
		Title: "Bridge collapses", Link: "https://wire.example/bridge", ItemID: "l:https://wire.example/bridge",
		Story: "s7", QueuedAt: queued}
	second := crier.Notification{Kind: crier.KindItem, Feed: "Journal", FeedURL: "https://journal.example/feed",
		Title: "Key Bridge collapses", Link: "https://journal.example/b", ItemID: "l:https://journal.example/b",
		Story: "s7", AlsoIn: []string{"Wire"}, QueuedAt: queued.Add(time.Minute)}
	for _, n := range []crier.Notification{first, second} {
		if err := j.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "jsonl_story.golden", got)
}
