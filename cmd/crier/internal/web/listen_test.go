package web

import (
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startListen runs Listen and its serve, returning how to stop it and wait.
func startListen(t *testing.T, addr string, h http.Handler) (logs *syncBuffer, stop func() error) {
	t.Helper()
	logs = &syncBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	serveFn, err := Listen(ctx, addr, h, slog.New(slog.NewTextHandler(logs, nil)))
	if err != nil {
		cancel()
		t.Fatalf("Listen(%s): %v", addr, err)
	}
	done := make(chan error, 1)
	go func() { done <- serveFn() }()
	stopped := false
	stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(shutdownGrace + 5*time.Second):
			t.Fatal("serve did not return after its context ended")
			return nil
		}
	}
	t.Cleanup(func() { _ = stop() })
	return logs, stop
}

func TestListenUnixSocket(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	sock := filepath.Join(t.TempDir(), "crier.sock")
	_, stop := startListen(t, "unix:"+sock, f.handler(""))

	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
	}}
	post := func(path, body string) (int, string) {
		resp, err := client.Post("http://crier"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	// The unix socket is trusted like loopback: no token needed.
	if code, body := post("/api/redeliver", `{"all":true}`); code != 200 || !strings.Contains(body, `"redelivered": 1`) {
		t.Errorf("redeliver over the socket: %d %s", code, body)
	}
	if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o660 {
		t.Errorf("socket %v %v, want mode 0660", fi, err)
	}

	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := os.Lstat(sock); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("socket left behind after shutdown: %v", err)
	}
}

func TestListenLoopbackTCP(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	logs, stop := startListen(t, "127.0.0.1:0", f.handler(""))
	m := regexp.MustCompile(`addr=(127\.0\.0\.1:\d+)`).FindStringSubmatch(logs.String())
	if m == nil {
		t.Fatalf("no address logged: %s", logs)
	}
	url := "http://" + m[1]
	if r := do(t, "GET", url+"/healthz", "", nil); r.code != 200 {
		t.Errorf("healthz: %d", r.code)
	}
	if r := do(t, "POST", url+"/api/redeliver", `{"all":true}`, nil); r.code != 200 {
		t.Errorf("loopback listener refused a local write: %d %s", r.code, r.body)
	}
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if _, err := net.DialTimeout("tcp", m[1], time.Second); err == nil {
		t.Error("still listening after shutdown")
	}
}

func TestListenShutdownCancelsSlowPoll(t *testing.T) {
	t.Parallel()
	started := make(chan struct{})
	d := &fakeDaemon{healthy: true, feeds: []crier.Feed{feed("good", "https://good.example/feed")}}
	d.poll = func(ctx context.Context, name string) (feeds.Result, error) {
		close(started)
		<-ctx.Done()
		return feeds.Result{}, ctx.Err()
	}
	sock := filepath.Join(t.TempDir(), "s.sock")
	_, stop := startListen(t, "unix:"+sock, NewHandler(Options{Store: openStore(t, nil), Daemon: d}))
	client := &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var dl net.Dialer
			return dl.DialContext(ctx, "unix", sock)
		},
	}}
	go func() {
		resp, err := client.Post("http://crier/api/poll?feed=good", "", nil)
		if err == nil {
			resp.Body.Close()
		}
	}()
	<-started
	begin := time.Now()
	if err := stop(); err != nil {
		t.Fatalf("serve: %v", err)
	}
	if took := time.Since(begin); took > 2*time.Second {
		t.Errorf("shutdown waited %v for a poll in flight; it should cancel it", took)
	}
}

func TestListenErrors(t *testing.T) {
	t.Parallel()
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	notSocket := filepath.Join(dir, "file")
	if err := os.WriteFile(notSocket, []byte("keep me"), 0o600); err != nil {
		t.Fatal(err)
	}
	live := filepath.Join(dir, "live.sock")
	liveLn, err := net.Listen("unix", live)
	if err != nil {
		t.Fatal(err)
	}
	defer liveLn.Close()

	for _, tc := range []struct{ addr, want string }{
		{busy.Addr().String(), "address already in use"},
		{"unix:", "no socket path"},
		{"unix:" + notSocket, "not a socket"},
		{"unix:" + live, "in use by another process"},
		{"127.0.0.1:notaport", "127.0.0.1:notaport"},
	} {
		_, err := Listen(context.Background(), tc.addr, http.NotFoundHandler(), nil)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Listen(%q): %v, want an error mentioning %q", tc.addr, err, tc.want)
		}
	}
	if b, _ := os.ReadFile(notSocket); string(b) != "keep me" {
		t.Error("a file that is not a socket was touched")
	}
}

func TestListenRemovesStaleSocket(t *testing.T) {
	t.Parallel()
	sock := filepath.Join(t.TempDir(), "stale.sock")
	// A socket file nobody listens on, as a killed crier leaves it.
	ln, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	ln.SetUnlinkOnClose(false)
	ln.Close()
	_, stop := startListen(t, "unix:"+sock, http.NotFoundHandler())
	if err := stop(); err != nil {
		t.Fatal(err)
	}
}
