package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

func assertGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run with -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs:\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

func TestJSONLGolden(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "sub", "out.jsonl")
	j, err := NewJSONL(crier.NotifierConfig{Name: "log", Type: "jsonl"}, path)
	if err != nil {
		t.Fatal(err)
	}
	queued := time.Date(2026, 3, 1, 9, 30, 0, 0, time.UTC)
	unpublished := crier.Notification{Kind: crier.KindItem, Feed: "Blog", FeedURL: "https://b.example/feed",
		Title: "Tom & Jerry <3", Link: "https://b.example/p?a=1&b=2", ItemID: "l:https://b.example/p?a=1&b=2", QueuedAt: queued}
	summary := crier.Notification{Kind: crier.KindSummary, Feed: "HN", FeedURL: "https://hn.example/rss",
		FeedLink: "https://hn.example/", Title: "2 new headlines from HN", Count: 2, QueuedAt: queued,
		Items: []crier.Headline{{Title: "One", Link: "https://hn.example/1"}, {Title: "Two", Link: "https://hn.example/2"}}}
	for _, n := range []crier.Notification{sampleItem(), unpublished, summary} {
		if err := j.Send(context.Background(), n); err != nil {
			t.Fatal(err)
		}
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	assertGolden(t, "jsonl.golden", got)
	if fi, err := os.Stat(path); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("file mode %v, %v; want 0600", fi.Mode(), err)
	}

	// Every line is one object with exactly the documented keys.
	want := []string{"feed", "feed_url", "title", "link", "id", "published", "summary", "notifier", "queued_at"}
	for i, line := range strings.Split(strings.TrimSpace(string(got)), "\n") {
		var m map[string]any
		if err := json.Unmarshal([]byte(line), &m); err != nil {
			t.Fatalf("line %d: %v", i, err)
		}
		keys := append([]string(nil), want...)
		if i == 2 {
			keys = append(keys, "kind", "count", "items")
		}
		if len(m) != len(keys) {
			t.Errorf("line %d has keys %v, want %v", i, m, keys)
		}
		for _, k := range keys {
			if _, ok := m[k]; !ok {
				t.Errorf("line %d lacks %q", i, k)
			}
		}
	}
}

func TestJSONLSurvivesRemovalAndConcurrency(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "out.jsonl")
	j, err := NewJSONL(crier.NotifierConfig{Name: "log"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Send(context.Background(), sampleItem()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(path, path+".1"); err != nil { // logrotate
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 20; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := j.Send(context.Background(), sampleItem()); err != nil {
				t.Error(err)
			}
		}()
	}
	wg.Wait()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("file not recreated after rotation: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 20 {
		t.Fatalf("%d lines after rotation, want 20", len(lines))
	}
	for _, l := range lines {
		if !json.Valid([]byte(l)) {
			t.Fatalf("interleaved write: %q", l)
		}
	}
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := j.Send(context.Background(), sampleItem()); err != nil {
		t.Fatalf("after removal: %v", err)
	}
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("file not recreated after removal: %v", err)
	}
}

func TestJSONLUnwritableIsTemporary(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	j, _ := NewJSONL(crier.NotifierConfig{Name: "log"}, filepath.Join(blocker, "out.jsonl"))
	err := j.Send(context.Background(), sampleItem())
	if err == nil || Classify(err).Permanent || !strings.Contains(err.Error(), "log") {
		t.Fatalf("unwritable path: %v, want a temporary error naming the notifier", err)
	}
}

func TestConsole(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	c := NewConsole(crier.NotifierConfig{Name: "tty"}, &buf)
	c.now = func() time.Time { return time.Date(2026, 1, 2, 15, 4, 5, 0, time.Local) }
	tests := []struct {
		n    crier.Notification
		want string
	}{
		{sampleItem(), "15:04:05  Go Blog  Go 1.26 is released  https://go.dev/blog/go1.26\n"},
		{crier.Notification{Feed: "F", Title: "two\nlines", Link: ""}, "15:04:05  F  two lines\n"},
		{crier.Notification{Kind: crier.KindSummary, Feed: "HN", Count: 3,
			Items: []crier.Headline{{Title: "a"}, {Title: "b"}, {Title: "c"}}}, "15:04:05  HN: 3 new headlines: a; b; c\n"},
		{crier.Notification{Kind: crier.KindTest, Title: "hello"}, "15:04:05  crier test  hello\n"},
	}
	for _, tc := range tests {
		buf.Reset()
		if err := c.Send(context.Background(), tc.n); err != nil {
			t.Fatal(err)
		}
		if buf.String() != tc.want {
			t.Errorf("got %q, want %q", buf.String(), tc.want)
		}
	}
}

func TestBuild(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	var out bytes.Buffer
	deps := Deps{Stdout: &out, StateDir: dir}
	n, err := Build(crier.NotifierConfig{Name: "log", Type: "jsonl", Options: map[string]string{"path": "x/log.jsonl"}}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.(*JSONL).Path(); got != filepath.Join(dir, "x", "log.jsonl") {
		t.Errorf("jsonl path %s, want it under the state dir", got)
	}
	abs := filepath.Join(t.TempDir(), "abs.jsonl")
	n, _ = Build(crier.NotifierConfig{Name: "a", Type: "jsonl", Options: map[string]string{"path": abs}}, deps)
	if got := n.(*JSONL).Path(); got != abs {
		t.Errorf("absolute jsonl path became %s", got)
	}
	n, err = Build(crier.NotifierConfig{Name: "tty", Type: "console"}, deps)
	if err != nil {
		t.Fatal(err)
	}
	if err := n.Send(context.Background(), sampleItem()); err != nil || !strings.Contains(out.String(), "Go 1.26 is released") {
		t.Errorf("console built without Deps.Stdout: %v %q", err, out.String())
	}
	if _, err := Build(crier.NotifierConfig{Name: "p", Type: "pushover"}, deps); err == nil {
		t.Error("pushover without token built")
	}
	_, err = Build(crier.NotifierConfig{Name: "x", Type: "pigeon"}, deps)
	if err == nil || err.Error() != "notifier x: type pigeon is not supported yet" {
		t.Errorf("unknown type: %v", err)
	}
}
