package web

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// The state-changing calls serve two clients: scripts, which get JSON, and
// the status page's plain <form method=post> buttons, which work without
// JavaScript. A browser submitting a form asks for HTML (Accept: text/html),
// so such a request gets its parameters from the form and a 303 back to
// the page, which then shows what happened. Both pass the same guard: a
// form on the page itself posts with the page's own Origin.

// fromPage reports whether r was sent by a browser's form submission.
func fromPage(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/html")
}

// param is a call's parameter: from the query string for scripts, from the
// form (or the query string) for the page.
func param(r *http.Request, key string) string {
	if fromPage(r) {
		return r.FormValue(key)
	}
	return r.URL.Query().Get(key)
}

// answer writes v as JSON, or for a form sends the browser back to the
// page with note to show.
func (h *handler) answer(w http.ResponseWriter, r *http.Request, status int, v any, note string) {
	if !fromPage(r) {
		writeJSON(w, status, v)
		return
	}
	id := h.notes.add(note, status >= 400, h.now())
	w.Header().Set("Cache-Control", "no-store")
	// Relative, so the page also works behind a proxy under a path prefix:
	// every action is at api/NAME next to the page.
	w.Header().Set("Location", "../?note="+id)
	w.WriteHeader(http.StatusSeeOther)
}

func (h *handler) refuse(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.answer(w, r, status, apiError{msg}, msg)
}

// configuredFeed finds the feed the call names.
func (h *handler) configuredFeed(w http.ResponseWriter, r *http.Request, call string) (crier.Feed, bool) {
	name := param(r, "feed")
	if name == "" {
		h.refuse(w, r, http.StatusBadRequest, "say which feed: POST /api/"+call+"?feed=NAME")
		return crier.Feed{}, false
	}
	for _, f := range h.opt.Daemon.Feeds() {
		if f.Name == name {
			return f, true
		}
	}
	h.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no feed named %q", name))
	return crier.Feed{}, false
}

// redeliverRequest is POST /api/redeliver's body: some ids, or all.
type redeliverRequest struct {
	IDs []uint64 `json:"ids"`
	All bool     `json:"all"`
}

func (h *handler) apiRedeliver(w http.ResponseWriter, r *http.Request) {
	var req redeliverRequest
	if fromPage(r) {
		// The page's buttons: all=1, or id=N.
		if err := r.ParseForm(); err != nil {
			h.refuse(w, r, http.StatusBadRequest, "redeliver: "+err.Error())
			return
		}
		req.All = r.Form.Get("all") != ""
		for _, s := range r.Form["id"] {
			id, err := strconv.ParseUint(s, 10, 64)
			if err != nil {
				h.refuse(w, r, http.StatusBadRequest, fmt.Sprintf("redeliver: bad id %q", s))
				return
			}
			req.IDs = append(req.IDs, id)
		}
	} else {
		dec := json.NewDecoder(io.LimitReader(r.Body, 1<<20))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&req); err != nil {
			writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf(`body must be {"ids":[…]} or {"all":true}: %v`, err)})
			return
		}
	}
	if req.All == (len(req.IDs) > 0) {
		h.refuse(w, r, http.StatusBadRequest, `body must be {"ids":[…]} or {"all":true}, not both or neither`)
		return
	}
	n, err := h.opt.Store.Redeliver(req.IDs...)
	switch {
	case errors.Is(err, crier.ErrNotFound):
		h.refuse(w, r, http.StatusNotFound, err.Error()+" (nothing was redelivered)")
		return
	case err != nil:
		h.fail(w, r, err)
		return
	}
	if n > 0 {
		h.opt.Daemon.Kick()
	}
	h.log.Info("web: dead letters redelivered", "count", n, "remote", r.RemoteAddr)
	plural := "s"
	if n == 1 {
		plural = ""
	}
	h.answer(w, r, http.StatusOK, struct {
		Redelivered int `json:"redelivered"`
	}{n}, fmt.Sprintf("Queued %d dead letter%s again.", n, plural))
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
	f, ok := h.configuredFeed(w, r, "poll")
	if !ok {
		return
	}
	name := f.Name
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
	note := fmt.Sprintf("Polled %s: %s, %d items, %d new, %d queued.", name, v.Result, v.Items, v.New, v.Queued)
	if res.Err != nil {
		v.Error = res.Err.Error()
		status = http.StatusBadGateway
		if errors.Is(res.Err, context.DeadlineExceeded) && ctx.Err() != nil {
			status = http.StatusGatewayTimeout
		}
		note = fmt.Sprintf("Polled %s: %s", name, v.Error)
	} else if v.Skipped != "" {
		note = fmt.Sprintf("Polled %s: skipped (%s).", name, v.Skipped)
	}
	h.log.Info("web: poll requested", "feed", name, "result", v.Result, "remote", r.RemoteAddr)
	h.answer(w, r, status, v, note)
}

