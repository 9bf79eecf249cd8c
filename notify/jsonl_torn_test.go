package notify

import (
	"bufio"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"

	"github.com/crierd/crier"
)

// shortWriteFile is a real file whose next Write stores only the first
// half of its bytes and then fails, as a full disk does; Sync can be made
// to fail instead.
type shortWriteFile struct {
	*os.File
	shortWrite bool
	failSync   bool
}

func (f *shortWriteFile) Write(p []byte) (int, error) {
	if f.shortWrite {
		n, _ := f.File.Write(p[:len(p)/2])
		return n, syscall.ENOSPC
	}
	return f.File.Write(p)
}

func (f *shortWriteFile) Sync() error {
	if f.failSync {
		return syscall.EIO
	}
	return f.File.Sync()
}

// jsonlRecords reads path as a line-by-line consumer would and returns
// each line's title; a line that is not a whole JSON object fails.
func jsonlRecords(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var titles []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct{ Title string }
		if err := json.Unmarshal(sc.Bytes(), &rec); err != nil {
			t.Fatalf("line %d is not a whole record: %q: %v", len(titles)+1, sc.Text(), err)
		}
		titles = append(titles, rec.Title)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return titles
}

// A write or fsync that fails leaves no part of its record behind, so
// the retry's record is the only copy and every line stays whole.
func TestJSONLFailedWriteLeavesNoTornLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		file shortWriteFile
	}{
		{"short write", shortWriteFile{shortWrite: true}},
		{"fsync fails", shortWriteFile{failSync: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "out.jsonl")
			j, err := NewJSONL(crier.NotifierConfig{Name: "log", Type: "jsonl"}, path)
			if err != nil {
				t.Fatal(err)
			}
			send := func(title string) error {
				return j.Send(context.Background(), crier.Notification{Kind: crier.KindItem, Feed: "x", Title: title})
			}
			if err := send("first"); err != nil {
				t.Fatal(err)
			}
			j.open = func(path string) (jsonlFile, error) {
				f, err := openJSONLFile(path)
				if err != nil {
					return nil, err
				}
				failing := tc.file
				failing.File = f.(*os.File)
				return &failing, nil
			}
			err = send("second")
			if c := Classify(err); err == nil || c.Permanent {
				t.Fatalf("failed append: %v; want a temporary error", err)
			}
			// Cut back at once, not only by the next append: a reader
			// may look before any retry (or none comes).
			if got := jsonlRecords(t, path); len(got) != 1 || got[0] != "first" {
				t.Fatalf("after the failed append: records %q, want first", got)
			}
			j.open = openJSONLFile
			if err := send("second"); err != nil { // the dispatcher's retry
				t.Fatal(err)
			}
			if got := jsonlRecords(t, path); len(got) != 2 || got[0] != "first" || got[1] != "second" {
				t.Fatalf("records %q, want first, second", got)
			}
		})
	}
}

// A line torn by a kill mid-write (or written before this version) is
// cut off before the next record is appended, instead of swallowing it.
func TestJSONLRepairsTornLastLine(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, before string
		want         []string
	}{
		{"torn after whole lines", `{"title":"kept"}` + "\n" + `{"title":"to`, []string{"kept", "new"}},
		{"torn first line", `{"title":"to`, []string{"new"}},
		{"whole lines", `{"title":"kept"}` + "\n", []string{"kept", "new"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			path := filepath.Join(t.TempDir(), "out.jsonl")
			if err := os.WriteFile(path, []byte(tc.before), 0o600); err != nil {
				t.Fatal(err)
			}
			j, err := NewJSONL(crier.NotifierConfig{Name: "log", Type: "jsonl"}, path)
			if err != nil {
				t.Fatal(err)
			}
			if err := j.Send(context.Background(), crier.Notification{Kind: crier.KindItem, Title: "new"}); err != nil {
				t.Fatal(err)
			}
			if got := jsonlRecords(t, path); !slices.Equal(got, tc.want) {
				t.Fatalf("records %q, want %q", got, tc.want)
			}
		})
	}
}
