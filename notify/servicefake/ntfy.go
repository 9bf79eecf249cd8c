package servicefake

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"sync"
	"time"
)

// Ntfy credentials the fake accepts when auth is on.
const (
	NtfyToken    = "tk_AgQdq7mVBoFD37zQVN29RhuMzNIz2"
	NtfyUser     = "phil"
	NtfyPassword = "mypass"
)

// NtfyMaxMessage is the server's message limit in bytes; a longer message
// would be turned into an attachment, which the fake refuses instead.
const NtfyMaxMessage = 4096

var ntfyTopicRe = regexp.MustCompile(`^[-_A-Za-z0-9]{1,64}$`)

// NtfyMessage is one accepted publish.
type NtfyMessage struct {
	Topic    string   `json:"topic"`
	Title    string   `json:"title"`
	Message  string   `json:"message"`
	Click    string   `json:"click"`
	Priority int      `json:"priority"`
	Tags     []string `json:"tags"`
	Markdown bool     `json:"markdown"`
	// Attach is the URL of an external attachment ("attach").
	Attach string `json:"attach"`

	Auth string `json:"-"` // "bearer", "basic" or ""
}

// Ntfy is a fake ntfy server taking JSON publishes (POST/PUT to "/").
type Ntfy struct {
	base
	auth bool // require NtfyToken or NtfyUser/NtfyPassword

	mu   sync.Mutex
	msgs []NtfyMessage
}

// NewNtfy starts a fake ntfy server; with auth, publishing needs the
// token or the user and password above.
func NewNtfy(auth bool) *Ntfy {
	f := &Ntfy{auth: auth}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Messages returns the accepted messages.
func (f *Ntfy) Messages() []NtfyMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]NtfyMessage(nil), f.msgs...)
}

// ntfyError writes ntfy's error form: {"code":40001,"http":400,"error":…}.
func ntfyError(w http.ResponseWriter, status, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"code": code, "http": status, "error": msg, "link": "https://ntfy.sh/docs/publish/"})
	writeJSONBytes(w, status, b)
}

func (f *Ntfy) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		msg := fault.Message
		if msg == "" {
			msg = http.StatusText(fault.Status)
			if fault.Status == http.StatusTooManyRequests {
				msg = "limit reached: too many requests; increase your limits with a paid plan"
			}
		}
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
		}
		ntfyError(w, fault.Status, fault.Status*100+1, msg)
		return
	}
	if (r.Method != http.MethodPost && r.Method != http.MethodPut) || r.URL.Path != "/" {
		ntfyError(w, http.StatusNotFound, 40401, f.reject("page not found: %s %s (JSON publishing goes to the root)", r.Method, r.URL.Path))
		return
	}
	m := NtfyMessage{}
	if f.auth {
		if u, p, ok := r.BasicAuth(); ok && u == NtfyUser && p == NtfyPassword {
			m.Auth = "basic"
		} else if r.Header.Get("Authorization") == "Bearer "+NtfyToken {
			m.Auth = "bearer"
		} else {
			ntfyError(w, http.StatusUnauthorized, 40101, f.reject("unauthorized"))
			return
		}
	}
	var in struct {
		NtfyMessage
		Priority *int `json:"priority"`
	}
	body, err := readBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		ntfyError(w, http.StatusBadRequest, 40017, f.reject("invalid request: request body must be message JSON: %v", err))
		return
	}
	in.NtfyMessage.Auth = m.Auth
	m = in.NtfyMessage
	switch {
	case !ntfyTopicRe.MatchString(m.Topic):
		ntfyError(w, http.StatusBadRequest, 40009, f.reject("invalid request: topic %q invalid", m.Topic))
		return
	case in.Priority != nil && (*in.Priority < 0 || *in.Priority > 5):
		ntfyError(w, http.StatusBadRequest, 40007, f.reject("invalid priority %d", *in.Priority))
		return
	case m.Attach != "" && !isHTTPURL(m.Attach):
		ntfyError(w, http.StatusBadRequest, 40013, f.reject("invalid request: attachment URL %q is invalid", m.Attach))
		return
	case len(m.Message) > NtfyMaxMessage:
		ntfyError(w, http.StatusRequestEntityTooLarge, 41301, f.reject("message too large: %d bytes", len(m.Message)))
		return
	}
	if in.Priority != nil {
		m.Priority = *in.Priority
	}
	if m.Priority == 0 {
		m.Priority = 3
	}
	if m.Message == "" {
		m.Message = "triggered"
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	n := len(f.msgs)
	f.mu.Unlock()
	now := time.Now()
	reply := map[string]any{
		"id": fmt.Sprintf("fake%08d", n), "time": now.Unix(), "expires": now.Add(12 * time.Hour).Unix(),
		"event": "message", "topic": m.Topic, "title": m.Title, "message": m.Message,
		"priority": m.Priority, "tags": m.Tags, "click": m.Click,
	}
	if m.Attach != "" {
		reply["attachment"] = map[string]any{"name": path.Base(m.Attach), "url": m.Attach}
	}
	b, _ := json.Marshal(reply)
	writeJSONBytes(w, http.StatusOK, b)
}

// isHTTPURL is what ntfy accepts as an external attachment: an absolute
// http(s) URL.
func isHTTPURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != ""
}
