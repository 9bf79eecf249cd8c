package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store"
)

// statusView is GET /api/status: the one-screen summary `crier status` prints.
type statusView struct {
	Version          string         `json:"version"`
	Now              jsonTime       `json:"now"`
	Healthy          bool           `json:"healthy"`
	HealthReason     string         `json:"health_reason"`
	Feeds            int            `json:"feeds"`
	Failing          int            `json:"failing"` // error, backoff or gone
	Outbox           int            `json:"outbox"`
	OutboxByNotifier map[string]int `json:"outbox_by_notifier"`
	DeadLetters      int            `json:"dead_letters"`
	LastPoll         jsonTime       `json:"last_poll"`
}

func (h *handler) apiStatus(w http.ResponseWriter, r *http.Request) {
	now := h.now()
	fv, err := h.feedViews(now)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	entries, err := h.opt.Store.Outbox()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	dl, err := h.opt.Store.DeadLetters()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	v := statusView{
		Version: crier.Version, Now: jsonTime(now), Feeds: len(fv),
		Outbox: len(entries), OutboxByNotifier: map[string]int{}, DeadLetters: len(dl),
	}
	v.Healthy, v.HealthReason = h.opt.Daemon.Healthy(now)
	for _, f := range fv {
		if failing(f.Status) {
			v.Failing++
		}
		if t := time.Time(f.LastPoll); t.After(time.Time(v.LastPoll)) {
			v.LastPoll = f.LastPoll
		}
	}
	for _, e := range entries {
		v.OutboxByNotifier[e.Notifier]++
	}
	writeJSON(w, http.StatusOK, v)
}

func failing(status string) bool {
	return status == statusError || status == statusBackoff || status == statusGone
}

func (h *handler) apiFeeds(w http.ResponseWriter, r *http.Request) {
	fv, err := h.feedViews(h.now())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		Feeds []FeedView `json:"feeds"`
	}{fv})
}

func (h *handler) apiOutbox(w http.ResponseWriter, r *http.Request) {
	entries, err := h.opt.Store.Outbox()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	queues, views := outboxViews(entries, h.now())
	writeJSON(w, http.StatusOK, struct {
		Queues  []queueView `json:"queues"`
		Entries []entryView `json:"entries"`
	}{queues, views})
}

func (h *handler) apiDeadLetters(w http.ResponseWriter, r *http.Request) {
	dl, err := h.opt.Store.DeadLetters()
	if err != nil {
		h.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, struct {
		DeadLetters []deadView `json:"dead_letters"`
	}{deadViews(dl)})
}

// redeliverRequest is POST /api/redeliver's body: some ids, or all.
type redeliverRequest struct {
	IDs []uint64 `json:"ids"`
	All bool     `json:"all"`
}

func (h *handler) apiRedeliver(w http.ResponseWriter, r *http.Request) {
	var req redeliverRequest
	dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&req); err != nil {
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf(`body must be {"ids":[…]} or {"all":true}: %v`, err)})
		return
	}
	if req.All == (len(req.IDs) > 0) {
		writeJSON(w, http.StatusBadRequest, apiError{`body must be {"ids":[…]} or {"all":true}, not both or neither`})
		return
	}
	n, err := h.opt.Store.Redeliver(req.IDs...)
	switch {
	case errors.Is(err, store.ErrNotFound):
		writeJSON(w, http.StatusNotFound, apiError{err.Error() + " (nothing was redelivered)"})
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	if n > 0 {
		h.opt.Daemon.Kick()
	}
	h.log.Info("web: dead letters redelivered", "count", n, "remote", r.RemoteAddr)
	writeJSON(w, http.StatusOK, struct {
		Redelivered int `json:"redelivered"`
	}{n})
}

// pollView is POST /api/poll's answer.
type pollView struct {
	Feed       string `json:"feed"`
	Result     string `json:"result"` // ok, not_modified, unchanged, skipped, error
	Error      string `json:"error"`
	Skipped    string `json:"skipped"` // why, when skipped
	HTTPStatus int    `json:"http_status"`
	Items      int    `json:"items"`
	New        int    `json:"new"`
	Queued     int    `json:"queued"`
}

func (h *handler) apiPoll(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("feed")
	if name == "" {
		writeJSON(w, http.StatusBadRequest, apiError{"say which feed: POST /api/poll?feed=NAME"})
		return
	}
	known := false
	for _, f := range h.opt.Daemon.Feeds() {
		known = known || f.Name == name
	}
	if !known {
		writeJSON(w, http.StatusNotFound, apiError{fmt.Sprintf("no feed named %q", name)})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opt.PollTimeout)
	defer cancel()
	res, err := h.opt.Daemon.PollNow(ctx, name)
	if err != nil && res.Err == nil {
		res.Err = err
	}
	v := pollView{
		Feed: name, Result: pollResult(res), Skipped: res.Skipped, HTTPStatus: res.Status,
		Items: res.Items, New: res.New, Queued: res.Queued,
	}
	status := http.StatusOK
	if res.Err != nil {
		v.Error = res.Err.Error()
		status = http.StatusBadGateway
		if errors.Is(res.Err, context.DeadlineExceeded) && ctx.Err() != nil {
			status = http.StatusGatewayTimeout
		}
	}
	h.log.Info("web: poll requested", "feed", name, "result", v.Result, "remote", r.RemoteAddr)
	writeJSON(w, status, v)
}
