// Package hubfake is a WebSub hub for tests. It speaks the subscriber-facing
// half of the W3C WebSub Recommendation (2018) faithfully: it answers
// (un)subscription requests with 202 Accepted and then verifies intent
// asynchronously with a random hub.challenge that the subscriber must echo,
// grants leases, tells the subscriber when it denies a subscription, and
// distributes content with an X-Hub-Signature HMAC of the body keyed by the
// subscriber's hub.secret. It does not fetch topics: tests hand it the
// content to distribute.
package hubfake

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"sync"
	"time"
)

// Sub is a verified subscription.
type Sub struct {
	Topic, Callback, Secret string
	Lease                   time.Duration
	Expires                 time.Time
}

// Event is the outcome of one verification of intent (or denial).
type Event struct {
	Mode     string // subscribe, unsubscribe or denied
	Topic    string
	Callback string
	Verified bool  // the subscriber echoed the challenge with a 2xx
	Status   int   // the subscriber's answer
	Err      error // the request failed
}

// Options tune a Hub; the zero value is a spec-typical hub.
type Options struct {
	// Algo signs deliveries: sha1, sha256 (default), sha384 or sha512.
	Algo string
	// DefaultLease is granted when the subscriber asks for none; default 10 days.
	DefaultLease time.Duration
	// MaxLease caps what a subscriber may ask for; 0: no cap.
	MaxLease time.Duration
	// Now is the hub's clock for leases; default time.Now.
	Now func() time.Time
}

// Hub is a running fake hub; its URL is the hub URL.
type Hub struct {
	*httptest.Server
	opt Options

	mu       sync.Mutex
	subs     map[string]*Sub   // by topic + " " + callback
	deny     map[string]string // topic -> reason
	requests []url.Values      // every (un)subscription request, in order

	events chan Event
	wg     sync.WaitGroup
}

// New starts a hub; it is closed when the test ends.
func New(tb testing, opt Options) *Hub {
	if opt.Algo == "" {
		opt.Algo = "sha256"
	}
	if opt.DefaultLease <= 0 {
		opt.DefaultLease = 10 * 24 * time.Hour
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	h := &Hub{opt: opt, subs: map[string]*Sub{}, deny: map[string]string{}, events: make(chan Event, 256)}
	h.Server = httptest.NewServer(http.HandlerFunc(h.serve))
	tb.Cleanup(func() {
		h.Server.Close()
		h.wg.Wait()
	})
	return h
}

// testing is the part of testing.TB the hub needs.
type testing interface{ Cleanup(func()) }

// Deny makes the hub refuse subscriptions to topic with reason.
func (h *Hub) Deny(topic, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.deny[topic] = reason
}

// Requests returns every (un)subscription request received so far.
func (h *Hub) Requests() []url.Values {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]url.Values(nil), h.requests...)
}

// Subs returns the verified, unexpired subscriptions to topic.
func (h *Hub) Subs(topic string) []Sub {
	h.mu.Lock()
	defer h.mu.Unlock()
	var out []Sub
	for _, s := range h.subs {
		if s.Topic == topic && h.opt.Now().Before(s.Expires) {
			out = append(out, *s)
		}
	}
	return out
}

// Next waits for the next verification outcome, or fails after timeout
// (a guard against a hang, not a timing assumption).
func (h *Hub) Next(ctx context.Context, timeout time.Duration) (Event, error) {
	select {
	case e := <-h.events:
		return e, nil
	case <-time.After(timeout):
		return Event{}, fmt.Errorf("hubfake: no verification within %s", timeout)
	case <-ctx.Done():
		return Event{}, ctx.Err()
	}
}

