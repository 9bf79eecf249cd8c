package web

import (
	"fmt"
	"net/http"

	"github.com/crierd/crier/feeds"
)

// explainView is GET /api/explain: what `crier explain` prints.
type explainView struct {
	Link string `json:"link"`
	Text string `json:"text"`
}

// apiExplain says why the item at ?link= was or was not pushed. It only
// reads, like the other GETs, so `crier explain` works while the daemon
// holds the store.
func (h *handler) apiExplain(w http.ResponseWriter, r *http.Request) {
	if h.opt.Explain == nil {
		writeJSON(w, http.StatusNotFound, apiError{"explain is not available"})
		return
	}
	link := r.URL.Query().Get("link")
	switch {
	case link == "":
		writeJSON(w, http.StatusBadRequest, apiError{"give the item's link"})
		return
	case feeds.CanonicalLink(link) == "":
		writeJSON(w, http.StatusBadRequest, apiError{fmt.Sprintf("%q is not a link", link)})
		return
	}
	text, err := h.opt.Explain(link)
	if err != nil {
		h.fail(w, r, fmt.Errorf("explain %s: %w", link, err))
		return
	}
	writeJSON(w, http.StatusOK, explainView{Link: link, Text: text})
}
