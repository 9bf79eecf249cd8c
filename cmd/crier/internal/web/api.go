package web

import (
	"net/http"
	"time"

	"github.com/crierd/crier"
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
