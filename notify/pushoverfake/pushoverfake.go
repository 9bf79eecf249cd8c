// Package pushoverfake is a loopback stand-in for the Pushover message API
// (POST /1/messages.json). It validates requests the way the real service
// documents them, answers in its JSON shape with its X-Limit-App-* quota
// headers, records what it accepted, and has knobs to make it fail.
//
// Use Endpoint() as a notifier's api_url.
package pushoverfake

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Credentials the fake accepts. Both have the real format: 30 characters
// of [A-Za-z0-9].
const (
	Token = "azGDORePK8gMaC0QOYAMyEEuzJnyUi"
	User  = "uQiRzpo4DXghDmr9QzzfQu27cmVRsG"
)

// DefaultLimit is the monthly message quota the fake starts with (the
// free quota of a real Pushover application).
const DefaultLimit = 10000

// Limits of the real API, in characters (runes).
const (
	MaxMessage  = 1024
	MaxTitle    = 250
	MaxURL      = 512
	MaxURLTitle = 100
	MinRetry    = 30    // seconds, for priority 2
	MaxExpire   = 10800 // seconds, for priority 2
	// MaxAttachment is the attachment limit in bytes ("5 MB").
	MaxAttachment = 5242880
)

var keyRe = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)

// Message is one accepted message, every documented field decoded.
type Message struct {
	Token     string
	User      string
	Message   string
	Title     string
	URL       string
	URLTitle  string
	Priority  int
	Timestamp int64
	Retry     int
	Expire    int
	Sound     string
	Device    string
	HTML      bool
	Monospace bool
	TTL       int
	// Attachment is the image sent as the multipart "attachment" file,
	// with its declared type and file name; nil when there was none.
	Attachment     []byte
	AttachmentType string
	AttachmentName string
	Request        string // the request id the fake answered with
	Received       time.Time
}

// Server is a running fake. It is safe for concurrent use.
type Server struct {
	// URL is the server's base URL (no path), as httptest gives it.
	URL string

	srv  *httptest.Server
	done chan struct{} // closed by Close: releases delayed handlers

	mu        sync.Mutex
	msgs      []Message
	requests  int
	failNext  int
	failNextS int
	failing   int
	limit     int
	remaining int
	reset     time.Time
	refill    bool
	omit      bool
	delay     time.Duration
	closed    bool
}

// New starts a fake on a loopback port.
func New() *Server {
	s := &Server{
		done:      make(chan struct{}),
		limit:     DefaultLimit,
		remaining: DefaultLimit,
		reset:     nextMonth(time.Now()),
	}
	s.srv = httptest.NewServer(http.HandlerFunc(s.handle))
	s.URL = s.srv.URL
	return s
}

// Endpoint is the API base URL, the equivalent of https://api.pushover.net/1.
func (s *Server) Endpoint() string { return s.URL + "/1" }

// Client returns an HTTP client suited to the server.
func (s *Server) Client() *http.Client { return s.srv.Client() }

// Close releases delayed requests and shuts the server down.
func (s *Server) Close() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.closed = true
	close(s.done)
	s.mu.Unlock()
	s.srv.CloseClientConnections()
	s.srv.Close()
}

// Messages returns the accepted messages, oldest first.
func (s *Server) Messages() []Message {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Message(nil), s.msgs...)
}

// Requests counts every request received, accepted or not.
func (s *Server) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

// FailNext answers the next n requests with the given HTTP status before
// looking at them.
func (s *Server) FailNext(n, status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failNext, s.failNextS = n, status
}

// SetFailing answers every request with status until called with 0.
func (s *Server) SetFailing(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failing = status
}

// SetRemaining sets how many messages the quota still allows and when it
// resets to the full limit. At 0 the fake answers 429 like Pushover.
func (s *Server) SetRemaining(n int, reset time.Time) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.remaining, s.reset = n, reset
	if n > s.limit {
		s.limit = n
	}
}

// RefillAtReset makes the quota whole again once the real clock passes
// its reset time, as Pushover does at the start of a month. Off by
// default, so tests with a fake clock control the quota themselves.
func (s *Server) RefillAtReset(on bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.refill = on
}

// SetLimit sets the monthly quota reported in X-Limit-App-Limit.
func (s *Server) SetLimit(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.limit = n
}

// OmitLimitHeaders stops (or resumes) sending the X-Limit-App-* headers,
// which some clients wrongly treat as a failed send.
func (s *Server) OmitLimitHeaders(omit bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.omit = omit
}

// SetDelay makes every request wait d (or until the client gives up, or
// Close) before it is handled: a slow or hanging service.
func (s *Server) SetDelay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

type reply struct {
	Status  int      `json:"status"`
	Request string   `json:"request"`
	Errors  []string `json:"errors,omitempty"`
	Receipt string   `json:"receipt,omitempty"`
}

func (s *Server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.requests++
	delay := s.delay
	s.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-r.Context().Done():
			t.Stop()
			return
		case <-s.done:
			t.Stop()
			return
		}
	}

	if r.URL.Path != "/1/messages.json" {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if status := s.injectedFailure(); status != 0 {
		s.fail(w, status)
		return
	}

	r.Body = http.MaxBytesReader(w, r.Body, MaxAttachment+1<<20)
	if err := r.ParseMultipartForm(8 << 20); err != nil && err != http.ErrNotMultipart {
		s.reject(w, http.StatusBadRequest, "request could not be parsed: "+err.Error())
		return
	}
	f := r.PostForm
	if !keyRe.MatchString(f.Get("token")) || f.Get("token") != Token {
		s.reject(w, http.StatusBadRequest, "application token is invalid")
		return
	}
	if s.refill && !time.Now().Before(s.reset) {
		// A new month: the quota is whole again.
		s.remaining, s.reset = s.limit, nextMonth(time.Now())
	}
	if s.remaining <= 0 {
		s.limitHeaders(w)
		s.reject(w, http.StatusTooManyRequests,
			"application "+Token+" has exceeded its monthly message limit")
		return
	}
	m, errs := parse(f)
	if r.MultipartForm != nil {
		errs = append(errs, attachment(r.MultipartForm, &m)...)
	}
	if len(errs) > 0 {
		s.reject(w, http.StatusBadRequest, errs...)
		return
	}
	m.Request = newUUID()
	m.Received = time.Now()
	s.msgs = append(s.msgs, m)
	s.remaining--
	s.limitHeaders(w)
	rep := reply{Status: 1, Request: m.Request}
	if m.Priority == 2 {
		rep.Receipt = strings.ReplaceAll(newUUID(), "-", "")[:30]
	}
	writeJSON(w, http.StatusOK, rep)
}

