package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// healthServer answers /healthz as the daemon's listener does: 200 "ok", or
// 503 with the reason.
func healthServer(t *testing.T, ln net.Listener, reason string) string {
	t.Helper()
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" || r.Method != http.MethodGet {
			http.NotFound(w, r)
			return
		}
		if reason != "" {
			http.Error(w, reason, http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ok\n"))
	}))
	if ln != nil {
		srv.Listener.Close()
		srv.Listener = ln
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// TestHealthz is the container image's HEALTHCHECK: there is no shell or
// curl in it, so the binary asks its own listener.
func TestHealthz(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	healthy := healthServer(t, nil, "")
	stalled := healthServer(t, nil, "scheduler has not run for 12m")
	_, port, _ := net.SplitHostPort(healthy)
	sock := filepath.Join(dir, "http.sock")
	unixLn, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	healthServer(t, unixLn, "")
	config := func(listen string) string {
		path := filepath.Join(dir, strings.NewReplacer(":", "_", "/", "_", "[", "", "]", "").Replace(listen)+".yaml")
		text := "state_dir: " + dir + "\nnotifiers:\n  - {type: console}\n"
		if listen != "" {
			text += "http:\n  listen: " + listen + "\n"
		}
		writeConfig(t, path, text)
		return path
	}
	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantOut  string // in stdout (exit 0) or stderr
	}{
		{"url healthy", []string{"--url", "http://" + healthy + "/healthz"}, 0, "ok"},
		{"url stalled", []string{"--url", "http://" + stalled + "/healthz"}, 1, "HTTP 503: scheduler has not run for 12m"},
		{"listener from the config", []string{"--config", config(healthy)}, 0, "ok"},
		{"wildcard listener is asked on loopback", []string{"--config", config("0.0.0.0:" + port)}, 0, "ok"},
		{"port-only listener is asked on loopback", []string{"--config", config(":" + port)}, 0, "ok"},
		{"unix socket listener", []string{"--config", config("unix:" + sock)}, 0, "ok"},
		{"stalled daemon from the config", []string{"--config", config(stalled)}, 1, "scheduler has not run"},
		{"no listener configured", []string{"--config", config("")}, 1, "http.listen"},
		{"nothing listening", []string{"--config", config(freeAddr(t))}, 1, "connect"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out, errOut := runCLI(nil, append([]string{"healthz"}, tt.args...)...)
			got := errOut
			if tt.wantCode == 0 {
				got = out
			}
			if code != tt.wantCode || !strings.Contains(got, tt.wantOut) {
				t.Errorf("exit %d, stdout %q, stderr %q; want exit %d and %q", code, out, errOut, tt.wantCode, tt.wantOut)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "crier.db")); !os.IsNotExist(err) {
		t.Errorf("healthz touched the store: %v", err)
	}
}
