package web

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/notify"
)

// scrape fetches /metrics and parses it the way Prometheus would.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	r := do(t, "GET", url+"/metrics", "", nil)
	if r.code != http.StatusOK {
		t.Fatalf("GET /metrics: %d %s", r.code, r.body)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(r.body))
	if err != nil {
		t.Fatalf("parse /metrics: %v\n%s", err, r.body)
	}
	return fams
}

// sample finds the series of family name whose labels include labels
// ("k=v" pairs); ok is false when there is none.
func sample(fams map[string]*dto.MetricFamily, name string, labels ...string) (m *dto.Metric, ok bool) {
	fam := fams[name]
	if fam == nil {
		return nil, false
	}
next:
	for _, m := range fam.GetMetric() {
		for _, l := range labels {
			k, v, _ := strings.Cut(l, "=")
			found := false
			for _, lp := range m.GetLabel() {
				found = found || (lp.GetName() == k && lp.GetValue() == v)
			}
			if !found {
				continue next
			}
		}
		return m, true
	}
	return nil, false
}

func value(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	case m.GetUntyped() != nil:
		return m.GetUntyped().GetValue()
	}
	return -1
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, f.store, f.daemon.Feeds)
	srv := serve(t, NewHandler(Options{Store: f.store, Daemon: f.daemon, Metrics: m}), listenerRemote)

	good, broken := f.daemon.feeds[0], f.daemon.feeds[1]
	m.ObservePoll(good, feeds.Result{Status: 200, Bytes: 1500, Items: 20, New: 3, Stats: feeds.PlanStats{Filtered: 2}}, 300*time.Millisecond)
	m.ObservePoll(good, feeds.Result{Status: 304, NotModified: true}, 40*time.Millisecond)
	m.ObservePoll(good, feeds.Result{Status: 200, Bytes: 1500, Unchanged: true}, 200*time.Millisecond)
	m.ObservePoll(good, feeds.Result{Status: 200, Bytes: 500, Items: 20, New: 1}, 3*time.Second)
	m.ObservePoll(broken, feeds.Result{Status: 500, Err: errors.New("HTTP 500")}, time.Second)
	m.ObservePoll(broken, feeds.Result{Skipped: "backing off until later"}, 0)

	m.ObserveSend("phone", nil)
	m.ObserveSend("phone", nil)
	m.ObserveSend("phone", errors.New("connection reset"))
	m.ObserveSend("phone", notify.Temporary(errors.New("HTTP 503"), time.Minute))
	m.ObserveSend("phone", notify.Permanent(errors.New("HTTP 400")))
	m.ObserveSend("phone", notify.Parked(errors.New("quota"), time.Now().Add(time.Hour)))
	m.SetQuota("phone", 9876)

	fams := scrape(t, srv.URL)
	for _, tc := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"crier_polls_total", []string{"feed=good", "result=ok"}, 2},
		{"crier_polls_total", []string{"feed=good", "result=not_modified"}, 1},
		{"crier_polls_total", []string{"feed=good", "result=unchanged"}, 1},
		{"crier_polls_total", []string{"feed=broken", "result=error"}, 1},
		{"crier_polls_total", []string{"feed=broken", "result=skipped"}, 1},
		{"crier_fetch_bytes_total", []string{"feed=good"}, 3500},
		{"crier_items_seen_total", []string{"feed=good"}, 40},
		{"crier_items_new_total", []string{"feed=good"}, 4},
		{"crier_items_filtered_total", []string{"feed=good"}, 2},
		{"crier_notifications_total", []string{"notifier=phone", "result=delivered"}, 2},
		{"crier_notifications_total", []string{"notifier=phone", "result=retry"}, 2},
		{"crier_notifications_total", []string{"notifier=phone", "result=dead"}, 1},
		{"crier_notifications_total", []string{"notifier=phone", "result=parked"}, 1},
		{"crier_pushover_quota_remaining", []string{"notifier=phone"}, 9876},
		// From the state file at scrape time.
		{"crier_outbox_depth", []string{"notifier=phone"}, 1},
		{"crier_dead_letters", nil, 1},
		{"crier_last_success_timestamp_seconds", []string{"feed=good"}, float64(f.now.Add(-3 * time.Minute).Unix())},
		{"crier_last_success_timestamp_seconds", []string{"feed=fresh"}, 0},
		{"crier_feed_failures", []string{"feed=slow"}, 3},
		{"crier_build_info", nil, 1},
	} {
		s, ok := sample(fams, tc.name, tc.labels...)
		if !ok {
			t.Errorf("%s%v: no such series", tc.name, tc.labels)
			continue
		}
		if got := value(s); got != tc.want {
			t.Errorf("%s%v = %v, want %v", tc.name, tc.labels, got, tc.want)
		}
	}

	// Entries were queued an hour ago by the store's clock; the scrape
	// uses the real one.
	if s, ok := sample(fams, "crier_outbox_oldest_age_seconds", "notifier=phone"); !ok ||
		value(s) < 3599 || value(s) > 3600+60 {
		t.Errorf("crier_outbox_oldest_age_seconds: %v, want about 3600", s)
	}

	h, ok := sample(fams, "crier_fetch_duration_seconds", "feed=good")
	if !ok || h.GetHistogram().GetSampleCount() != 4 {
		t.Fatalf("crier_fetch_duration_seconds{feed=good}: %v, want 4 observations", h)
	}
	if sum := h.GetHistogram().GetSampleSum(); sum < 3.539 || sum > 3.541 {
		t.Errorf("fetch duration sum %v, want 3.54", sum)
	}
	for _, b := range h.GetHistogram().GetBucket() {
		if b.GetUpperBound() == 0.25 && b.GetCumulativeCount() != 2 {
			t.Errorf("le=0.25 bucket: %d, want 2", b.GetCumulativeCount())
		}
	}
	if _, ok := sample(fams, "crier_fetch_duration_seconds", "feed=broken"); !ok {
		t.Error("a failed fetch is timed too")
	}

	// Labels are feed and notifier names only: the hostile feed name is a
	// label value, properly quoted, never anything a feed publishes.
	for name, fam := range fams {
		for _, s := range fam.GetMetric() {
			for _, l := range s.GetLabel() {
				switch l.GetName() {
				case "feed", "notifier", "result", "le", "version":
				default:
					t.Errorf("%s has unexpected label %s", name, l.GetName())
				}
			}
		}
	}
	if _, ok := sample(fams, "crier_feed_failures", "feed=<img src=x onerror=alert(1)>"); !ok {
		t.Error("hostile feed name not reported as a label value")
	}
	if _, ok := fams["go_goroutines"]; !ok {
		t.Error("Go runtime metrics missing")
	}
}

func TestMetricsOnOwnRegistry(t *testing.T) {
	t.Parallel()
	// Two daemons in one process (tests) must not collide: nothing goes on
	// the global registry.
	s := openStore(t, nil)
	d := &fakeDaemon{}
	NewMetrics(prometheus.NewRegistry(), s, d.Feeds)
	NewMetrics(prometheus.NewRegistry(), s, d.Feeds)
	fams, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range fams {
		if strings.HasPrefix(f.GetName(), "crier_") {
			t.Errorf("%s registered globally", f.GetName())
		}
	}
}

func TestNoMetricsWithoutMetrics(t *testing.T) {
	t.Parallel()
	srv := serve(t, NewHandler(Options{Store: openStore(t, nil), Daemon: &fakeDaemon{}}), listenerRemote)
	if r := do(t, "GET", srv.URL+"/metrics", "", nil); r.code != http.StatusNotFound {
		t.Errorf("GET /metrics without Metrics: %d, want 404", r.code)
	}
}
