package bolt

import (
	"testing"
	"time"

	"github.com/crierd/crier"
)

// A delivery keeps enough of its story for crier's own feeds to show it:
// which item of which feed, its summary and date, and a summary's items.
func TestRecentKeepsTheStory(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	pub := time.Date(2025, 2, 3, 4, 5, 6, 0, time.UTC)
	n := crier.Notification{
		Kind: crier.KindItem, Feed: "LWN", FeedURL: "https://lwn.net/rss", ItemID: "g:1", Title: "Kernel 7.0",
		Link: "https://lwn.net/1", Summary: "Released.", Published: pub, Categories: []string{"kernel"},
		Items: []crier.Headline{{Title: "x", Link: "https://lwn.net/x"}}, QueuedAt: pub.Add(time.Minute),
	}
	es, err := s.Enqueue(crier.Delivery{Notifier: "phone", Notification: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Recent(1)
	if err != nil || len(got) != 1 {
		t.Fatalf("crier.Recent = %v, %v", got, err)
	}
	r := got[0]
	if r.Kind != crier.KindItem || r.FeedURL != n.FeedURL || r.ItemID != "g:1" || r.Summary != "Released." ||
		!r.Published.Equal(pub) || !r.QueuedAt.Equal(n.QueuedAt) || len(r.Items) != 1 || len(r.Categories) != 1 {
		t.Errorf("recent delivery = %+v, want the story of %+v", r, n)
	}
}

// A delivery remembers the cross-feed story it belongs to, so the status
// page and crier's own feeds can show that story once with its sources.
func TestRecentKeepsTheStoryID(t *testing.T) {
	t.Parallel()
	s, _ := openTemp(t)
	n := crier.Notification{Kind: crier.KindItem, Feed: "A", ItemID: "l:x", Title: "T", Story: "s7", AlsoIn: []string{"B"}}
	es, err := s.Enqueue(crier.Delivery{Notifier: "phone", Notification: n})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Done("phone", es[0].ID); err != nil {
		t.Fatal(err)
	}
	got, err := s.Recent(1)
	if err != nil || len(got) != 1 {
		t.Fatalf("crier.Recent = %v, %v", got, err)
	}
	if got[0].Story != "s7" || len(got[0].AlsoIn) != 1 || got[0].AlsoIn[0] != "B" {
		t.Errorf("recent delivery story = %q also in %q, want s7 also in [B]", got[0].Story, got[0].AlsoIn)
	}
}
