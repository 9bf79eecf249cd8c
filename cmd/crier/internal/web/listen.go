package web

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// shutdownGrace bounds how long requests in flight may finish at shutdown.
const shutdownGrace = 5 * time.Second

// Listen binds addr at once, so that a bad address or a port in use fails
// the daemon's start rather than a goroutine later. addr is "host:port" or
// "unix:/path/to.sock". The returned serve serves h until ctx ends, then
// shuts down gracefully (bounded), removes a unix socket it created and
// returns; it must be called exactly once. Requests that came in on a
// loopback address or the unix socket may change state without a token.
func Listen(ctx context.Context, addr string, h http.Handler, log *slog.Logger) (serve func() error, err error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	ln, kind, cleanup, err := listen(ctx, addr)
	if err != nil {
		return nil, err
	}
	log.Info("status listener up", "addr", ln.Addr().String(), "unauthenticated_writes", kind != listenerRemote)
	// Requests run under base, which ends when shutdown starts, so that a
	// long manual poll does not hold the daemon's exit.
	base, cancelBase := context.WithCancel(withListener(context.WithoutCancel(ctx), kind))
	srv := &http.Server{
		Handler:           h,
		BaseContext:       func(net.Listener) context.Context { return base },
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	serve = func() error {
		defer cleanup()
		defer cancelBase()
		done := make(chan error, 1)
		go func() { done <- srv.Serve(ln) }()
		select {
		case err := <-done:
			return fmt.Errorf("status listener %s: %w", addr, err)
		case <-ctx.Done():
		}
		cancelBase()
		sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			log.Warn("status listener: requests still running at shutdown; closing them", "err", err)
			_ = srv.Close()
		}
		if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("status listener %s: %w", addr, err)
		}
		return nil
	}
	return serve, nil
}

func listen(ctx context.Context, addr string) (net.Listener, listenerKind, func(), error) {
	var lc net.ListenConfig
	if path, ok := strings.CutPrefix(addr, "unix:"); ok {
		if path == "" {
			return nil, 0, nil, fmt.Errorf("status listener %q: no socket path after unix:", addr)
		}
		if err := removeStaleSocket(ctx, path); err != nil {
			return nil, 0, nil, fmt.Errorf("status listener %s: %w", addr, err)
		}
		ln, err := lc.Listen(ctx, "unix", path)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("status listener %s: %w", addr, err)
		}
		// Anyone who can connect may change state without a token: the
		// socket's owner and group only.
		if err := os.Chmod(path, 0o660); err != nil {
			_ = ln.Close()
			return nil, 0, nil, fmt.Errorf("status listener %s: %w", addr, err)
		}
		cleanup := func() {
			_ = ln.Close() // unlinks the socket too; the Remove makes sure
			_ = os.Remove(path)
		}
		return ln, listenerUnix, cleanup, nil
	}
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, 0, nil, fmt.Errorf("status listener %s: %w", addr, err)
	}
	kind := listenerRemote
	if ta, ok := ln.Addr().(*net.TCPAddr); ok && ta.IP.IsLoopback() {
		kind = listenerLoopback
	}
	return ln, kind, func() { _ = ln.Close() }, nil
}

// removeStaleSocket removes a socket file left by a crier that died, but
// never a live socket (another crier) nor anything that is not a socket.
func removeStaleSocket(ctx context.Context, path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if fi.Mode().Type() != fs.ModeSocket {
		return fmt.Errorf("%s exists and is not a socket; not touching it", path)
	}
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	var d net.Dialer
	if c, err := d.DialContext(dctx, "unix", path); err == nil {
		_ = c.Close()
		return fmt.Errorf("%s is in use by another process", path)
	}
	return os.Remove(path)
}
