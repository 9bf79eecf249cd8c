package feeds

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/postgres"
	"github.com/crierd/crier/store/postgres/pgtest"
)

// BenchmarkFleetThroughput: how many feeds a second one worker and three
// workers poll from one PostgreSQL database when every feed answers slowly
// (200 ms: the polls are I/O-bound, as they are on the real web). Each
// worker has its own poller with 16 polls in flight, as a small box would.
//
//	go test -run '^$' -bench FleetThroughput -benchtime 1x ./feeds
func BenchmarkFleetThroughput(b *testing.B) {
	const feedsN, latency, perWorker = 480, 200 * time.Millisecond, 16
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(latency)
		w.Header().Set("Content-Type", "application/rss+xml")
		fmt.Fprintf(w, `<rss version="2.0"><channel><title>%s</title><item><guid>%s-1</guid><title>One</title></item></channel></rss>`, r.URL.Path, r.URL.Path)
	}))
	defer srv.Close()
	var list []crier.Feed
	for i := range feedsN {
		f := plFeed("f"+strconv.Itoa(i), srv.URL+"/f/"+strconv.Itoa(i))
		f.Schedule = "@every 1h"
		list = append(list, f)
	}
	for _, workers := range []int{1, 3} {
		b.Run(fmt.Sprintf("workers=%d", workers), func(b *testing.B) {
			for range b.N {
				dsn := pgtest.DSN(b)
				ctx := context.Background()
				var scheds []*FleetScheduler
				var stores []*postgres.Store
				for w := range workers {
					st, err := postgres.Open(ctx, dsn, postgres.Options{Logger: slog.New(slog.DiscardHandler)})
					if err != nil {
						b.Fatal(err)
					}
					stores = append(stores, st)
					p := NewPoller(NewFetcher(nil, FetchOptions{PerHost: perWorker}), st, PollerOptions{
						Concurrency: perWorker,
						Interval:    func(f crier.Feed) time.Duration { return Interval(f.Schedule) },
					})
					s := NewFleetScheduler(p, st, FleetOptions{Owner: "w" + strconv.Itoa(w), MaxInFlight: perWorker, ClaimEvery: 50 * time.Millisecond})
					if err := s.Apply(list); err != nil {
						b.Fatal(err)
					}
					scheds = append(scheds, s)
				}
				start := time.Now()
				for _, s := range scheds {
					s.Start()
				}
				for {
					states, err := stores[0].FeedStates()
					if err != nil {
						b.Fatal(err)
					}
					polled := 0
					for _, st := range states {
						if !st.LastPoll.IsZero() {
							polled++
						}
					}
					if polled == feedsN {
						break
					}
					time.Sleep(20 * time.Millisecond)
				}
				took := time.Since(start)
				for _, s := range scheds {
					s.Stop(time.Second)
				}
				for _, st := range stores {
					st.Close()
				}
				b.ReportMetric(float64(feedsN)/took.Seconds(), "feeds/s")
			}
		})
	}
}
