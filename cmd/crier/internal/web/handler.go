package web

import (
	"context"
	"encoding/json"
	"html/template"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

// Schedule is what the feed table needs: the feeds and when they are due.
type Schedule interface {
	// Feeds returns the configured feeds. It is called per request, so a
	// reload shows at once.
	Feeds() []crier.Feed
	// NextPoll is when the feed with this ID (crier.Feed.FeedID) is next
	// due; zero if it is not scheduled.
	NextPoll(feedID string) time.Time
}

// Daemon is the running daemon, as the listener sees it.
type Daemon interface {
	Schedule
	// PollNow polls the named feed at once, ignoring its backoff
	// (feeds.Scheduler.PollNow).
	PollNow(ctx context.Context, name string) (feeds.Result, error)
	// Healthy says whether the daemon makes progress, and if not why.
	Healthy(now time.Time) (ok bool, reason string)
	// Kick tells the dispatcher that the outbox changed.
	Kick()
	// Notifiers names the configured notifiers, in config order.
	Notifiers() []string
	// TestNotify sends one test notification through the named notifier
	// at once, outside the outbox (as `crier test-notify` does).
	TestNotify(ctx context.Context, notifier string) error
}

// Options wire NewHandler.
type Options struct {
	Store   crier.StatusViews
	Daemon  Daemon
	Metrics *Metrics // nil: no /metrics
	// Token, when set, lets a request carrying "Authorization: Bearer
	// <Token>" make state-changing calls from anywhere.
	Token string
	Log   *slog.Logger
	Now   func() time.Time
	// PollTimeout bounds POST /api/poll; default 2 minutes.
	PollTimeout time.Duration
	// Notifiers returns the configured notifier names, for the
	// per-notifier feeds; nil: any name with deliveries.
	Notifiers func() []string
	// PublicURL, when set, is the base of the links in crier's own feeds.
	PublicURL string
	// Explain says, for people, why the item at a link was or was not
	// pushed (what `crier explain` prints); nil: no /api/explain.
	Explain func(link string) (string, error)
}

type handler struct {
	opt   Options
	page  *template.Template
	log   *slog.Logger
	now   func() time.Time
	notes notes // what the page's forms did, shown after their redirect
}

// NewHandler returns the listener's routes. State-changing calls are
// allowed from a loopback or unix-socket listener (as marked by Listen) or
// with the bearer token; behind any other listener, or an http.Server of
// the caller's own, they need the token. On a loopback listener every
// route refuses a Host that is not a loopback name, unless the request
// carries the token (see protect).
func NewHandler(opt Options) http.Handler {
	h := &handler{opt: opt, page: parsePage(), log: opt.Log, now: opt.Now}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.opt.PollTimeout <= 0 {
		h.opt.PollTimeout = 2 * time.Minute
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", h.statusPage)
	mux.HandleFunc("GET /healthz", h.healthz)
	mux.HandleFunc("GET /api/status", h.apiStatus)
	mux.HandleFunc("GET /api/feeds", h.apiFeeds)
	mux.HandleFunc("GET /api/outbox", h.apiOutbox)
	mux.HandleFunc("GET /api/deadletters", h.apiDeadLetters)
	mux.HandleFunc("GET /api/explain", h.apiExplain)
	mux.HandleFunc("POST /api/redeliver", h.guard(h.apiRedeliver))
	mux.HandleFunc("POST /api/poll", h.guard(h.apiPoll))
	mux.HandleFunc("GET /api/backup", h.guard(h.apiBackup))
	// crier's feeds show what crier pushed, which may be as private as the
	// phone it went to: they get the state-changing calls' rule.
	mux.HandleFunc("GET /feeds/{file}", h.guard(h.feedOut))
	mux.HandleFunc("POST /api/pause", h.guard(h.apiPause))
	mux.HandleFunc("POST /api/resume", h.guard(h.apiResume))
	mux.HandleFunc("POST /api/test-notify", h.guard(h.apiTestNotify))
	if opt.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(opt.Metrics.reg, promhttp.HandlerOpts{
			// A store read error drops those gauges, not the whole scrape.
			ErrorHandling: promhttp.ContinueOnError,
			ErrorLog:      slog.NewLogLogger(h.log.Handler(), slog.LevelWarn),
		}))
	}
	return h.protect(mux)
}

func (h *handler) healthz(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	ok, reason := h.opt.Daemon.Healthy(h.now())
	if !ok {
		w.WriteHeader(http.StatusServiceUnavailable)
		_, _ = w.Write([]byte(reason + "\n"))
		return
	}
	_, _ = w.Write([]byte("ok\n"))
}

// apiError is the body of every failed API call.
type apiError struct {
	Error string `json:"error"`
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// fail logs a server-side failure and answers 500 without the details
// leaving the machine beyond the error text itself.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, err error) {
	h.log.Error("web: "+r.Method+" "+r.URL.Path, "err", err)
	writeJSON(w, http.StatusInternalServerError, apiError{err.Error()})
}
