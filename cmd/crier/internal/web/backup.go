package web

import (
	"io"
	"net/http"
)

// backupStore is a store that can copy itself while in use
// (*bolt.Store.WriteBackup).
type backupStore interface {
	WriteBackup(w io.Writer) (int64, error)
}

// apiBackup streams a consistent copy of the state file: `crier backup`
// uses it while the daemon holds the file's lock. It is guarded like the
// state-changing calls, since the copy holds every feed URL and queued
// notification. A copy cut short by an error is detected by the client,
// which checks the pages of what it received.
func (h *handler) apiBackup(w http.ResponseWriter, r *http.Request) {
	bs, ok := h.opt.Store.(backupStore)
	if !ok {
		writeJSON(w, http.StatusNotImplemented, apiError{"this store cannot be backed up"})
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Disposition", `attachment; filename="crier.db"`)
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if _, err := bs.WriteBackup(w); err != nil {
		h.log.Error("web: backup", "err", err)
	}
}
