package feeds

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// Defaults for FetchOptions fields left zero.
const (
	DefaultMaxBody      = 10 << 20
	DefaultPerHost      = 2
	DefaultMaxRedirects = 5

	presizeMax = 1 << 20
)

// feedAccept asks for feeds first, then anything (some servers answer 406
// to a strict Accept).
const feedAccept = "application/rss+xml, application/atom+xml, application/feed+json, " +
	"application/rdf+xml;q=0.9, application/json;q=0.9, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.8"

// FetchOptions tunes a Fetcher. Zero fields take the defaults above.
type FetchOptions struct {
	MaxBody      int64 // cap on the body as delivered and after gzip decompression
	UserAgent    string
	PerHost      int // concurrent fetches per host
	MaxRedirects int
}

// Validators are the conditional-request headers remembered from the last
// successful fetch.
type Validators struct{ ETag, LastModified string }

// FetchResult is one completed HTTP exchange (2xx or 304).
type FetchResult struct {
	Status                          int
	NotModified                     bool   // 304
	Body                            []byte // decoded (gunzipped) body, nil on 304
	BodyHash                        string // hex SHA-256 of Body
	ETag, LastModified, ContentType string
	FinalURL                        string // after redirects
	// MovedTo is set when the chain began with 301/308: the location after
	// the leading run of permanent redirects.
	MovedTo    string
	RetryAfter time.Duration // from Retry-After, when a 2xx/304 carried one
	MaxAge     time.Duration // Cache-Control max-age
	Links      []string      // Link header values (WebSub discovery)
}

// Fetcher performs conditional GETs of feeds with size caps, manual gzip
// decoding and a per-host concurrency limit. It is safe for concurrent use.
type Fetcher struct {
	client *http.Client
	opt    FetchOptions

	mu    sync.Mutex
	hosts map[string]chan struct{} // per-host semaphores
}

// NewFetcher returns a Fetcher using client (a copy of it: its redirect
// policy is replaced), or its own client when client is nil. The deadline of
// each fetch is the ctx given to Fetch; the client should have no Timeout.
func NewFetcher(client *http.Client, opt FetchOptions) *Fetcher {
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.PerHost <= 0 {
		opt.PerHost = DefaultPerHost
	}
	if opt.MaxRedirects <= 0 {
		opt.MaxRedirects = DefaultMaxRedirects
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "crier/" + crier.Version + " (+" + crier.ProjectURL + ")"
	}
	var c http.Client
	if client != nil {
		c = *client
	} else {
		c.Transport = newFeedTransport(opt.PerHost)
	}
	f := &Fetcher{opt: opt, hosts: map[string]chan struct{}{}}
	c.CheckRedirect = f.checkRedirect
	f.client = &c
	return f
}

// newFeedTransport is http.DefaultTransport's setup with compression
// disabled, so gzip is decoded here under the body cap, and with bounds on
// what a hostile server can make us hold.
func newFeedTransport(perHost int) *http.Transport {
	return &http.Transport{
		Proxy: http.ProxyFromEnvironment,
		DialContext: (&net.Dialer{
			Timeout:   30 * time.Second,
			KeepAlive: 30 * time.Second,
		}).DialContext,
		ForceAttemptHTTP2:      true,
		DisableCompression:     true,
		MaxIdleConns:           100,
		MaxIdleConnsPerHost:    perHost,
		IdleConnTimeout:        90 * time.Second,
		TLSHandshakeTimeout:    10 * time.Second,
		ExpectContinueTimeout:  1 * time.Second,
		MaxResponseHeaderBytes: 64 << 10,
	}
}

