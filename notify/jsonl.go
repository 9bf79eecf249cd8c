package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// JSONL appends one JSON object per notification to a file, for scripts
// and for people who want a record instead of a push.
//
// The file is opened for every send rather than kept open: a user who
// rotates or deletes it gets a fresh file on the next notification instead
// of writes going to an unlinked inode.
type JSONL struct {
	name string
	path string
	now  func() time.Time
	mu   sync.Mutex // one append at a time keeps lines whole
}

// jsonlRecord fixes the field names and their order; Kind, Count and Items
// appear for summaries only.
type jsonlRecord struct {
	Feed      string           `json:"feed"`
	FeedURL   string           `json:"feed_url"`
	Title     string           `json:"title"`
	Link      string           `json:"link"`
	ID        string           `json:"id"`
	Published string           `json:"published"`
	Summary   string           `json:"summary"`
	Notifier  string           `json:"notifier"`
	QueuedAt  string           `json:"queued_at"`
	Kind      string           `json:"kind,omitempty"`
	Count     int              `json:"count,omitempty"`
	Items     []crier.Headline `json:"items,omitempty"`
}

// NewJSONL writes to path, which the caller has already resolved.
func NewJSONL(cfg crier.NotifierConfig, path string) (*JSONL, error) {
	if path == "" {
		return nil, fmt.Errorf("notifier %s: jsonl needs a path", cfg.Name)
	}
	return &JSONL{name: cfg.Name, path: path, now: time.Now}, nil
}

// Path is the file notifications are appended to.
func (j *JSONL) Path() string { return j.path }

// Send appends the notification and syncs it to disk before reporting
// success, so a delivered entry survives a crash.
func (j *JSONL) Send(ctx context.Context, n crier.Notification) error {
	if err := ctx.Err(); err != nil {
		return Temporary(fmt.Errorf("notifier %s: %w", j.name, err), 0)
	}
	line, err := j.encode(n)
	if err != nil {
		return Permanent(fmt.Errorf("notifier %s: encoding notification: %w", j.name, err))
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	if err := os.MkdirAll(filepath.Dir(j.path), 0o700); err != nil {
		return Temporary(fmt.Errorf("notifier %s: %w", j.name, err), 0)
	}
	f, err := os.OpenFile(j.path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		// Permissions and full disks can be fixed without losing the entry.
		return Temporary(fmt.Errorf("notifier %s: %w", j.name, err), 0)
	}
	_, werr := f.Write(line)
	serr := f.Sync()
	cerr := f.Close()
	for _, err := range []error{werr, serr, cerr} {
		if err != nil {
			return Temporary(fmt.Errorf("notifier %s: appending to %s: %w", j.name, j.path, err), 0)
		}
	}
	return nil
}

func (j *JSONL) encode(n crier.Notification) ([]byte, error) {
	rec := jsonlRecord{
		Feed:     n.Feed,
		FeedURL:  n.FeedURL,
		Title:    n.Title,
		Link:     n.Link,
		ID:       n.ItemID,
		Summary:  n.Summary,
		Notifier: j.name,
	}
	if !n.Published.IsZero() {
		rec.Published = n.Published.Format(time.RFC3339)
	}
	queued := n.QueuedAt
	if queued.IsZero() {
		queued = j.now()
	}
	rec.QueuedAt = queued.Format(time.RFC3339)
	if n.Kind == crier.KindSummary {
		rec.Kind, rec.Count, rec.Items = n.Kind, n.Count, n.Items
		if rec.Count == 0 {
			rec.Count = len(n.Items)
		}
		if rec.Link == "" {
			rec.Link = n.FeedLink
		}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false) // links with & stay readable for grep and jq alike
	if err := enc.Encode(rec); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
