package feeds

import (
	"crypto/hmac"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"errors"
	"github.com/crierd/crier"
	"hash"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// ServeHTTP is the callback, at PublicURL/websub/ID: GET is a hub's
// verification of intent (§5.3) or denial (§5.2), POST a content
// distribution (§7). Its only authentication is the protocol's own: a
// verification is confirmed only for a request crier sent, and content
// is taken in only under a valid signature keyed by the subscription's
// secret. It must therefore be reachable without the API's token.
func (w *WebSub) ServeHTTP(rw http.ResponseWriter, r *http.Request) {
	id := r.URL.Path[strings.LastIndexByte(r.URL.Path, '/')+1:]
	switch r.Method {
	case http.MethodGet:
		w.verify(rw, r, id)
	case http.MethodPost:
		w.content(rw, r, id)
	default:
		rw.Header().Set("Allow", "GET, POST")
		http.Error(rw, "GET or POST", http.StatusMethodNotAllowed)
	}
}

// verify answers a verification of intent: the challenge is echoed only
// when the mode and topic are those of a request crier sent and has not
// seen verified; anything else is 404, which tells the hub "no".
func (w *WebSub) verify(rw http.ResponseWriter, r *http.Request, id string) {
	q := r.URL.Query()
	mode, topic, challenge := q.Get("hub.mode"), q.Get("hub.topic"), q.Get("hub.challenge")
	w.mu.Lock()
	defer w.mu.Unlock()
	s, ok := w.subs[id]
	asked := ok && s.Topic == topic && s.Pending != "" &&
		(mode == s.Pending || (mode == "denied" && s.Pending == "subscribe"))
	if !asked || (mode != "denied" && challenge == "") {
		w.opt.Log.Warn("websub: refused a verification crier did not ask for", "mode", mode, "topic", topic, "remote", r.RemoteAddr)
		http.NotFound(rw, r)
		return
	}
	now := w.opt.Now()
	switch mode {
	case "subscribe":
		lease, err := strconv.Atoi(q.Get("hub.lease_seconds"))
		if err != nil || lease <= 0 {
			// Required of hubs for subscribe; without it, assume what
			// was asked so that renewal still happens in time.
			lease = int(w.opt.Lease / time.Second)
		}
		renewed := s.State == crier.SubActive
		s.State, s.Pending, s.Attempts, s.LastError, s.RetryAt = crier.SubActive, "", 0, "", time.Time{}
		s.LeaseSeconds, s.LeaseExpires = lease, now.Add(time.Duration(lease)*time.Second)
		w.save(s)
		msg := "websub: subscribed; the hub pushes"
		if renewed {
			msg = "websub: lease renewed"
		}
		w.opt.Log.Info(msg, "url", s.FeedID, "hub", s.Hub, "lease_expires", s.LeaseExpires)
	case "unsubscribe":
		w.forget(s)
		w.opt.Log.Info("websub: unsubscribed", "url", s.FeedID, "hub", s.Hub)
	case "denied":
		reason := plainText(q.Get("hub.reason"), 200)
		s.State, s.Pending, s.LastError, s.RetryAt = crier.SubDenied, "", "hub denied: "+reason, now.Add(deniedWait)
		w.save(s)
		w.opt.Log.Warn("websub: the hub denied the subscription; polling goes on", "url", s.FeedID, "hub", s.Hub, "reason", reason)
		rw.WriteHeader(http.StatusOK)
		return
	}
	rw.Header().Set("Content-Type", "text/plain; charset=utf-8")
	rw.Header().Set("Cache-Control", "no-store")
	_, _ = io.WriteString(rw, challenge)
}

// content takes in one push. A wrong or missing signature is answered 2xx
// all the same, as §8 allows (it gives a forger nothing to probe), and the
// content is dropped. Good content is acknowledged at once and taken in
// behind the answer, as §7 asks of subscribers.
func (w *WebSub) content(rw http.ResponseWriter, r *http.Request, id string) {
	w.mu.Lock()
	s, ok := w.subs[id]
	var sub crier.Subscription
	if ok {
		sub = *s
	}
	feed, wanted := w.feeds[sub.FeedID]
	w.mu.Unlock()
	if !ok || !wanted || sub.State == crier.SubUnsubscribing {
		// 410 asks the hub to drop a subscription crier no longer has.
		w.opt.OnPush(PushUnknown)
		http.Error(rw, "no such subscription", http.StatusGone)
		return
	}
	select {
	case w.slot <- struct{}{}:
	default:
		rw.Header().Set("Retry-After", "5")
		http.Error(rw, "busy", http.StatusServiceUnavailable)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, w.opt.MaxBody+1))
	switch {
	case err != nil:
		<-w.slot
		http.Error(rw, "reading body", http.StatusBadRequest)
		return
	case int64(len(body)) > w.opt.MaxBody:
		<-w.slot
		http.Error(rw, "body too large", http.StatusRequestEntityTooLarge)
		return
	}
	if err := checkSignature(r.Header.Get("X-Hub-Signature"), sub.Secret, body); err != nil {
		<-w.slot
		w.opt.OnPush(PushRejected)
		w.opt.Log.Warn("websub: push rejected", "feed", feed.Name, "url", sub.FeedID, "remote", r.RemoteAddr, "err", err)
		rw.WriteHeader(http.StatusAccepted)
		return
	}
	contentType := r.Header.Get("Content-Type")
	w.mu.Lock()
	if w.closed {
		w.mu.Unlock()
		<-w.slot
		rw.Header().Set("Retry-After", "60")
		http.Error(rw, "shutting down", http.StatusServiceUnavailable)
		return
	}
	w.pushes.Add(1)
	w.mu.Unlock()
	go func() {
		defer w.pushes.Done()
		defer func() { <-w.slot }()
		res, err := w.push.Push(w.base, feed, body, contentType)
		if err != nil {
			w.opt.OnPush(PushFailed)
			w.opt.Log.Warn("websub: pushed content not taken in; the next poll will catch up", "feed", feed.Name, "url", sub.FeedID, "err", err)
			return
		}
		w.opt.OnPush(PushAccepted)
		w.opt.Log.Debug("websub: push taken in", "feed", feed.Name, "items", res.Items, "new", res.New, "queued", res.Queued)
	}()
	rw.WriteHeader(http.StatusAccepted)
}

// checkSignature verifies X-Hub-Signature: "method=hexdigest", an HMAC of
// the body keyed by the secret, compared in constant time.
func checkSignature(header, secret string, body []byte) error {
	if header == "" {
		return errors.New("no X-Hub-Signature")
	}
	method, sig, ok := strings.Cut(strings.TrimSpace(header), "=")
	if !ok {
		return errors.New("malformed X-Hub-Signature")
	}
	var nh func() hash.Hash
	switch strings.ToLower(method) {
	case "sha1":
		nh = sha1.New
	case "sha256":
		nh = sha256.New
	case "sha384":
		nh = sha512.New384
	case "sha512":
		nh = sha512.New
	default:
		return errors.New("X-Hub-Signature method " + method + " is not one of sha1, sha256, sha384, sha512")
	}
	got, err := hex.DecodeString(sig)
	if err != nil {
		return errors.New("X-Hub-Signature is not hex")
	}
	m := hmac.New(nh, []byte(secret))
	m.Write(body)
	if !hmac.Equal(got, m.Sum(nil)) {
		return errors.New("X-Hub-Signature does not match")
	}
	return nil
}
