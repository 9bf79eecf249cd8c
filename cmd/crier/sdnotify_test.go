package main

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// TestWatchdogOnlyWhileHealthy: a wedged daemon must stop pinging the
// watchdog so that systemd kills and restarts it.
func TestWatchdogOnlyWhileHealthy(t *testing.T) {
	t.Parallel()
	sd, sock := listenSD(t)
	env := map[string]string{"NOTIFY_SOCKET": sock, "WATCHDOG_USEC": "100000"}
	n := newSDNotifier(func(k string) (string, bool) { v, ok := env[k]; return v, ok }, slog.New(slog.DiscardHandler))
	var healthy atomic.Bool
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		n.watchdog(ctx, func(time.Time) (bool, string) {
			if healthy.Load() {
				return true, ""
			}
			return false, "dispatcher silent for 5m0s"
		})
	}()
	if m := sd.await(t, "STATUS=unhealthy", 2*time.Second); !strings.Contains(m, "dispatcher silent") {
		t.Errorf("unhealthy status: %q", m)
	}
	// Several intervals pass without a ping.
	deadline := time.After(400 * time.Millisecond)
wait:
	for {
		select {
		case m := <-sd.msgs:
			if strings.Contains(m, "WATCHDOG=1") {
				t.Fatalf("pinged the watchdog while unhealthy")
			}
		case <-deadline:
			break wait
		}
	}
	healthy.Store(true)
	sd.await(t, "WATCHDOG=1", 2*time.Second)
	cancel()
	<-done
}
