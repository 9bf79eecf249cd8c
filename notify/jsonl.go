package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
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
//
// Each record is whole or absent, so that a line-by-line reader never
// loses one: a failed append is cut back off, and a line torn by a kill
// mid-write is cut off before the next append. Its entry was never marked
// delivered, so the retry writes it whole.
type JSONL struct {
	name string
	path string
	now  func() time.Time
	open func(path string) (jsonlFile, error)
	mu   sync.Mutex // one append at a time keeps lines whole
}

// jsonlFile is what an append needs of an *os.File; tests substitute one
// whose write fails half-way, as on a full disk.
type jsonlFile interface {
	io.Writer
	io.ReaderAt
	Stat() (os.FileInfo, error)
	Truncate(size int64) error
	Sync() error
	Close() error
}

func openJSONLFile(path string) (jsonlFile, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_APPEND|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	return f, nil
}

// jsonlRecord fixes the field names and their order; Kind, Count and Items
// appear for summaries only, Story and AlsoIn for items of a story.
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
	// Story and AlsoIn (same_story): the item's story across feeds and
	// the other feeds that reported it before.
	Story  string   `json:"story,omitempty"`
	AlsoIn []string `json:"also_in,omitempty"`
}

// NewJSONL writes to path, which the caller has already resolved.
func NewJSONL(cfg crier.NotifierConfig, path string) (*JSONL, error) {
	if path == "" {
		return nil, fmt.Errorf("notifier %s: jsonl needs a path", cfg.Name)
	}
	return &JSONL{name: cfg.Name, path: path, now: time.Now, open: openJSONLFile}, nil
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
	f, err := j.open(j.path)
	if err != nil {
		// Permissions and full disks can be fixed without losing the entry.
		return Temporary(fmt.Errorf("notifier %s: %w", j.name, err), 0)
	}
	if err := appendWhole(f, line); err != nil {
		return Temporary(fmt.Errorf("notifier %s: appending to %s: %w", j.name, j.path, err), 0)
	}
	return nil
}

// appendWhole appends line to f and syncs it, or leaves f as it was. f is
// closed either way.
func appendWhole(f jsonlFile, line []byte) error {
	size, err := cutTornLine(f)
	if err == nil {
		_, err = f.Write(line)
		if err == nil {
			err = f.Sync()
		}
		if err != nil {
			// Whole or absent: whatever part of the record reached the
			// file goes. Should that fail too, the next append cuts it.
			if terr := f.Truncate(size); terr != nil {
				err = errors.Join(err, fmt.Errorf("cutting back the partial record: %w", terr))
			}
		}
	}
	if err != nil {
		f.Close()
		return err
	}
	// Synced: the record is on disk, and a retry would duplicate it.
	_ = f.Close()
	return nil
}

// cutTornLine truncates f after its last newline, dropping a record torn
// by a crash mid-write, and returns f's size.
func cutTornLine(f jsonlFile) (int64, error) {
	fi, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := fi.Size()
	buf := make([]byte, 4096)
	for pos := end; pos > 0; {
		n := min(int64(len(buf)), pos)
		pos -= n
		if _, err := f.ReadAt(buf[:n], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading the last line: %w", err)
		}
		if i := bytes.LastIndexByte(buf[:n], '\n'); i >= 0 {
			return truncateTo(f, end, pos+int64(i)+1)
		}
	}
	return truncateTo(f, end, 0)
}

func truncateTo(f jsonlFile, size, keep int64) (int64, error) {
	if keep == size {
		return size, nil
	}
	if err := f.Truncate(keep); err != nil {
		return 0, fmt.Errorf("cutting a torn last line: %w", err)
	}
	return keep, nil
}

func (j *JSONL) encode(n crier.Notification) ([]byte, error) {
	rec := jsonlRecord{
		Feed:     n.Feed,
		FeedURL:  shown(n).FeedURL,
		Title:    n.Title,
		Link:     n.Link,
		ID:       n.ItemID,
		Summary:  n.Summary,
		Notifier: j.name,
		Story:    n.Story,
		AlsoIn:   n.AlsoIn,
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
