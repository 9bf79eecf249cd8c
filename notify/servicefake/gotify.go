package servicefake

import (
	"encoding/json"
	"mime"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"time"
)

// GotifyToken is the application token the fake accepts.
const GotifyToken = "AbCdEf.GhIjKl1"

// Gotify extras namespaces are "<top>::[<sub>::]<action>".
var gotifyNamespaceRe = regexp.MustCompile(`^[a-z]+::([a-z]+::)?[a-zA-Z]+$`)

// GotifyMessage is one accepted message.
type GotifyMessage struct {
	Title    string                    `json:"title"`
	Message  string                    `json:"message"`
	Priority int                       `json:"priority"`
	Extras   map[string]map[string]any `json:"extras"`
	// TokenVia says how the token came: "header", "query" or "bearer".
	TokenVia string `json:"-"`
}

// ContentType is extras["client::display"]["contentType"], "" if unset.
func (m GotifyMessage) ContentType() string {
	s, _ := m.Extras["client::display"]["contentType"].(string)
	return s
}

// BigImageURL is extras["client::notification"]["bigImageUrl"], the
// picture the Android app shows, "" if unset.
func (m GotifyMessage) BigImageURL() string {
	s, _ := m.Extras["client::notification"]["bigImageUrl"].(string)
	return s
}

// ClickURL is extras["client::notification"]["click"]["url"], "" if unset.
func (m GotifyMessage) ClickURL() string {
	c, _ := m.Extras["client::notification"]["click"].(map[string]any)
	s, _ := c["url"].(string)
	return s
}

// Gotify is a fake Gotify server's message API (POST /message).
type Gotify struct {
	base
	mu   sync.Mutex
	msgs []GotifyMessage
}

// NewGotify starts a fake Gotify server.
func NewGotify() *Gotify {
	f := &Gotify{}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Messages returns the accepted messages.
func (f *Gotify) Messages() []GotifyMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]GotifyMessage(nil), f.msgs...)
}

// gotifyError writes Gotify's error form.
func gotifyError(w http.ResponseWriter, status int, desc string) {
	b, _ := json.Marshal(map[string]any{"error": http.StatusText(status), "errorCode": status, "errorDescription": desc})
	writeJSONBytes(w, status, b)
}

func (f *Gotify) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
		}
		gotifyError(w, fault.Status, fault.Message)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/message" {
		gotifyError(w, http.StatusNotFound, f.reject("no route %s %s", r.Method, r.URL.Path))
		return
	}
	var m GotifyMessage
	switch {
	case r.Header.Get("X-Gotify-Key") == GotifyToken:
		m.TokenVia = "header"
	case r.URL.Query().Get("token") == GotifyToken:
		m.TokenVia = "query"
	case r.Header.Get("Authorization") == "Bearer "+GotifyToken:
		m.TokenVia = "bearer"
	default:
		gotifyError(w, http.StatusUnauthorized, f.reject("you need to provide a valid access token or user credentials to access this api"))
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		// Gin would bind it as a form and find no message.
		gotifyError(w, http.StatusBadRequest, f.reject("Field 'message' is required (content type %q)", mt))
		return
	}
	var in struct {
		Title    string                     `json:"title"`
		Message  *string                    `json:"message"`
		Priority *int                       `json:"priority"`
		Extras   map[string]json.RawMessage `json:"extras"`
	}
	body, err := readBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		gotifyError(w, http.StatusBadRequest, f.reject("invalid JSON: %v", err))
		return
	}
	if in.Message == nil || strings.TrimSpace(*in.Message) == "" {
		gotifyError(w, http.StatusBadRequest, f.reject("Field 'message' is required"))
		return
	}
	m.Title, m.Message = in.Title, *in.Message
	if in.Priority != nil {
		m.Priority = *in.Priority
	}
	m.Extras = map[string]map[string]any{}
	for ns, raw := range in.Extras {
		var v map[string]any
		if !gotifyNamespaceRe.MatchString(ns) || json.Unmarshal(raw, &v) != nil {
			gotifyError(w, http.StatusBadRequest, f.reject("invalid extras namespace %q: want an object under <top>::<action>", ns))
			return
		}
		m.Extras[ns] = v
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	id := len(f.msgs)
	f.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"id": id, "appid": 1, "title": m.Title, "message": m.Message, "priority": m.Priority,
		"extras": m.Extras, "date": time.Now().UTC().Format(time.RFC3339Nano),
	})
	writeJSONBytes(w, http.StatusOK, b)
}
