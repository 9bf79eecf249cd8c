package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// memBus is a config generation kept in memory, as the database keeps it.
type memBus struct {
	mu           sync.Mutex
	gen          int64
	hash, worker string
	err          error
}

func (b *memBus) PublishConfig(_ context.Context, worker, hash string) (int64, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.gen++
	b.hash, b.worker = hash, worker
	return b.gen, nil
}

func (b *memBus) ConfigGeneration(context.Context) (int64, string, string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.gen, b.hash, b.worker, b.err
}

func (b *memBus) fail(err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.err = err
}

// A generation published after the watcher started reaches it once; the
// one it started with, and a database that fails for a while, do not.
func TestWatchConfigGenerations(t *testing.T) {
	t.Parallel()
	bus := &memBus{}
	start, _ := bus.PublishConfig(t.Context(), "a", "h1")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	out := make(chan publishedConfig)
	done := make(chan struct{})
	go func() {
		defer close(done)
		watchConfigGenerations(ctx, bus, start, time.Millisecond, slog.New(slog.DiscardHandler), out)
	}()
	select {
	case p := <-out:
		t.Fatalf("the generation in force at start was announced: %+v", p)
	case <-time.After(20 * time.Millisecond):
	}
	bus.fail(errors.New("connection refused"))
	time.Sleep(5 * time.Millisecond)
	bus.fail(nil)
	bus.PublishConfig(t.Context(), "b", "h2")
	select {
	case p := <-out:
		if p.gen != 2 || p.worker != "b" || p.hash != "h2" {
			t.Fatalf("announced %+v, want generation 2 by b with h2", p)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a new generation was never announced")
	}
	select {
	case p := <-out:
		t.Fatalf("generation announced twice: %+v", p)
	case <-time.After(20 * time.Millisecond):
	}
	cancel()
	<-done
}

// A worker that reloads because another did warns when its own copy of
// the file is not the one the other worker loaded.
func TestConfigHashComparesContent(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, b := filepath.Join(dir, "a.yaml"), filepath.Join(dir, "b.yaml")
	os.WriteFile(a, []byte("feeds: []\n"), 0o600)
	os.WriteFile(b, []byte("feeds: []\n"), 0o600)
	ha, _ := configHash(a)
	hb, _ := configHash(b)
	if ha != hb || ha == "" {
		t.Fatalf("same content hashes %q and %q", ha, hb)
	}
	os.WriteFile(b, []byte("feeds: [] # edited\n"), 0o600)
	if hb, _ = configHash(b); hb == ha {
		t.Fatal("an edited file hashes the same")
	}
}

// The send timeout fits a third of a short lease, so the dispatcher never
// stretches the lease and a dead worker's notifiers move within it.
func TestSendTimeoutFitsTheLease(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		lease, want time.Duration
	}{
		{0, 0}, // bbolt: the dispatcher's default
		{crier.DefaultLease, 30 * time.Second},
		{10 * time.Second, 10 * time.Second * 4 / 15},
		{time.Minute, 16 * time.Second},
	} {
		cfg := &crier.Config{}
		if tc.lease > 0 {
			cfg.Store.Postgres = &crier.PostgresConfig{Lease: tc.lease}
		}
		d := &daemon{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
		got := d.sendTimeout()
		if got != tc.want {
			t.Errorf("lease %s: send timeout %s, want %s", tc.lease, got, tc.want)
		}
		// The dispatcher's rule: 3 × (send + its grace) must fit the lease.
		if grace := min(max(got/4, 10*time.Millisecond), 2*time.Second); tc.lease > 0 && 3*(got+grace) > tc.lease {
			t.Errorf("lease %s: sends of %s (grace %s) do not fit a third of it", tc.lease, got, grace)
		}
	}
}