// Fetch GETs rawURL with v's validators. It returns a result for 2xx and
// 304, an *HTTPError for any other status, and an error naming the URL for
// everything else (transport failure, deadline, body cap, redirects).
func (f *Fetcher) Fetch(ctx context.Context, rawURL string, v Validators) (*FetchResult, error) {
	shown := crier.RedactURL(rawURL) // errors name the URL without its credentials
	u, err := url.Parse(rawURL)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("fetch %s: not an http(s) URL", shown)
	}
	release, err := f.acquire(ctx, u.Host)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: waiting for a slot for host %s: %w", shown, u.Host, err)
	}
	defer release()

	rs := &redirectState{}
	req, err := http.NewRequestWithContext(context.WithValue(ctx, redirectKey{}, rs), http.MethodGet, rawURL, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, err)
	}
	req.Header.Set("User-Agent", f.opt.UserAgent)
	req.Header.Set("Accept", feedAccept)
	req.Header.Set("Accept-Encoding", "gzip")
	if v.ETag != "" {
		req.Header.Set("If-None-Match", v.ETag)
	}
	if v.LastModified != "" {
		req.Header.Set("If-Modified-Since", v.LastModified)
	}
	resp, err := f.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, unwrapURLError(err))
	}
	defer resp.Body.Close()

	res := &FetchResult{
		Status:       resp.StatusCode,
		ETag:         resp.Header.Get("ETag"),
		LastModified: resp.Header.Get("Last-Modified"),
		ContentType:  resp.Header.Get("Content-Type"),
		FinalURL:     resp.Request.URL.String(),
		MovedTo:      rs.movedTo,
		RetryAfter:   parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
		MaxAge:       parseMaxAge(resp.Header.Get("Cache-Control")),
		Links:        resp.Header.Values("Link"),
	}
	switch {
	case resp.StatusCode == http.StatusNotModified:
		res.NotModified = true
		drain(resp.Body)
		return res, nil
	case resp.StatusCode < 200 || resp.StatusCode > 299:
		drain(resp.Body)
		return nil, &HTTPError{Status: resp.StatusCode, RetryAfter: res.RetryAfter, URL: rawURL}
	}
	body, err := f.readBody(resp)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", shown, err)
	}
	res.Body = body
	sum := sha256.Sum256(body)
	res.BodyHash = hex.EncodeToString(sum[:])
	return res, nil
}

// readBody reads the body under the cap, gunzipping it when the server says
// so or when it starts with the gzip magic bytes anyway; the decompressed
// size is capped too.
func (f *Fetcher) readBody(resp *http.Response) ([]byte, error) {
	br := bufio.NewReader(&capReader{r: resp.Body, left: f.opt.MaxBody, max: f.opt.MaxBody})
	magic, _ := br.Peek(2)
	if !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		// Also when Content-Encoding claims gzip: a proxy may have decoded
		// it already, and the bytes are what count.
		b, err := readAllSized(br, resp.ContentLength, f.opt.MaxBody)
		if err != nil {
			return nil, fmt.Errorf("reading body: %w", err)
		}
		return b, nil
	}
	zr, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("gzip body: %w", err)
	}
	defer zr.Close()
	b, err := io.ReadAll(&capReader{r: zr, left: f.opt.MaxBody, max: f.opt.MaxBody, decompressed: true})
	if err != nil {
		return nil, fmt.Errorf("reading gzip body: %w", err)
	}
	return b, nil
}

// readAllSized is io.ReadAll into one allocation of the announced size:
// io.ReadAll starts at 512 bytes and reallocates its way up, about three
// times a feed's size in garbage. A wrong or absent size only costs growth;
// the first allocation is at most presizeMax, so that a server announcing
// a size it never sends makes us reserve little.
func readAllSized(r io.Reader, size, max int64) ([]byte, error) {
	if size <= 0 || size > max {
		return io.ReadAll(r)
	}
	size = min(size, presizeMax)
	b := make([]byte, 0, size+1) // +1: EOF arrives without a reallocation
	for {
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
	}
}

// acquire takes one of the host's PerHost slots, or gives up with ctx.
func (f *Fetcher) acquire(ctx context.Context, host string) (func(), error) {
	host = strings.ToLower(host)
	f.mu.Lock()
	sem, ok := f.hosts[host]
	if !ok {
		sem = make(chan struct{}, f.opt.PerHost)
		f.hosts[host] = sem
	}
	f.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

type redirectKey struct{}

// redirectState follows one Fetch through its redirects.
type redirectState struct {
	movedTo  string
	onlyPerm bool // every hop so far was permanent
}

func (f *Fetcher) checkRedirect(req *http.Request, via []*http.Request) error {
	for _, prev := range via {
		if prev.URL.String() == req.URL.String() {
			return fmt.Errorf("%w: %s leads back to %s", ErrRedirectLoop, via[len(via)-1].URL, req.URL)
		}
	}
	if len(via) > f.opt.MaxRedirects {
		return fmt.Errorf("%w: stopped after %d redirects (at %s)", ErrTooManyRedirects, f.opt.MaxRedirects, req.URL)
	}
	rs, _ := req.Context().Value(redirectKey{}).(*redirectState)
	if rs == nil || req.Response == nil {
		return nil
	}
	perm := req.Response.StatusCode == http.StatusMovedPermanently || req.Response.StatusCode == http.StatusPermanentRedirect
	if len(via) == 1 {
		rs.onlyPerm = perm
	}
	if perm && rs.onlyPerm {
		rs.movedTo = req.URL.String()
	} else {
		rs.onlyPerm = false
	}
	return nil
}

// unwrapURLError drops *url.Error's "Get "<url>": " prefix, since the
// caller names the URL itself; the cause stays reachable with errors.Is.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// drain reads a little of an unwanted body so the connection can be reused.
func drain(r io.Reader) {
	_, _ = io.Copy(io.Discard, io.LimitReader(r, 64<<10))
}
