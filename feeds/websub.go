package feeds

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// WebSub subscriber tuning.
const (
	// DefaultLease is the lease crier asks hubs for; hubs may grant less.
	DefaultLease = 10 * 24 * time.Hour
	// renewAt is the share of a lease after which it is renewed: early
	// enough that a hub that is down for a while still leaves time to retry.
	renewAt = 0.85
	// verifyWait is how long a request may await the hub's verification
	// before it counts as failed.
	verifyWait = 15 * time.Minute
	// deniedWait is how long a hub's refusal stands before crier asks again.
	deniedWait = 24 * time.Hour
	// maxRetryWait caps the backoff of requests the hub did not accept.
	maxRetryWait = 6 * time.Hour
	// hubTimeout bounds one request to a hub.
	hubTimeout = 30 * time.Second
	// maxPushes bounds the pushes being taken in at once.
	maxPushes = 16
)

// Push outcomes, the values of crier_websub_pushes_total's result label.
const (
	PushAccepted = "accepted" // signature good, content taken in
	PushRejected = "rejected" // missing or wrong signature: ignored
	PushUnknown  = "unknown"  // no such subscription (answered 410 Gone)
	PushFailed   = "failed"   // signed, but the content could not be taken in
)

// Pusher takes in content a hub pushed; *Poller is one.
type Pusher interface {
	Push(ctx context.Context, feed crier.Feed, body []byte, contentType string) (Result, error)
}

// WebSubOptions wire a WebSub subscriber.
type WebSubOptions struct {
	// PublicURL is where hubs reach crier's listener; callbacks are
	// PublicURL/websub/ID.
	PublicURL string
	Client    *http.Client // for hub requests; nil: a client with hubTimeout
	UserAgent string
	Log       *slog.Logger
	Now       func() time.Time
	Lease     time.Duration // asked of hubs; default DefaultLease
	MaxBody   int64         // cap on a pushed body; default DefaultMaxBody
	Random    io.Reader     // for secrets and callback IDs; default crypto/rand
	// OnPush observes every content delivery: one of the Push* outcomes.
	OnPush func(result string)
	// OnRenewal observes every lease renewal request: ok says whether the
	// hub accepted it.
	OnRenewal func(ok bool)
}

// WebSub subscribes feeds to the hubs they name, answers the hubs'
// verifications, checks the signature of every push and hands pushed
// content to the Pusher, which takes it in as an early poll. Polls keep
// running at the feed's websub_fallback pace, so a hub that fails loses
// nothing. Subscriptions live in the store and survive restarts.
type WebSub struct {
	st   crier.SubscriptionStore
	push Pusher
	opt  WebSubOptions
	slot chan struct{} // pushes in flight

	mu      sync.Mutex
	feeds   map[string]crier.Feed          // websub: auto feeds, by feed ID
	found   map[string]HubLinks            // what polls discovered, by feed ID
	subs    map[string]*crier.Subscription // by callback ID
	base    context.Context                // pushes run under it; Run cancels it at exit
	stop    context.CancelFunc
	applied bool // Apply has named the feeds: until then nothing is cancelled
	closed  bool // Run has ended: no push may start

	wake   chan struct{}
	pushes sync.WaitGroup
}

