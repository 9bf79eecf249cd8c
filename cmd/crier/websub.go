package main

import (
	"net/http"

	"github.com/crierd/crier"
	"github.com/crierd/crier/cmd/crier/internal/web"
	"github.com/crierd/crier/feeds"
)

// openWebSub builds the WebSub subscriber when http.public_url says where
// hubs can reach crier; without it crier only polls.
func (d *daemon) openWebSub(cfg *crier.Config) error {
	if cfg.HTTP.PublicURL == "" {
		return nil
	}
	ws, err := feeds.NewWebSub(d.store, d.poller, feeds.WebSubOptions{
		PublicURL: cfg.HTTP.PublicURL,
		UserAgent: cfg.HTTP.UserAgent,
		MaxBody:   cfg.HTTP.MaxBody,
		Log:       d.log,
		OnPush:    d.metrics.ObservePush,
		OnRenewal: d.metrics.ObserveRenewal,
	})
	if err != nil {
		return err
	}
	d.websub = ws
	return nil
}

// withWebSub adds the WebSub callback to the listener's handler.
func (d *daemon) withWebSub(h http.Handler) http.Handler {
	if d.websub == nil {
		return h
	}
	return web.WithWebSub(h, d.websub)
}

// notifierNames lists the configured notifiers, for the per-notifier feeds.
func (d *daemon) notifierNames() []string {
	cfg := d.config()
	out := make([]string, 0, len(cfg.Notifiers))
	for _, n := range cfg.Notifiers {
		out = append(out, n.Name)
	}
	return out
}