// pauseView is POST /api/pause's and /api/resume's answer.
type pauseView struct {
	Feed        string   `json:"feed"`
	Paused      bool     `json:"paused"`
	PausedSince jsonTime `json:"paused_since"`
}

func (h *handler) apiPause(w http.ResponseWriter, r *http.Request) {
	f, ok := h.configuredFeed(w, r, "pause")
	if !ok {
		return
	}
	since, err := h.opt.Store.Pause(f.FeedID())
	if err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("web: feed paused", "feed", f.Name, "remote", r.RemoteAddr)
	h.answer(w, r, http.StatusOK, pauseView{f.Name, true, jsonTime(since)},
		fmt.Sprintf("Paused %s: no scheduled polls until you resume it (poll now still works).", f.Name))
}

func (h *handler) apiResume(w http.ResponseWriter, r *http.Request) {
	f, ok := h.configuredFeed(w, r, "resume")
	if !ok {
		return
	}
	if _, err := h.opt.Store.Resume(f.FeedID()); err != nil {
		h.fail(w, r, err)
		return
	}
	h.log.Info("web: feed resumed", "feed", f.Name, "remote", r.RemoteAddr)
	h.answer(w, r, http.StatusOK, pauseView{Feed: f.Name}, fmt.Sprintf("Resumed %s: polled on its schedule again.", f.Name))
}

// testNotifyView is POST /api/test-notify's answer.
type testNotifyView struct {
	Notifier string `json:"notifier"`
	Result   string `json:"result"` // sent or failed
	Error    string `json:"error"`
}

// testNotifyTimeout bounds a test send, a little over a notifier's own 30 s.
const testNotifyTimeout = 45 * time.Second

func (h *handler) apiTestNotify(w http.ResponseWriter, r *http.Request) {
	name := param(r, "notifier")
	if name == "" {
		h.refuse(w, r, http.StatusBadRequest, "say which notifier: POST /api/test-notify?notifier=NAME")
		return
	}
	if !slices.Contains(h.opt.Daemon.Notifiers(), name) {
		h.refuse(w, r, http.StatusNotFound, fmt.Sprintf("no notifier named %q", name))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), testNotifyTimeout)
	defer cancel()
	err := h.opt.Daemon.TestNotify(ctx, name)
	h.log.Info("web: test notification", "notifier", name, "err", err, "remote", r.RemoteAddr)
	if err != nil {
		h.answer(w, r, http.StatusBadGateway, testNotifyView{name, "failed", err.Error()},
			fmt.Sprintf("Test notification through %s failed: %v", name, err))
		return
	}
	h.answer(w, r, http.StatusOK, testNotifyView{Notifier: name, Result: "sent"},
		fmt.Sprintf("Test notification sent through %s.", name))
}

// notes remembers what the page's recent actions did, for the page to show
// after the redirect. A note is found by an unguessable id and only for a
// while: the page never echoes text from the URL, so a link cannot make it
// say anything.
type notes struct {
	mu   sync.Mutex
	list []pageNote // oldest first
}

type pageNote struct {
	ID   string
	Text string
	Bad  bool
	At   time.Time
}

const (
	notesKept = 32
	noteTTL   = 10 * time.Minute
)

func (n *notes) add(text string, bad bool, at time.Time) string {
	id := rand.Text()
	n.mu.Lock()
	defer n.mu.Unlock()
	n.list = append(n.list, pageNote{id, text, bad, at})
	if len(n.list) > notesKept {
		n.list = slices.Delete(n.list, 0, len(n.list)-notesKept)
	}
	return id
}

func (n *notes) get(id string, now time.Time) (pageNote, bool) {
	if id == "" {
		return pageNote{}, false
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, p := range n.list {
		if p.ID == id && now.Sub(p.At) < noteTTL {
			return p, true
		}
	}
	return pageNote{}, false
}