// NewWebSub loads the stored subscriptions. Nothing is sent until Run.
func NewWebSub(st crier.SubscriptionStore, p Pusher, opt WebSubOptions) (*WebSub, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.DiscardHandler)
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Client == nil {
		opt.Client = &http.Client{Timeout: hubTimeout}
	}
	if opt.UserAgent == "" {
		opt.UserAgent = "crier/" + crier.Version + " (+" + crier.ProjectURL + ")"
	}
	if opt.Lease <= 0 {
		opt.Lease = DefaultLease
	}
	if opt.MaxBody <= 0 {
		opt.MaxBody = DefaultMaxBody
	}
	if opt.Random == nil {
		opt.Random = rand.Reader
	}
	if opt.OnPush == nil {
		opt.OnPush = func(string) {}
	}
	if opt.OnRenewal == nil {
		opt.OnRenewal = func(bool) {}
	}
	opt.PublicURL = strings.TrimRight(opt.PublicURL, "/")
	stored, err := st.Subscriptions()
	if err != nil {
		return nil, err
	}
	base, stop := context.WithCancel(context.Background())
	w := &WebSub{
		st: st, push: p, opt: opt, slot: make(chan struct{}, maxPushes),
		feeds: map[string]crier.Feed{}, found: map[string]HubLinks{}, subs: map[string]*crier.Subscription{},
		base: base, stop: stop, wake: make(chan struct{}, 1),
	}
	for i := range stored {
		w.subs[stored[i].Callback] = &stored[i]
	}
	return w, nil
}

// Apply makes feeds the configured feeds: those with websub: auto may be
// subscribed; subscriptions of every other feed are cancelled at the hub.
func (w *WebSub) Apply(feeds []crier.Feed) {
	w.mu.Lock()
	w.feeds = map[string]crier.Feed{}
	for _, f := range feeds {
		if f.WebSub == crier.WebSubAuto {
			w.feeds[f.FeedID()] = f
		}
	}
	w.applied = true
	w.mu.Unlock()
	w.poke()
}

// Discovered records the hub links a poll found (Subscriptions).
func (w *WebSub) Discovered(feed crier.Feed, links HubLinks) {
	w.mu.Lock()
	old, ok := w.found[feed.FeedID()]
	w.found[feed.FeedID()] = links
	w.mu.Unlock()
	if !ok || old.Self != links.Self || firstHub(old) != firstHub(links) {
		w.poke()
	}
}

// Pushing reports whether feedID has a verified, unexpired subscription
// (Subscriptions).
func (w *WebSub) Pushing(feedID string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	cur := w.current(feedID)
	return cur != nil && cur.State == crier.SubActive && w.opt.Now().Before(cur.LeaseExpires)
}

func (w *WebSub) poke() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run keeps the subscriptions as the feeds want them until ctx ends, then
// waits for the pushes being taken in.
func (w *WebSub) Run(ctx context.Context) {
	defer func() {
		w.mu.Lock()
		w.closed = true
		w.mu.Unlock()
		w.stop()
		w.pushes.Wait()
	}()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-w.wake:
		}
		next := w.Step(ctx)
		timer.Stop()
		select { // a fire that raced Stop must not wake the loop early
		case <-timer.C:
		default:
		}
		timer.Reset(max(time.Second, next.Sub(w.opt.Now())))
	}
}

// request is one (un)subscription request to send.
type request struct {
	sub   crier.Subscription // as saved before sending
	renew bool
}

// Step sends every request that is due and returns when the next one will
// be. Run calls it; tests call it with their own clock.
func (w *WebSub) Step(ctx context.Context) time.Time {
	var next time.Time
	// Twice: the second plan sees how the requests went (a refused one
	// is due at its retry time, not at the first plan's).
	for range 2 {
		now := w.opt.Now()
		var reqs []request
		reqs, next = w.plan(now)
		for _, r := range reqs {
			if ctx.Err() == nil {
				w.send(ctx, r)
			}
		}
		if len(reqs) == 0 {
			break
		}
		// A request sent is due again after verifyWait at the latest.
		next = earliest(next, now.Add(verifyWait))
	}
	return next
}

