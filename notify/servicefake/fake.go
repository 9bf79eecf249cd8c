// Package servicefake holds loopback stand-ins for the push services crier
// speaks to (ntfy, Gotify, Telegram, Discord, Slack and a generic webhook
// receiver). Each is an httptest server that takes requests in the real
// service's wire format, checks what the real service checks (credentials,
// content type, JSON shape, length limits), records what it accepted, and
// answers errors in the real service's form when told to fail.
//
// Every fake refuses an invalid request the way the service would and
// also records the reason, so a test can assert both that the notifier
// got the error and that nothing was refused by accident (Rejections).
package servicefake

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"strconv"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// Fault is a scripted answer to one request.
type Fault struct {
	Status int // HTTP status to answer with
	// RetryAfter, when > 0, is announced in the service's own form (a
	// Retry-After header, a JSON field, or both).
	RetryAfter time.Duration
	Message    string // error text; a service-typical one when empty
	// Delay holds the answer back (until the client gives up, if sooner).
	// A Delay with Status 200 is a slow success.
	Delay time.Duration
}

// base is what every fake shares: the server, scripted faults and the
// record of refusals.
type base struct {
	srv *httptest.Server

	mu       sync.Mutex
	faults   []Fault
	rejected []string
	requests int
}

func (b *base) start(h http.Handler) {
	b.srv = httptest.NewServer(h)
}

// URL is the server's base URL (http://127.0.0.1:port).
func (b *base) URL() string { return b.srv.URL }

// Client is an HTTP client for the server.
func (b *base) Client() *http.Client { return b.srv.Client() }

// Close shuts the server down.
func (b *base) Close() { b.srv.Close() }

// Fail queues faults: each answers one of the next requests, in order,
// before the request is looked at.
func (b *base) Fail(f ...Fault) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.faults = append(b.faults, f...)
}

// Rejections lists why requests were refused as invalid (faults do not
// count).
func (b *base) Rejections() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.rejected...)
}

// Requests counts requests received, faulted and refused ones included.
func (b *base) Requests() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.requests
}

// next counts a request and pops the next fault, if any, after its
// delay. A fault with status 200 only delays: the request is then served
// normally.
func (b *base) next(r *http.Request) (Fault, bool) {
	b.mu.Lock()
	b.requests++
	if len(b.faults) == 0 {
		b.mu.Unlock()
		return Fault{}, false
	}
	f := b.faults[0]
	b.faults = b.faults[1:]
	b.mu.Unlock()
	if f.Delay > 0 {
		// The server notices a client hanging up only once the body is
		// read, so read it now and hand the handler a copy.
		body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		r.Body = io.NopCloser(bytes.NewReader(body))
		t := time.NewTimer(f.Delay)
		defer t.Stop()
		select {
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	return f, f.Status != http.StatusOK && f.Status != 0
}

func (b *base) reject(format string, args ...any) string {
	msg := fmt.Sprintf(format, args...)
	b.mu.Lock()
	defer b.mu.Unlock()
	b.rejected = append(b.rejected, msg)
	return msg
}

// retrySeconds is d in whole seconds, rounded up, as a header value.
func retrySeconds(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}

// UTF16Len counts s the way JavaScript (and Discord and Telegram) count
// string length: an astral-plane character costs two.
func UTF16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// readBody reads a request body of at most 1 MiB that must be valid
// UTF-8 (JSON services reject anything else).
func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		return nil, err
	}
	if !utf8.Valid(b) {
		return nil, errors.New("body is not valid UTF-8")
	}
	return b, nil
}

func writeJSONBytes(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fetchPicture downloads a picture as the services that fetch one before
// answering (Telegram, Slack) do. Its transport is its own, without
// keep-alives: idle connections in http.DefaultTransport are closed
// whenever any httptest server closes, which breaks unrelated requests in
// parallel tests.
func fetchPicture(req *http.Request) (*http.Response, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return c.Do(req)
}
