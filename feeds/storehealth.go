package feeds

import (
	"log/slog"
	"sync"
	"time"
)

// A state file that cannot be written (a full disk) fails every poll the
// same way until someone frees space. Logged per poll, that is a warning
// per feed every few minutes that buries the one line that matters; and
// fetching feeds whose results cannot be recorded only costs their
// publishers bandwidth. So write failures are an episode: one ERROR when
// it starts, polls paused with a growing pause while it lasts (a poll after
// the pause probes the disk), and one INFO when a write works again.

// storeError marks an error as the state file's, not the feed's.
type storeError struct{ err error }

func (e storeError) Error() string { return e.err.Error() }
func (e storeError) Unwrap() error { return e.err }

const (
	storeMinPause = 30 * time.Second
	storeMaxPause = 10 * time.Minute
)

type storeHealth struct {
	log *slog.Logger

	mu       sync.Mutex
	since    time.Time // the episode's first failure; zero: writable
	failures int       // failed probes in this episode
	pauseEnd time.Time // polls wait until then
}

// failed records a write failure at now.
func (h *storeHealth) failed(now time.Time, feed string, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		h.since = now
	} else if now.Before(h.pauseEnd) {
		// A poll that started before the pause did; not a new probe.
		h.log.Debug("state file still not writable", "feed", feed, "err", err)
		return
	}
	h.failures++
	pause := storeMaxPause
	if shift := h.failures - 1; shift < 16 {
		pause = min(storeMinPause<<shift, storeMaxPause)
	}
	h.pauseEnd = now.Add(pause)
	if h.failures == 1 {
		h.log.Error("cannot write the state file; polls pause until it works again (nothing is lost: what they fetched is fetched again)",
			"feed", feed, "err", err, "retry", h.pauseEnd.Format(time.RFC3339))
		return
	}
	h.log.Debug("state file still not writable", "feed", feed, "err", err, "retry", h.pauseEnd.Format(time.RFC3339))
}

// wrote records a successful write at now.
func (h *storeHealth) wrote(now time.Time) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.since.IsZero() {
		return
	}
	h.log.Info("store writable again", "after", now.Sub(h.since).Round(time.Second).String())
	h.since, h.failures, h.pauseEnd = time.Time{}, 0, time.Time{}
}

// paused reports until when polls wait for the state file, if they do.
func (h *storeHealth) paused(now time.Time) (time.Time, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.pauseEnd, !h.since.IsZero() && now.Before(h.pauseEnd)
}