// injectedFailure consumes one FailNext or returns SetFailing's status.
func (s *Server) injectedFailure() int {
	if s.failNext > 0 {
		s.failNext--
		return s.failNextS
	}
	return s.failing
}

func (s *Server) fail(w http.ResponseWriter, status int) {
	if status == http.StatusTooManyRequests {
		s.limitHeaders(w)
	}
	if status >= 500 {
		// The real service's front end answers 5xx with HTML, not JSON.
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(status)
		fmt.Fprintf(w, "<html><body><h1>%d %s</h1></body></html>\n", status, http.StatusText(status))
		return
	}
	s.reject(w, status, fmt.Sprintf("injected failure (HTTP %d)", status))
}

func (s *Server) reject(w http.ResponseWriter, status int, errs ...string) {
	writeJSON(w, status, reply{Status: 0, Request: newUUID(), Errors: errs})
}

func (s *Server) limitHeaders(w http.ResponseWriter) {
	if s.omit {
		return
	}
	h := w.Header()
	h.Set("X-Limit-App-Limit", strconv.Itoa(s.limit))
	h.Set("X-Limit-App-Remaining", strconv.Itoa(max(s.remaining, 0)))
	h.Set("X-Limit-App-Reset", strconv.FormatInt(s.reset.Unix(), 10))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type form interface{ Get(string) string }

// parse validates the documented fields and decodes them.
func parse(f form) (Message, []string) {
	var errs []string
	m := Message{
		Token:    f.Get("token"),
		User:     f.Get("user"),
		Message:  f.Get("message"),
		Title:    f.Get("title"),
		URL:      f.Get("url"),
		URLTitle: f.Get("url_title"),
		Sound:    f.Get("sound"),
		Device:   f.Get("device"),
	}
	if !keyRe.MatchString(m.User) || m.User != User {
		errs = append(errs, "user identifier is invalid")
	}
	if strings.TrimSpace(m.Message) == "" {
		errs = append(errs, "message cannot be blank")
	}
	for _, c := range []struct {
		name, v string
		max     int
	}{{"message", m.Message, MaxMessage}, {"title", m.Title, MaxTitle}, {"url", m.URL, MaxURL}, {"url_title", m.URLTitle, MaxURLTitle}} {
		if utf8.RuneCountInString(c.v) > c.max {
			errs = append(errs, fmt.Sprintf("%s is too long, maximum %d characters", c.name, c.max))
		}
		if !utf8.ValidString(c.v) {
			errs = append(errs, c.name+" is not valid UTF-8")
		}
	}
	num := func(name string) int64 {
		v := f.Get(name)
		if v == "" {
			return 0
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			errs = append(errs, name+" is invalid")
		}
		return n
	}
	m.Priority = int(num("priority"))
	m.Timestamp = num("timestamp")
	m.TTL = int(num("ttl"))
	m.HTML = f.Get("html") == "1"
	m.Monospace = f.Get("monospace") == "1"
	if m.Priority < -2 || m.Priority > 2 {
		errs = append(errs, "priority is invalid")
	}
	if m.Priority == 2 {
		m.Retry, m.Expire = int(num("retry")), int(num("expire"))
		if f.Get("retry") == "" || m.Retry < MinRetry {
			errs = append(errs, fmt.Sprintf("retry is invalid, must be at least %d seconds", MinRetry))
		}
		if f.Get("expire") == "" || m.Expire <= 0 || m.Expire > MaxExpire {
			errs = append(errs, fmt.Sprintf("expire is invalid, must be at most %d seconds", MaxExpire))
		}
	}
	if m.HTML && m.Monospace {
		errs = append(errs, "html and monospace cannot be used together")
	}
	return m, errs
}

// attachment reads the "attachment" file of a multipart request the way
// the API documents it: one image of at most MaxAttachment bytes.
func attachment(mf *multipart.Form, m *Message) []string {
	files := mf.File["attachment"]
	if len(files) == 0 {
		return nil
	}
	fh := files[0]
	if fh.Size > MaxAttachment {
		return []string{fmt.Sprintf("attachment is too large, maximum %d bytes", MaxAttachment)}
	}
	ctype := fh.Header.Get("Content-Type")
	if !strings.HasPrefix(ctype, "image/") {
		return []string{"attachment must be an image"}
	}
	file, err := fh.Open()
	if err != nil {
		return []string{"attachment could not be read"}
	}
	defer file.Close()
	data, err := io.ReadAll(file)
	if err != nil {
		return []string{"attachment could not be read"}
	}
	m.Attachment, m.AttachmentType, m.AttachmentName = data, ctype, fh.Filename
	return nil
}

func newUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

func nextMonth(now time.Time) time.Time {
	y, m, _ := now.UTC().Date()
	return time.Date(y, m+1, 1, 0, 0, 0, 0, time.UTC)
}