// serve is the hub's endpoint: W3C WebSub §5.1, subscriber sends a
// form-encoded POST with hub.mode, hub.topic, hub.callback and optionally
// hub.lease_seconds and hub.secret.
func (h *Hub) serve(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	f := r.PostForm
	mode, topic, callback := f.Get("hub.mode"), f.Get("hub.topic"), f.Get("hub.callback")
	if mode != "subscribe" && mode != "unsubscribe" {
		http.Error(w, "hub.mode must be subscribe or unsubscribe", http.StatusBadRequest)
		return
	}
	cb, err := url.Parse(callback)
	if err != nil || (cb.Scheme != "http" && cb.Scheme != "https") || topic == "" {
		http.Error(w, "hub.callback must be an http(s) URL and hub.topic set", http.StatusBadRequest)
		return
	}
	secret := f.Get("hub.secret")
	if len(secret) >= 200 {
		http.Error(w, "hub.secret must be less than 200 bytes", http.StatusBadRequest)
		return
	}
	lease := h.opt.DefaultLease
	if s := f.Get("hub.lease_seconds"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			http.Error(w, "bad hub.lease_seconds", http.StatusBadRequest)
			return
		}
		lease = time.Duration(n) * time.Second
	}
	if h.opt.MaxLease > 0 && lease > h.opt.MaxLease {
		lease = h.opt.MaxLease
	}
	h.mu.Lock()
	h.requests = append(h.requests, f)
	reason, denied := h.deny[topic]
	h.mu.Unlock()
	w.WriteHeader(http.StatusAccepted)
	// Verification happens after the 202, as §5.3 has it: the subscriber
	// must have recorded its request before sending it.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		if denied && mode == "subscribe" {
			h.events <- h.verify(callback, url.Values{"hub.mode": {"denied"}, "hub.topic": {topic}, "hub.reason": {reason}}, "")
			return
		}
		q := url.Values{"hub.mode": {mode}, "hub.topic": {topic}}
		if mode == "subscribe" {
			q.Set("hub.lease_seconds", strconv.Itoa(int(lease/time.Second)))
		}
		challenge := rand.Text()
		q.Set("hub.challenge", challenge)
		ev := h.verify(callback, q, challenge)
		if ev.Verified {
			h.mu.Lock()
			key := topic + " " + callback
			if mode == "subscribe" {
				h.subs[key] = &Sub{Topic: topic, Callback: callback, Secret: secret, Lease: lease, Expires: h.opt.Now().Add(lease)}
			} else {
				delete(h.subs, key)
			}
			h.mu.Unlock()
		}
		h.events <- ev
	}()
}

// verify sends one verification of intent (§5.3) and checks the echo.
func (h *Hub) verify(callback string, q url.Values, challenge string) Event {
	ev := Event{Mode: q.Get("hub.mode"), Topic: q.Get("hub.topic"), Callback: callback}
	status, body, err := Verify(context.Background(), callback, q)
	ev.Status, ev.Err = status, err
	ev.Verified = err == nil && status >= 200 && status < 300 && (challenge == "" || body == challenge)
	return ev
}

// Verify sends a verification request with the query q to callback, the
// way a hub does, and returns the subscriber's status and body. Tests use
// it to send verifications the subscriber never asked for.
func Verify(ctx context.Context, callback string, q url.Values) (int, string, error) {
	u, err := url.Parse(callback)
	if err != nil {
		return 0, "", err
	}
	all := u.Query() // a callback may carry its own query (§5.3)
	for k, v := range q {
		all[k] = v
	}
	u.RawQuery = all.Encode()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	return resp.StatusCode, string(b), err
}

// Publish distributes body to every verified, unexpired subscriber of
// topic (§7), signed with each one's secret, and returns their statuses
// by callback. A subscriber answering 410 is unsubscribed.
func (h *Hub) Publish(topic, contentType string, body []byte) map[string]int {
	out := map[string]int{}
	for _, s := range h.Subs(topic) {
		status, err := Deliver(context.Background(), s.Callback, h.URL, topic, contentType, body, h.opt.Algo, s.Secret)
		if err != nil {
			status = 0
		}
		out[s.Callback] = status
		if status == http.StatusGone {
			h.mu.Lock()
			delete(h.subs, topic+" "+s.Callback)
			h.mu.Unlock()
		}
	}
	return out
}

// Deliver POSTs one content distribution request, signed with secret under
// algo when secret is not empty. Tests use it to forge deliveries.
func Deliver(ctx context.Context, callback, hubURL, topic, contentType string, body []byte, algo, secret string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, callback, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Add("Link", "<"+hubURL+">; rel=\"hub\"")
	req.Header.Add("Link", "<"+topic+">; rel=\"self\"")
	if secret != "" {
		req.Header.Set("X-Hub-Signature", algo+"="+Sign(algo, secret, body))
	}
	resp, err := do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// Sign is the hex HMAC of body under algo keyed by secret.
func Sign(algo, secret string, body []byte) string {
	var nh func() hash.Hash
	switch algo {
	case "sha1":
		nh = sha1.New
	case "sha384":
		nh = sha512.New384
	case "sha512":
		nh = sha512.New
	default:
		nh = sha256.New
	}
	m := hmac.New(nh, []byte(secret))
	m.Write(body)
	return hex.EncodeToString(m.Sum(nil))
}

// do sends req on a client with its own transport: a parallel test's
// httptest server closing http.DefaultTransport's idle connections must
// not fail a verification or a delivery in flight. No keep-alives, so no
// connection outlives its request.
func do(req *http.Request) (*http.Response, error) {
	c := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	return c.Do(req)
}
