package servicefake

import (
	"io"
	"net/http"
	"sync"
)

// Request is one request a Webhook receiver accepted.
type Request struct {
	Method string
	Path   string
	Header http.Header
	Body   []byte
}

// Webhook is a generic HTTP receiver: it accepts any request with 204
// (or Status, when set before use) and records it.
type Webhook struct {
	base
	// Status answers accepted requests; 0 means 204.
	Status int

	mu   sync.Mutex
	reqs []Request
}

// NewWebhook starts a receiver.
func NewWebhook() *Webhook {
	f := &Webhook{}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Received returns the accepted requests.
func (f *Webhook) Received() []Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Request(nil), f.reqs...)
}

func (f *Webhook) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
		}
		http.Error(w, fault.Message, fault.Status)
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1<<20))
	if err != nil {
		http.Error(w, f.reject("reading body: %v", err), http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.reqs = append(f.reqs, Request{Method: r.Method, Path: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body})
	status := f.Status
	f.mu.Unlock()
	if status == 0 {
		status = http.StatusNoContent
	}
	w.WriteHeader(status)
}
