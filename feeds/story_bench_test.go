package feeds

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

// BenchmarkStoryWindow10k fills a 12h story window as 10 000 feeds of 50
// items a day do (250 000 stories, same_story: similar) through the real
// ingest transaction, and reports the Go heap it added, the state file's
// size, and the cost of an item early and late in the fill: with an index,
// not a scan, the late items cost what the early ones did.
func BenchmarkStoryWindow10k(b *testing.B) {
	const perFeed = 25 // 50 a day, half of them in 12h
	feedCount := 10_000
	if v, err := strconv.Atoi(os.Getenv("CRIER_BENCH_STORY_FEEDS")); err == nil && v >= 2000 {
		feedCount = v // a quicker run; the early/late comparison needs 2000
	}
	for range b.N {
		dir := b.TempDir()
		now := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
		s, err := bolt.Open(filepath.Join(dir, "state.db"), bolt.Options{NoSync: true, Now: func() time.Time { return now }})
		if err != nil {
			b.Fatal(err)
		}
		p := NewPoller(NewFetcher(nil, FetchOptions{}), s, PollerOptions{Now: func() time.Time { return now }})
		p.SetRouting(Routing{Stories: StoryPolicy{Notifiers: map[string]NotifierStory{"po": {Mode: crier.SameStorySimilar}}}})
		rng := rand.New(rand.NewPCG(1, 2))
		words := benchVocabulary(rng, 20_000)
		zipf := rand.NewZipf(rng, 1.1, 1, uint64(len(words)-1))

		feed := func(f int) crier.Feed {
			return crier.Feed{Name: fmt.Sprintf("news-%d", f), URL: fmt.Sprintf("https://n%d.example/feed", f),
				Notify: []string{"po"}, SameStory: crier.SameStorySimilar}
		}
		// Every feed's state first: the heap they take is not the stories'.
		for f := range feedCount {
			if err := s.SaveFeedState(feed(f).FeedID(), crier.FeedState{Seeded: true}); err != nil {
				b.Fatal(err)
			}
		}
		heap0 := storyLiveHeap()
		var early, late time.Duration
		step := 12 * time.Hour / time.Duration(feedCount)
		for f := range feedCount {
			feed := feed(f)
			items := make([]crier.Item, perFeed)
			for i := range items {
				var t strings.Builder
				for w := range 7 {
					if w > 0 {
						t.WriteByte(' ')
					}
					t.WriteString(words[zipf.Uint64()])
				}
				if rng.IntN(3) == 0 {
					fmt.Fprintf(&t, " %d", rng.IntN(1000))
				}
				items[i] = crier.Item{Title: t.String(), Link: fmt.Sprintf("https://n%d.example/%d", f, i)}
			}
			Identify(items, nil)
			start := time.Now()
			_, err := p.ingest(feed, crier.FeedState{Seeded: true}, items, now, func(fresh []crier.NewItem, first bool) []crier.Delivery {
				ds, _ := Plan(PlanInput{Feed: feed, Fresh: fresh, FirstPoll: first, Now: now})
				return ds
			})
			if err != nil {
				b.Fatal(err)
			}
			took := time.Since(start)
			switch {
			case f < 1000:
				early += took
			case f >= feedCount-1000:
				late += took
			}
			now = now.Add(step)
		}
		heap := storyLiveHeap()
		fi, err := os.Stat(s.Path())
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(int64(heap)-int64(heap0))/(1<<20), "heap-MiB")
		b.ReportMetric(float64(fi.Size())/(1<<20), "store-MiB")
		b.ReportMetric(float64(early.Microseconds())/float64(1000*perFeed), "early-µs/item")
		b.ReportMetric(float64(late.Microseconds())/float64(1000*perFeed), "late-µs/item")
		runtime.KeepAlive(p)
		if err := s.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

func storyLiveHeap() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// benchVocabulary makes n distinct pronounceable words.
func benchVocabulary(rng *rand.Rand, n int) []string {
	const cons, vows = "bcdfghklmnprstvz", "aeiou"
	seen := map[string]bool{}
	var out []string
	for len(out) < n {
		var w strings.Builder
		for range 2 + rng.IntN(3) {
			w.WriteByte(cons[rng.IntN(len(cons))])
			w.WriteByte(vows[rng.IntN(len(vows))])
		}
		if !seen[w.String()] {
			seen[w.String()] = true
			out = append(out, w.String())
		}
	}
	return out
}
