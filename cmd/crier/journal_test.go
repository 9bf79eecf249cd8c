package main

import (
	"context"
	"log/slog"
	"strings"
	"sync"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
)

// recordingHandler keeps every log record, for tests that count them.
type recordingHandler struct {
	mu      *sync.Mutex
	records *[]slog.Record
}

func newRecordingHandler() recordingHandler {
	return recordingHandler{mu: &sync.Mutex{}, records: &[]slog.Record{}}
}

func (h recordingHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h recordingHandler) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h recordingHandler) WithGroup(string) slog.Handler            { return h }
func (h recordingHandler) Handle(_ context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	*h.records = append(*h.records, r.Clone())
	return nil
}

// matching returns the records whose message contains s.
func (h recordingHandler) matching(s string) []slog.Record {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []slog.Record
	for _, r := range *h.records {
		if strings.Contains(r.Message, s) {
			out = append(out, r)
		}
	}
	return out
}

func attr(r slog.Record, key string) slog.Value {
	var v slog.Value
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value
			return false
		}
		return true
	})
	return v
}

// TestEventsAreLoggedOnce runs the daemon with a listener and two
// notifiers over a feed whose first poll announces 2 items: the listener
// is logged once, and "feed seeded" counts the 2 items, not the 4
// notifications they make.
func TestEventsAreLoggedOnce(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	feed := newTestFeed(t, "rss", 3)
	h := newHarness(t, push, map[string]*testFeed{"News": feed})
	h.edit("defaults:\n", "http:\n  listen: "+freeAddr(t)+"\ndefaults:\n  backfill: 2\n")
	h.edit(`schedule: "@every 1m"`, `schedule: "@every 1s"`)
	h.edit("feeds:\n", "  - {name: log, type: jsonl, path: log.jsonl}\nfeeds:\n")

	getenv := func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }
	cfg, err := crier.LoadFile(h.config, crier.LoadOptions{Env: getenv})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecordingHandler()
	log := slog.New(rec)
	d, err := openDaemon(t.Context(), cfg, log, &cliEnv{stdout: &strings.Builder{}, stderr: &strings.Builder{}, getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- d.serve(ctx, newSDNotifier(getenv, log)) }()
	waitPushed(t, push, feed.items[1], feed.items[2])
	resp, err := testClient.Get("http://" + cfg.HTTP.Listen + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	cancel()
	if err := <-served; err != nil {
		t.Fatal(err)
	}

	var listening []string
	for _, r := range rec.matching("") {
		if r.Level == slog.LevelInfo && (strings.Contains(r.Message, "listen") || strings.Contains(r.Message, "status page")) {
			listening = append(listening, r.Message)
		}
	}
	if len(listening) != 1 {
		t.Errorf("the listener was announced %d times: %q", len(listening), listening)
	}
	seeded := rec.matching("feed seeded")
	if len(seeded) != 1 {
		t.Fatalf("%d feed seeded records, want 1", len(seeded))
	}
	if got := attr(seeded[0], "announced"); got.Int64() != 2 {
		t.Errorf("feed seeded announced=%v, want 2 (items, not items × notifiers)", got)
	}
}

// TestReloadRejectsUnbuildableNotifier: a SIGHUP with a notifier that
// cannot be built (a Pushover token of the wrong shape) keeps the running
// config and logs the problem at its file and line, naming it once.
func TestReloadRejectsUnbuildableNotifier(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	h := newHarness(t, push, map[string]*testFeed{"News": newTestFeed(t, "rss", 1)})
	getenv := func(k string) (string, bool) { v, ok := h.env[k]; return v, ok }
	cfg, err := crier.LoadFile(h.config, crier.LoadOptions{Env: getenv})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecordingHandler()
	log := slog.New(rec)
	d, err := openDaemon(t.Context(), cfg, log, &cliEnv{stdout: &strings.Builder{}, stderr: &strings.Builder{}, getenv: getenv})
	if err != nil {
		t.Fatal(err)
	}
	defer d.store.Close()

	h.edit("token: ${PUSHOVER_TOKEN}", "token: too-short")
	d.reload(context.Background(), newSDNotifier(getenv, log))

	if d.config() != cfg {
		t.Error("the reload replaced the running config")
	}
	rejected := rec.matching("config reload rejected")
	if len(rejected) != 1 {
		t.Fatalf("%d rejection records, want 1", len(rejected))
	}
	r := rejected[0]
	problem := attr(r, "problem").String()
	if attr(r, "file").String() != h.config || attr(r, "line").Int64() != 6 || strings.Count(problem, "phone") != 1 {
		t.Errorf("rejection logged as file=%v line=%v problem=%q; want %s, line 6, the notifier named once",
			attr(r, "file"), attr(r, "line"), problem, h.config)
	}
}
