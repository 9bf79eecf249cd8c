package web

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/notify"
)

// Poll results, the values of crier_polls_total's result label.
const (
	pollOK          = "ok"
	pollNotModified = "not_modified"
	pollUnchanged   = "unchanged"
	pollError       = "error"
	pollSkipped     = "skipped"
)

// Send results, the values of crier_notifications_total's result label.
const (
	sendDelivered = "delivered"
	sendRetry     = "retry"
	sendParked    = "parked"
	sendDead      = "dead"
)

// Metrics is crier's Prometheus instrumentation. Counters are fed by the
// poller and dispatcher hooks; queue and feed-state gauges are read from
// the store at scrape time, so they are never stale and cost nothing
// between scrapes. Every label is a feed or notifier name from the config,
// never anything a feed publishes, so cardinality stays bounded.
type Metrics struct {
	reg *prometheus.Registry

	polls         *prometheus.CounterVec
	fetchDuration *prometheus.HistogramVec
	fetchBytes    *prometheus.CounterVec
	itemsSeen     *prometheus.CounterVec
	itemsNew      *prometheus.CounterVec
	itemsFiltered *prometheus.CounterVec
	notifications *prometheus.CounterVec
	quota         *prometheus.GaugeVec
	websub        webSubMetrics
}

// NewMetrics registers crier's metrics, plus the Go runtime and process
// collectors, on reg (never the global registry). feeds returns the
// configured feeds; it is called at every scrape, so a reload shows. It
// panics if reg already holds crier's metrics: one Metrics per registry.
func NewMetrics(reg *prometheus.Registry, s crier.StatusViews, feeds func() []crier.Feed) *Metrics {
	byFeed := []string{"feed"}
	m := &Metrics{
		reg: reg,
		polls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_polls_total",
			Help: "Polls by feed and result (ok, not_modified, unchanged, error, skipped).",
		}, []string{"feed", "result"}),
		fetchDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "crier_fetch_duration_seconds",
			Help:    "Time for one poll of a feed: fetch, parse and commit.",
			Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60},
		}, byFeed),
		fetchBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_fetch_bytes_total",
			Help: "Feed body bytes fetched.",
		}, byFeed),
		itemsSeen: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_items_seen_total",
			Help: "Items found in fetched feeds (every poll that parsed).",
		}, byFeed),
		itemsNew: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_items_new_total",
			Help: "Items never seen before in their feed.",
		}, byFeed),
		itemsFiltered: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_items_filtered_total",
			Help: "New items dropped by include/exclude filters.",
		}, byFeed),
		notifications: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_notifications_total",
			Help: "Send attempts by notifier and result (delivered, retry, parked, dead).",
		}, []string{"notifier", "result"}),
		quota: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "crier_pushover_quota_remaining",
			Help: "Messages left in the Pushover app's monthly quota, as last reported by the API.",
		}, []string{"notifier"}),
	}
	reg.MustRegister(m.polls, m.fetchDuration, m.fetchBytes, m.itemsSeen, m.itemsNew,
		m.itemsFiltered, m.notifications, m.quota,
		newStateCollector(s, feeds, time.Now),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "crier_build_info",
			Help:        "Always 1; the version label says which crier is running.",
			ConstLabels: prometheus.Labels{"version": crier.Version},
		}, func() float64 { return 1 }),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	m.websub = newWebSubMetrics(reg)
	return m
}

// ObservePoll records one poll. Its signature is feeds.PollerOptions.OnPoll's.
func (m *Metrics) ObservePoll(feed crier.Feed, res feeds.Result, took time.Duration) {
	name := feed.Name
	m.polls.WithLabelValues(name, pollResult(res)).Inc()
	if res.Skipped != "" {
		return
	}
	m.fetchDuration.WithLabelValues(name).Observe(took.Seconds())
	m.fetchBytes.WithLabelValues(name).Add(float64(res.Bytes))
	m.itemsSeen.WithLabelValues(name).Add(float64(res.Items))
	m.itemsNew.WithLabelValues(name).Add(float64(res.New))
	m.itemsFiltered.WithLabelValues(name).Add(float64(res.Stats.Filtered))
}

func pollResult(res feeds.Result) string {
	switch {
	case res.Err != nil:
		return pollError
	case res.Skipped != "":
		return pollSkipped
	case res.NotModified:
		return pollNotModified
	case res.Unchanged:
		return pollUnchanged
	}
	return pollOK
}

// ObserveSend records one send attempt (err nil: delivered), classified the
// way the dispatcher treats it.
func (m *Metrics) ObserveSend(notifier string, err error) {
	m.notifications.WithLabelValues(notifier, sendResult(err)).Inc()
}

func sendResult(err error) string {
	if err == nil {
		return sendDelivered
	}
	c := notify.Classify(err)
	switch {
	case c.Permanent:
		return sendDead
	case !c.ParkUntil.IsZero():
		return sendParked
	}
	return sendRetry
}

// SetQuota records a notifier's remaining message quota.
func (m *Metrics) SetQuota(notifier string, remaining int) {
	m.quota.WithLabelValues(notifier).Set(float64(remaining))
}