// plan decides, under the lock, what to send now; each request is saved
// as pending before it goes out, since the hub may verify before it
// answers.
func (w *WebSub) plan(now time.Time) ([]request, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	next := now.Add(maxRetryWait)
	if !w.applied {
		return nil, next
	}
	var reqs []request
	later := func(t time.Time) { next = earliest(next, t) }
	pending := func(s *crier.Subscription, mode string, renew bool) {
		s.Pending, s.RequestedAt = mode, now
		if mode == "subscribe" && !renew {
			s.State = crier.SubPending
		}
		w.save(s)
		reqs = append(reqs, request{sub: *s, renew: renew})
	}
	for _, s := range w.sorted() {
		feed, wanted := w.feeds[s.FeedID]
		hub, topic := w.want(s.FeedID)
		keep := wanted && s.State != crier.SubUnsubscribing && s.Hub == hub && s.Topic == topic && s.CallbackURL == w.callbackURL(s.Callback)
		switch {
		case !keep && s.State != crier.SubUnsubscribing:
			if s.State == crier.SubActive || s.Pending != "" {
				w.opt.Log.Info("websub: unsubscribing", "feed", cmp.Or(feed.Name, s.FeedID), "url", s.FeedID, "hub", s.Hub)
				s.State, s.Attempts = crier.SubUnsubscribing, 0
				pending(s, "unsubscribe", false)
			} else {
				w.forget(s)
			}
		case s.State == crier.SubUnsubscribing:
			// One try, and a wait for the verification: a hub that never
			// confirms lets the lease lapse, and pushes meanwhile get 410.
			if now.Sub(s.RequestedAt) >= verifyWait {
				w.forget(s)
			} else {
				later(s.RequestedAt.Add(verifyWait))
			}
		case s.Pending != "" && now.Sub(s.RequestedAt) < verifyWait:
			later(s.RequestedAt.Add(verifyWait))
		case s.Pending != "":
			w.failed(s, now, "the hub did not verify the request within "+verifyWait.String())
			later(s.RetryAt)
		case s.State == crier.SubActive && now.Before(w.renewal(s)):
			later(w.renewal(s))
		case s.State == crier.SubActive && now.Before(s.RetryAt):
			later(s.RetryAt) // a renewal failed; the lease may still hold
		case s.State == crier.SubActive:
			pending(s, "subscribe", now.Before(s.LeaseExpires))
		case now.Before(s.RetryAt): // denied or failed
			later(s.RetryAt)
		default:
			pending(s, "subscribe", false)
		}
	}
	// Feeds with a hub and no subscription yet.
	for id := range w.feeds {
		hub, topic := w.want(id)
		if hub == "" || w.current(id) != nil {
			continue
		}
		cb := w.newID()
		s := &crier.Subscription{
			FeedID: id, Topic: topic, Hub: hub, Callback: cb, CallbackURL: w.callbackURL(cb), Secret: w.newID() + w.newID(),
		}
		if cb == "" || len(s.Secret) < 64 {
			w.opt.Log.Error("websub: no randomness for a secret; not subscribing", "feed", w.feeds[id].Name)
			continue
		}
		w.subs[cb] = s
		w.opt.Log.Info("websub: subscribing", "feed", w.feeds[id].Name, "url", id, "hub", hub, "topic", topic)
		pending(s, "subscribe", false)
	}
	return reqs, next
}

// want is the hub and topic feedID should be subscribed with: what the
// last poll discovered, else what the stored subscription says (after a
// restart, before the first poll), else nothing.
func (w *WebSub) want(feedID string) (hub, topic string) {
	if l, ok := w.found[feedID]; ok {
		if h := firstHub(l); h != "" {
			return h, cmp.Or(l.Self, feedID)
		}
		return "", ""
	}
	if cur := w.current(feedID); cur != nil {
		return cur.Hub, cur.Topic
	}
	return "", ""
}

func firstHub(l HubLinks) string {
	if len(l.Hubs) == 0 {
		return ""
	}
	return l.Hubs[0]
}

// current is feedID's subscription that is not being cancelled, if any.
func (w *WebSub) current(feedID string) *crier.Subscription {
	for _, s := range w.subs {
		if s.FeedID == feedID && s.State != crier.SubUnsubscribing {
			return s
		}
	}
	return nil
}

// sorted is every subscription in callback order, for a stable plan.
func (w *WebSub) sorted() []*crier.Subscription {
	out := make([]*crier.Subscription, 0, len(w.subs))
	for _, s := range w.subs {
		out = append(out, s)
	}
	slices.SortFunc(out, func(a, b *crier.Subscription) int { return strings.Compare(a.Callback, b.Callback) })
	return out
}

