package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"
)

// cmdHealthz asks a running daemon's /healthz. It is the container image's
// HEALTHCHECK: a scratch image has no shell or curl, so the binary asks
// its own listener.
func cmdHealthz(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "healthz", "[--config FILE] [--url URL]", "Ask the running daemon's /healthz (on http.listen): exit 0 if it is healthy, 1 if not.")
	url := f.String("url", "", "the health `URL` to ask (default: /healthz on the config's http.listen)")
	timeout := f.Duration("timeout", 5*time.Second, "give up after this long")
	if err := f.Parse(args); err != nil {
		return err
	}
	client := &http.Client{Timeout: *timeout}
	if *url == "" {
		cfg, err := f.loadConfig(env)
		if err != nil {
			return err
		}
		if cfg.HTTP.Listen == "" {
			return &exitError{1, "crier healthz: http.listen is not set in the config, so there is nothing to ask"}
		}
		var base string
		base, client.Transport = listenerClient(cfg.HTTP.Listen)
		*url = base + "/healthz"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return &exitError{1, fmt.Sprintf("crier healthz: %v", err)}
	}
	resp, err := client.Do(req)
	if err != nil {
		return &exitError{1, fmt.Sprintf("crier healthz: %v", err)}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	text := strings.TrimSpace(string(body))
	if resp.StatusCode != http.StatusOK {
		return &exitError{1, fmt.Sprintf("crier healthz: %s: HTTP %d: %s", *url, resp.StatusCode, text)}
	}
	fmt.Fprintln(env.stdout, text)
	return nil
}

// listenerClient is how a client on this machine reaches the daemon's
// http.listen: a unix socket, or a wildcard address (":8080", "0.0.0.0",
// "[::]", as in a container) asked on loopback.
func listenerClient(listen string) (base string, transport http.RoundTripper) {
	if path, ok := strings.CutPrefix(listen, "unix:"); ok {
		return "http://crier", &http.Transport{DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", path)
		}}
	}
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "http://" + listen, &http.Transport{}
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	// A transport of its own, not http.DefaultTransport: a one-shot command
	// needs no shared pool, and in tests other servers closing may not reach it.
	return "http://" + net.JoinHostPort(host, port), &http.Transport{}
}
