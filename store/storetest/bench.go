package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

// The store's cost per poll, the same for every backend, so that their
// figures compare (the README's bbolt against PostgreSQL).

// postItems is a 50-item feed whose newest item is post newest.
func postItems(newest int) []crier.Item {
	items := make([]crier.Item, 50)
	for i := range items {
		k := newest - i
		items[i] = Item(fmt.Sprintf("g:https://example.org/posts/%d", k), fmt.Sprintf("l:https://example.org/posts/%d", k),
			"|", fmt.Sprintf("t:%016x", k))
	}
	return items
}

// BenchIngest50 is a poll of a 50-item feed with nothing new: s must be
// fresh, clk its clock.
func BenchIngest50(b *testing.B, s store.Store, clk *Clock) {
	items, plan := postItems(49), ToNotifier("po")
	if _, err := s.Ingest("f", crier.FeedState{}, items, plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Hour)
		if _, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, items, plan); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchIngest50Churn is a poll that brings 2 new items of 50 and queues
// their notifications: a churning feed's cost.
func BenchIngest50Churn(b *testing.B, s store.Store, clk *Clock) {
	plan, newest := ToNotifier("po"), 49
	if _, err := s.Ingest("f", crier.FeedState{}, postItems(newest), plan); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		clk.Advance(time.Hour)
		newest += 2
		res, err := s.Ingest("f", crier.FeedState{LastPoll: clk.Now()}, postItems(newest), plan)
		if err != nil || res.Queued != 2 {
			b.Fatalf("ingest = %+v, %v; want 2 queued", res, err)
		}
	}
}
