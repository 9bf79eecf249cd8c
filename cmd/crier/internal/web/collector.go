package web

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierd/crier"
)

// stateCollector reads queue and feed gauges from the store at scrape time:
// a few bbolt read transactions, no bookkeeping between scrapes.
type stateCollector struct {
	store crier.StatusViews
	feeds func() []crier.Feed
	now   func() time.Time

	depth, oldest, dead, lastSuccess, failures *prometheus.Desc
}

func newStateCollector(s crier.StatusViews, feeds func() []crier.Feed, now func() time.Time) *stateCollector {
	return &stateCollector{
		store: s, feeds: feeds, now: now,
		depth: prometheus.NewDesc("crier_outbox_depth",
			"Notifications queued per notifier.", []string{"notifier"}, nil),
		oldest: prometheus.NewDesc("crier_outbox_oldest_age_seconds",
			"Age of the oldest queued notification per notifier (0 when none).", []string{"notifier"}, nil),
		dead: prometheus.NewDesc("crier_dead_letters",
			"Notifications given up on (see `crier redeliver`).", nil, nil),
		lastSuccess: prometheus.NewDesc("crier_last_success_timestamp_seconds",
			"Unix time of the feed's last successful poll (0: never).", []string{"feed"}, nil),
		failures: prometheus.NewDesc("crier_feed_failures",
			"Consecutive failed polls of the feed.", []string{"feed"}, nil),
	}
}

func (c *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.depth, c.oldest, c.dead, c.lastSuccess, c.failures} {
		ch <- d
	}
}

func (c *stateCollector) Collect(ch chan<- prometheus.Metric) {
	now := c.now()
	configured := c.feeds()

	// Every notifier a feed routes to shows, with 0 when its queue is
	// empty, so that an alert on depth has a series to look at.
	type queue struct {
		n      int
		oldest time.Time
	}
	queues := map[string]*queue{}
	for _, f := range configured {
		for _, n := range f.Notify {
			queues[n] = &queue{}
		}
	}
	if entries, err := c.store.Outbox(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.depth, err)
	} else {
		for _, e := range entries {
			q := queues[e.Notifier]
			if q == nil {
				q = &queue{}
				queues[e.Notifier] = q
			}
			q.n++
			if q.oldest.IsZero() || e.Created.Before(q.oldest) {
				q.oldest = e.Created
			}
		}
		for name, q := range queues {
			age := 0.0
			if q.n > 0 {
				age = max(now.Sub(q.oldest).Seconds(), 0)
			}
			ch <- prometheus.MustNewConstMetric(c.depth, prometheus.GaugeValue, float64(q.n), name)
			ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, age, name)
		}
	}

	if dl, err := c.store.DeadLetters(); err != nil {
		ch <- prometheus.NewInvalidMetric(c.dead, err)
	} else {
		ch <- prometheus.MustNewConstMetric(c.dead, prometheus.GaugeValue, float64(len(dl)))
	}

	states, err := c.store.FeedStates()
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.lastSuccess, err)
		return
	}
	seen := map[string]bool{}
	for _, f := range configured {
		if seen[f.Name] {
			continue // names are unique after Load; never emit a duplicate series
		}
		seen[f.Name] = true
		st := states[f.FeedID()]
		ts := 0.0
		if !st.LastSuccess.IsZero() {
			ts = float64(st.LastSuccess.UnixNano()) / 1e9
		}
		ch <- prometheus.MustNewConstMetric(c.lastSuccess, prometheus.GaugeValue, ts, f.Name)
		ch <- prometheus.MustNewConstMetric(c.failures, prometheus.GaugeValue, float64(st.Failures), f.Name)
	}
}