// renewal is when an active lease is renewed.
func (w *WebSub) renewal(s *crier.Subscription) time.Time {
	lease := time.Duration(s.LeaseSeconds) * time.Second
	return s.LeaseExpires.Add(-time.Duration(float64(lease) * (1 - renewAt)))
}

func (w *WebSub) callbackURL(id string) string { return w.opt.PublicURL + "/websub/" + id }

// newID is 128 random bits in hex, "" when there is no randomness.
func (w *WebSub) newID() string {
	b := make([]byte, 16)
	if _, err := io.ReadFull(w.opt.Random, b); err != nil {
		return ""
	}
	return hex.EncodeToString(b)
}

// save persists s; called with w.mu held. A failed write is logged: the
// in-memory state still works, and the next change writes again.
func (w *WebSub) save(s *crier.Subscription) {
	if err := w.st.SaveSubscription(*s); err != nil {
		w.opt.Log.Error("websub: save subscription", "url", s.FeedID, "err", err)
	}
}

func (w *WebSub) forget(s *crier.Subscription) {
	delete(w.subs, s.Callback)
	if err := w.st.DeleteSubscription(s.Callback); err != nil {
		w.opt.Log.Error("websub: delete subscription", "url", s.FeedID, "err", err)
	}
}

// failed records a request that did not lead anywhere and schedules the
// next try with exponential backoff.
func (w *WebSub) failed(s *crier.Subscription, now time.Time, why string) {
	s.Attempts++
	wait := time.Minute
	for i := 1; i < s.Attempts && wait < maxRetryWait; i++ {
		wait *= 2
	}
	s.Pending, s.LastError, s.RetryAt = "", why, now.Add(min(wait, maxRetryWait))
	if s.State != crier.SubActive || !now.Before(s.LeaseExpires) {
		s.State = crier.SubFailed
	}
	w.opt.Log.Warn("websub: hub request failed; polling goes on", "url", s.FeedID, "hub", s.Hub, "err", why, "retry_at", s.RetryAt)
	w.save(s)
}

// send makes one request to the hub (§5.1) and records a refusal. The
// verification arrives separately, at the callback.
func (w *WebSub) send(ctx context.Context, r request) {
	s := r.sub
	form := url.Values{
		"hub.mode":     {s.Pending},
		"hub.topic":    {s.Topic},
		"hub.callback": {s.CallbackURL},
	}
	if s.Pending == "subscribe" {
		form.Set("hub.lease_seconds", strconv.Itoa(int(w.opt.Lease/time.Second)))
		form.Set("hub.secret", s.Secret)
	}
	err := w.post(ctx, s.Hub, form)
	if r.renew {
		w.opt.OnRenewal(err == nil)
	}
	if err == nil || ctx.Err() != nil {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	cur, ok := w.subs[s.Callback]
	if !ok || cur.Pending != s.Pending || !cur.RequestedAt.Equal(s.RequestedAt) {
		return // verified, or superseded, while the request was out
	}
	if cur.State == crier.SubUnsubscribing {
		w.opt.Log.Warn("websub: unsubscribe request failed; the lease will lapse", "url", s.FeedID, "hub", s.Hub, "err", err)
		w.forget(cur)
		return
	}
	w.failed(cur, w.opt.Now(), err.Error())
}

func (w *WebSub) post(ctx context.Context, hub string, form url.Values) error {
	ctx, cancel := context.WithTimeout(ctx, hubTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, hub, strings.NewReader(form.Encode()))
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", w.opt.UserAgent)
	resp, err := w.opt.Client.Do(req)
	if err != nil {
		return fmt.Errorf("hub %s: %w", hub, unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 300))
		return fmt.Errorf("hub %s answered %s: %s", hub, resp.Status, strings.TrimSpace(plainText(string(msg), 200)))
	}
	drain(resp.Body)
	return nil
}

func earliest(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}
