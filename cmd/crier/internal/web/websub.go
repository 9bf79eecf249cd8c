package web

import (
	"github.com/crierd/crier"
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
)

// WebSubView is a feed's WebSub subscription in /api/feeds ("websub",
// null when it has none) and on the status page.
type WebSubView struct {
	State        string   `json:"state"` // pending, active, denied, failed
	Hub          string   `json:"hub"`
	LeaseExpires jsonTime `json:"lease_expires"`
	LastError    string   `json:"last_error"`
}

// subscriptionLister is the optional part of Store that knows WebSub
// subscriptions; the store backends have it.
type subscriptionLister interface {
	Subscriptions() ([]crier.Subscription, error)
}

// webSubViews returns each feed's current subscription by feed ID. A
// subscription being cancelled (the feed changed hubs) is not current.
func webSubViews(s crier.StatusViews) (map[string]*WebSubView, error) {
	out := map[string]*WebSubView{}
	sl, ok := s.(subscriptionLister)
	if !ok {
		return out, nil
	}
	subs, err := sl.Subscriptions()
	if err != nil {
		return nil, err
	}
	for _, sub := range subs {
		if sub.State == crier.SubUnsubscribing {
			continue
		}
		out[sub.FeedID] = &WebSubView{State: sub.State, Hub: sub.Hub, LeaseExpires: jsonTime(sub.LeaseExpires), LastError: sub.LastError}
	}
	return out, nil
}

// WithWebSub serves the WebSub callback (/websub/…) next to h. The
// callback stays outside h's access rules (loopback Host, bearer token):
// hubs reach it from anywhere through the public URL, and the protocol
// authenticates them itself (verification only of requests crier sent,
// HMAC signatures on content).
func WithWebSub(h, callback http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("/websub/", callback)
	mux.Handle("/", h)
	return mux
}

// webSubMetrics count what hubs do.
type webSubMetrics struct {
	pushes   *prometheus.CounterVec
	renewals *prometheus.CounterVec
}

func newWebSubMetrics(reg *prometheus.Registry) webSubMetrics {
	m := webSubMetrics{
		pushes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_websub_pushes_total",
			Help: "WebSub content deliveries by result (accepted, rejected: bad signature, unknown: no such subscription, failed: not taken in).",
		}, []string{"result"}),
		renewals: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "crier_websub_renewals_total",
			Help: "WebSub lease renewal requests by result (ok: the hub accepted it, failed).",
		}, []string{"result"}),
	}
	reg.MustRegister(m.pushes, m.renewals)
	return m
}

// ObservePush counts one content delivery; result is one of feeds.Push*.
func (m *Metrics) ObservePush(result string) { m.websub.pushes.WithLabelValues(result).Inc() }

// ObserveRenewal counts one lease renewal request.
func (m *Metrics) ObserveRenewal(ok bool) {
	result := "ok"
	if !ok {
		result = "failed"
	}
	m.websub.renewals.WithLabelValues(result).Inc()
}
