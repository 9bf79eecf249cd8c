package feeds_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/feeds/hubfake"
	"github.com/crierd/crier/notify"
	"github.com/crierd/crier/store/bolt"
)

// sendTimes is a notifier that reports when each title reached it.
type sendTimes chan string

func (s sendTimes) Send(_ context.Context, n crier.Notification) error {
	s <- n.Title
	return nil
}

// BenchmarkWebSubPushToNotifier measures what WebSub is for: the time from
// the hub's POST of new content to the notifier's Send, through the real
// callback, signature check, Poller.Push, bbolt commit, outbox and
// dispatcher. It reports the p50 and p99 and fails when p99 reaches 100 ms.
func BenchmarkWebSubPushToNotifier(b *testing.B) {
	hub := hubfake.New(b, hubfake.Options{})
	st, err := bolt.Open(filepath.Join(b.TempDir(), "state.db"), bolt.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	sent := make(sendTimes, 16)
	disp := notify.NewDispatcher(st, map[string]notify.Notifier{"phone": sent}, notify.DispatcherOptions{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan struct{})
	go func() { defer close(done); _ = disp.Run(ctx) }()
	defer func() { cancel(); <-done }()

	last := 3
	var topic string
	// A feed of its 20 newest stories, as publishers serve them.
	body := func() string { return rssWindow(hub.URL, topic, max(1, last-19), last) }
	pub := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(body()))
	}))
	defer pub.Close()
	topic = pub.URL + "/feed"
	poller := feeds.NewPoller(feeds.NewFetcher(nil, feeds.FetchOptions{}), st, feeds.PollerOptions{Queued: disp.Kick})
	public := httptest.NewUnstartedServer(nil)
	ws, err := feeds.NewWebSub(st, poller, feeds.WebSubOptions{PublicURL: "http://" + public.Listener.Addr().String()})
	if err != nil {
		b.Fatal(err)
	}
	public.Config.Handler = ws
	public.Start()
	defer public.Close()
	feed := crier.Feed{Name: "news", URL: topic, Schedule: "@every 10m", Notify: []string{"phone"}, Timeout: 5 * time.Second,
		MaxItems: 500, WebSub: crier.WebSubAuto, WebSubFallback: time.Hour}
	poller.SetSubscriptions(ws)
	ws.Apply([]crier.Feed{feed})
	if _, err := poller.Poll(ctx, feed, false); err != nil {
		b.Fatal(err)
	}
	ws.Step(ctx)
	if ev, err := hub.Next(ctx, 10*time.Second); err != nil || !ev.Verified {
		b.Fatalf("subscription: %+v %v", ev, err)
	}

	var lat []time.Duration
	for b.Loop() {
		last++
		content := []byte(body())
		want := fmt.Sprintf("Story %d", last)
		start := time.Now()
		if got := hub.Publish(topic, "application/rss+xml", content); len(got) != 1 {
			b.Fatalf("published to %v", got)
		}
		for title := range sent {
			if title == want {
				break
			}
		}
		lat = append(lat, time.Since(start))
	}
	slices.Sort(lat)
	p := func(q float64) time.Duration { return lat[min(len(lat)-1, int(float64(len(lat))*q))] }
	b.ReportMetric(float64(p(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(p(0.99).Microseconds())/1000, "p99-ms")
	if p(0.99) >= 100*time.Millisecond {
		b.Errorf("p99 from hub POST to notifier = %s over %d pushes, want < 100ms", p(0.99), len(lat))
	}
}
