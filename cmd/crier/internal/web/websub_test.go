package web

import (
	"github.com/crierd/crier"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/crierd/crier/feeds"
)

// /api/feeds shows each feed's WebSub subscription: its state, hub and
// lease expiry, or null when the feed has none.
func TestAPIFeedsWebSub(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	lease := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	good := f.daemon.feeds[0]
	for _, s := range []crier.Subscription{
		{FeedID: good.FeedID(), Callback: "old", Hub: "https://old-hub.example/", Topic: good.URL, State: crier.SubUnsubscribing},
		{FeedID: good.FeedID(), Callback: "cur", Hub: "https://hub.example/", Topic: good.URL, State: crier.SubActive, LeaseExpires: lease},
	} {
		if err := f.store.SaveSubscription(s); err != nil {
			t.Fatal(err)
		}
	}
	srv := serve(t, f.handler(""), listenerLoopback)
	got := decode[struct {
		Feeds []map[string]any `json:"feeds"`
	}](t, do(t, "GET", srv.URL+"/api/feeds", "", nil)).Feeds
	for _, fv := range got {
		ws, present := fv["websub"]
		if !present {
			t.Errorf("feed %v lacks websub", fv["name"])
			continue
		}
		if fv["name"] != "good" {
			if ws != nil {
				t.Errorf("feed %v: websub %v, want null", fv["name"], ws)
			}
			continue
		}
		m, _ := ws.(map[string]any)
		if m["state"] != "active" || m["hub"] != "https://hub.example/" || m["lease_expires"] != "2030-01-02T03:04:05Z" {
			t.Errorf("good: websub %v, want the current subscription", ws)
		}
	}
	page := do(t, "GET", srv.URL+"/", "", nil)
	if !strings.Contains(page.body, `class="websub active"`) {
		t.Errorf("the status page does not show the subscription")
	}
}

func TestWebSubMetrics(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m := NewMetrics(prometheus.NewRegistry(), f.store, f.daemon.Feeds)
	m.ObservePush(feeds.PushAccepted)
	m.ObservePush(feeds.PushAccepted)
	m.ObservePush(feeds.PushRejected)
	m.ObserveRenewal(true)
	m.ObserveRenewal(false)
	srv := serve(t, NewHandler(Options{Store: f.store, Daemon: f.daemon, Metrics: m}), listenerLoopback)
	fams := scrape(t, srv.URL)
	for _, c := range []struct {
		name  string
		label string
		want  float64
	}{
		{"crier_websub_pushes_total", "result=accepted", 2},
		{"crier_websub_pushes_total", "result=rejected", 1},
		{"crier_websub_renewals_total", "result=ok", 1},
		{"crier_websub_renewals_total", "result=failed", 1},
	} {
		s, ok := sample(fams, c.name, c.label)
		if !ok || value(s) != c.want {
			t.Errorf("%s{%s} = %v (present %v), want %v", c.name, c.label, s, ok, c.want)
		}
	}
}

// The callback is authenticated by the protocol, not the API's rules: a
// hub reaches it through a reverse proxy, with the public Host and no
// token, while the API behind the same listener stays closed.
func TestWithWebSubRoutesTheCallback(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	callback := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte("callback " + r.URL.Path))
	})
	srv := serve(t, WithWebSub(f.handler("tok"), callback), listenerLoopback)
	r := do(t, "GET", srv.URL+"/websub/abc?hub.mode=subscribe", "", map[string]string{"Host": "crier.example.org"})
	if r.code != 200 || r.body != "callback /websub/abc" {
		t.Errorf("callback through a proxy: %d %q", r.code, r.body)
	}
	if r := do(t, "POST", srv.URL+"/api/poll?feed=good", "", map[string]string{"Host": "crier.example.org"}); r.code != http.StatusForbidden {
		t.Errorf("the API with a foreign Host: %d, want 403", r.code)
	}
	if r := do(t, "GET", srv.URL+"/healthz", "", nil); r.code != 200 {
		t.Errorf("the rest of the handler: /healthz %d", r.code)
	}
}
