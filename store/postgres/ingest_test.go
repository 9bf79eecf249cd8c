package postgres

import (
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/storetest"
)

// Two workers ingesting the same feed at once queue each item once.
func TestConcurrentIngestOfOneFeedQueuesOnce(t *testing.T) {
	s, clk := openTemp(t)
	other := openDSN(t, s.cfg.ConnString(), clk)
	const rounds = 20
	var wg sync.WaitGroup
	for _, st := range []*Store{s, other} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range rounds {
				items := []crier.Item{item(fmt.Sprintf("g:%d", i)), item(fmt.Sprintf("g:%d", i+1))}
				if _, err := st.Ingest("f", crier.FeedState{}, items, toNotifier("po")); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := titles(must(s.Outbox())(t))
	if len(got) != rounds+1 {
		t.Fatalf("queued %d entries, want %d: %q", len(got), rounds+1, got)
	}
	slices.Sort(got)
	if len(slices.Compact(got)) != rounds+1 {
		t.Errorf("an item was queued twice: %q", got)
	}
}

func BenchmarkIngest50(b *testing.B) {
	s, clk := openTemp(b)
	storetest.BenchIngest50(b, s, clk)
}

// BenchmarkIngest50Churn is a poll that brings 2 new items of 50 and
// queues their notifications: a churning feed's cost.
func BenchmarkIngest50Churn(b *testing.B) {
	s, clk := openTemp(b)
	storetest.BenchIngest50Churn(b, s, clk)
}
