package web

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"net"
	"net/http"
	"net/url"
	"strings"
)

// listenerKind says where a request came in. The zero value, remote, is
// what a request looks like when Listen did not mark it: the safe default.
type listenerKind int

const (
	listenerRemote   listenerKind = iota
	listenerLoopback              // a TCP listener bound to a loopback address
	listenerUnix                  // a unix socket
)

type listenerKey struct{}

func withListener(ctx context.Context, k listenerKind) context.Context {
	return context.WithValue(ctx, listenerKey{}, k)
}

func listenerOf(ctx context.Context) listenerKind {
	k, _ := ctx.Value(listenerKey{}).(listenerKind)
	return k
}

// protect runs before every route. A loopback port is reachable from any
// web page the user's browser opens, and with DNS rebinding that page can
// read the answers as its own: the browser then sends the page's host
// name, so on a loopback listener a Host that is not a loopback name is
// refused, unless the request carries the bearer token (a reverse proxy
// that passes its own Host on can send it). Reads are refused too: the
// feed table and dead letters are nobody else's business. nosniff keeps a
// browser from reading JSON or plain text as anything else.
func (h *handler) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Content-Type-Options", "nosniff")
		if msg := h.rebound(r); msg != "" {
			h.log.Warn("web: refused a request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", msg)
			writeJSON(w, http.StatusForbidden, apiError{msg})
			return
		}
		next.ServeHTTP(w, r)
	})
}

// rebound returns why r looks like a DNS-rebinding request, or "".
func (h *handler) rebound(r *http.Request) string {
	if listenerOf(r.Context()) != listenerLoopback || loopbackHost(r.Host) {
		return ""
	}
	if auth := r.Header.Get("Authorization"); auth != "" && h.opt.Token != "" && tokenMatches(auth, h.opt.Token) {
		return ""
	}
	return "Host " + r.Host + " is not a loopback name (DNS rebinding?): use 127.0.0.1, [::1] or localhost, " +
		"or send \"Authorization: Bearer <token>\" (the token in http.token_file)"
}

// guard lets a state-changing call (or a private read: the backup, crier's
// own feeds) through only from a loopback or unix-socket listener, or with
// the bearer token.
func (h *handler) guard(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if msg := h.forbidden(r); msg != "" {
			h.log.Warn("web: refused a call that needs loopback or the token", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", msg)
			writeJSON(w, http.StatusForbidden, apiError{msg})
			return
		}
		next(w, r)
	}
}

// forbidden returns why r may not change state, or "" if it may.
func (h *handler) forbidden(r *http.Request) string {
	if auth := r.Header.Get("Authorization"); auth != "" {
		if h.opt.Token == "" {
			return "no API token is configured (http.token_file); state-changing calls are only allowed on a loopback or unix-socket listener"
		}
		if !tokenMatches(auth, h.opt.Token) {
			return "wrong bearer token"
		}
		return ""
	}
	switch listenerOf(r.Context()) {
	case listenerUnix:
		return ""
	case listenerLoopback:
		// A loopback port is reachable from any web page the user's
		// browser opens; refuse what only a browser on someone else's
		// behalf would send.
		if !loopbackHost(r.Host) {
			return "Host " + r.Host + " is not a loopback name (DNS rebinding?)"
		}
		if o := r.Header.Get("Origin"); o != "" && !sameOrigin(o, r.Host) {
			return "cross-origin request from " + o
		}
		if r.Header.Get("Sec-Fetch-Site") == "cross-site" {
			return "cross-site request"
		}
		return ""
	}
	if h.opt.Token == "" {
		return "state-changing calls are only allowed on a loopback or unix-socket listener; set http.token_file to allow them elsewhere with \"Authorization: Bearer <token>\""
	}
	return "this call needs \"Authorization: Bearer <token>\" (the token in http.token_file)"
}

// tokenMatches compares in constant time; hashing first hides the length.
func tokenMatches(header, token string) bool {
	scheme, got, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return false
	}
	a := sha256.Sum256([]byte(strings.TrimSpace(got)))
	b := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

func loopbackHost(hostport string) bool {
	host := hostport
	if h, _, err := net.SplitHostPort(hostport); err == nil {
		host = h
	}
	host = strings.Trim(host, "[]")
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func sameOrigin(origin, host string) bool {
	u, err := url.Parse(origin)
	return err == nil && strings.EqualFold(u.Host, host)
}
