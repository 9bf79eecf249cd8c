package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
	"github.com/gregdel/pushover"
)

// Pushover sends notifications through the Pushover message API.
//
// Why the POST is ours and not gregdel/pushover's SendMessage: that library
// (v1.3.1) sends with http.DefaultClient (no timeout, no context), reads its
// endpoint from the package variable APIEndpoint (shared by the whole
// process, so it cannot point one notifier at a test server), and hides the
// HTTP status, so a 429 quota refusal and a 400 rejection arrive as the same
// pushover.Errors. Worse, after an accepted message it returns
// ErrInvalidHeaders when the X-Limit-App-* headers are missing, which would
// make us retry, and duplicate, a delivered message. So we keep its types
// (pushover.Message, pushover.Response, pushover.Limit), its limit and
// priority constants and its error values, validate what its unexported
// validate() checks, and encode the form exactly as its toMap does, but
// send with our client under ctx and read the status ourselves.
type Pushover struct {
	name     string
	client   *http.Client
	log      *slog.Logger
	secrets  secrets // token and user key, masked in errors
	endpoint string  // …/messages.json
	token    string
	user     string
	sound    string
	device   string
	priority int
	retry    time.Duration
	expire   time.Duration
	timeout  time.Duration
	now      func() time.Time
	render   *renderer
	// images downloads an item's picture to attach; nil with images: false.
	images *imageFetcher

	mu        sync.Mutex
	limit     int
	remaining int
	reset     time.Time
	known     bool
	warnedLow bool
	warnedOut bool
}

// DefaultPushoverAPI is the real service's base URL.
const DefaultPushoverAPI = "https://api.pushover.net/1"

// pushoverMinBackoff is the API's rule: wait at least 5 s between retries.
const pushoverMinBackoff = 5 * time.Second

// Emergency (priority 2) notifications repeat until acknowledged; the API
// requires both parameters and bounds them.
const (
	pushoverDefaultRetry  = time.Minute
	pushoverDefaultExpire = time.Hour
	pushoverMinRetry      = 30 * time.Second
	pushoverMaxExpire     = 3 * time.Hour
)

// pushoverParkFallback is how long to stop sending after a 429 that did
// not say when the quota resets.
const pushoverParkFallback = time.Hour

var (
	pushoverKeyRe    = regexp.MustCompile(`^[A-Za-z0-9]{30}$`)
	pushoverDeviceRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,25}$`)
)

// NewPushover builds a Pushover notifier from its config. client may be
// nil (a plain client is used; every send is still bounded by the timeout).
func NewPushover(cfg crier.NotifierConfig, client *http.Client, log *slog.Logger) (*Pushover, error) {
	// No timeout of its own: every send is bounded by ctx.
	client = svcClient(client, 0)
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Pushover{
		name:     cfg.Name,
		client:   client,
		log:      log,
		token:    strings.TrimSpace(cfg.Option("token", "")),
		user:     strings.TrimSpace(cfg.Option("user", "")),
		sound:    cfg.Option("sound", ""),
		device:   cfg.Option("device", ""),
		priority: cfg.Priority,
		now:      time.Now,
		secrets:  configSecrets(cfg),
	}
	fail := func(err error) (*Pushover, error) {
		return nil, fmt.Errorf("notifier %s: %w", cfg.Name, err)
	}
	switch {
	case p.token == "":
		return fail(pushover.ErrEmptyToken)
	case !pushoverKeyRe.MatchString(p.token):
		return fail(fmt.Errorf("%w (want 30 letters and digits)", pushover.ErrInvalidToken))
	case p.user == "":
		return fail(pushover.ErrEmptyRecipientToken)
	case !pushoverKeyRe.MatchString(p.user):
		return fail(fmt.Errorf("%w (want 30 letters and digits)", pushover.ErrInvalidRecipientToken))
	case p.priority < pushover.PriorityLowest || p.priority > pushover.PriorityEmergency:
		return fail(fmt.Errorf("%w: %d (want -2..2)", pushover.ErrInvalidPriority, p.priority))
	}
	if p.device != "" {
		for _, d := range strings.Split(p.device, ",") {
			if !pushoverDeviceRe.MatchString(d) {
				return fail(fmt.Errorf("%w: %q", pushover.ErrInvalidDeviceName, d))
			}
		}
	}
	var err error
	if p.render, err = newRenderer(cfg); err != nil {
		return nil, err
	}
	if p.retry, err = durationOption(cfg, "retry", pushoverDefaultRetry); err != nil {
		return fail(err)
	}
	if p.expire, err = durationOption(cfg, "expire", pushoverDefaultExpire); err != nil {
		return fail(err)
	}
	if p.timeout, err = durationOption(cfg, "timeout", 10*time.Second); err != nil {
		return fail(err)
	}
	images, err := svcBool(cfg, "images", true)
	if err != nil {
		return nil, err
	}
	if images {
		p.images = newImageFetcher("", pushoverMaxAttachment, false)
	}
	p.retry = max(p.retry, pushoverMinRetry)
	p.expire = min(p.expire, pushoverMaxExpire)
	base := strings.TrimRight(cfg.Option("api_url", DefaultPushoverAPI), "/")
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fail(fmt.Errorf("api_url %q is not an http(s) URL", base))
	}
	p.endpoint = base + "/messages.json"
	return p, nil
}

// durationOption reads "90", "90s" or "1m30s"; a bare number is seconds.
func durationOption(cfg crier.NotifierConfig, key string, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(cfg.Option(key, ""))
	if v == "" {
		return def, nil
	}
	if n, err := strconv.Atoi(v); err == nil && n > 0 {
		return time.Duration(n) * time.Second, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("option %s: %q is not a positive duration", key, v)
	}
	return d, nil
}

// MinBackoff tells the dispatcher the API's minimum pause between retries.
func (p *Pushover) MinBackoff() time.Duration { return pushoverMinBackoff }

// MaxUnconfirmed lets a message that Pushover took without answering in
// time be sent once more, then dead-letters it: a push repeated on every
// retry is worse than one to check for by hand.
func (p *Pushover) MaxUnconfirmed() int { return 2 }

// Quota returns the app's message quota as last reported by the API.
func (p *Pushover) Quota() (limit, remaining int, reset time.Time, known bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.limit, p.remaining, p.reset, p.known
}

// Send pushes one notification. It never fails for length: every field is
// cut to the API's limit.
func (p *Pushover) Send(ctx context.Context, n crier.Notification) error {
	// The last line of defence: detail masks replies before cutting them.
	return p.secrets.scrubErr(p.send(ctx, n))
}

func (p *Pushover) send(ctx context.Context, n crier.Notification) error {
	if until, ok := p.exhausted(); ok {
		return Parked(fmt.Errorf("notifier %s: pushover monthly quota used up until %s",
			p.name, until.Format(time.RFC3339)), until)
	}
	msg, err := p.message(n)
	if err != nil {
		return err
	}
	pic, ok := p.picture(ctx, n)
	if !ok {
		return p.post(ctx, msg, nil)
	}
	err = p.post(ctx, msg, &pic)
	if se := Classify(err); err != nil && se.Permanent {
		// Refused with the picture (too large or of a type Pushover
		// does not take, say): the text must still arrive.
		p.log.Info("pushover refused the message with its image; sending it without",
			"notifier", p.name, "item", n.ItemID, "err", err)
		return p.post(ctx, msg, nil)
	}
	return err
}

// picture downloads the item's image to attach; false when there is none
// or it cannot be had, which is logged and costs the push nothing.
func (p *Pushover) picture(ctx context.Context, n crier.Notification) (picture, bool) {
	img := itemImage(n)
	if p.images == nil || img == "" {
		return picture{}, false
	}
	pic, err := p.images.fetch(ctx, img)
	if err != nil {
		p.log.Info("image not attached", "notifier", p.name, "item", n.ItemID, "url", img, "err", err)
		return picture{}, false
	}
	return pic, true
}

// post sends msg, with pic as its attachment when pic is not nil.
func (p *Pushover) post(ctx context.Context, msg *pushover.Message, pic *picture) error {
	ctx, cancel := context.WithTimeout(ctx, p.timeout)
	defer cancel()
	ctx, written := traceWritten(ctx)
	form := pushoverForm(msg, p.token, p.user)
	reqBody, ctype := []byte(form.Encode()), "application/x-www-form-urlencoded"
	if pic != nil {
		var err error
		if reqBody, ctype, err = multipartForm(form, "attachment", *pic); err != nil {
			return Permanent(fmt.Errorf("notifier %s: %w", p.name, err))
		}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.endpoint, bytes.NewReader(reqBody))
	if err != nil {
		return Permanent(fmt.Errorf("notifier %s: %w", p.name, err))
	}
	req.Header.Set("Content-Type", ctype)
	req.Header.Set("User-Agent", "crier/"+crier.Version+" (+"+crier.ProjectURL+")")
	resp, err := p.client.Do(req)
	if err != nil {
		// Like every service: say what failed, not the URL.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return transportError(fmt.Errorf("notifier %s: pushover: %w", p.name, err), written())
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return redirectError("notifier "+p.name+": pushover", resp)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil && resp.StatusCode == http.StatusOK {
		// The status line said OK; a cut body does not undo the delivery.
		p.log.Warn("pushover reply unreadable after acceptance", "notifier", p.name, "err", err)
	}
	limit, limitErr := pushoverLimit(resp.Header)
	if limitErr == nil {
		p.track(limit)
	}

	var r pushover.Response
	jsonErr := json.Unmarshal(body, &r)
	switch {
	case resp.StatusCode == http.StatusOK && (jsonErr != nil || r.Status == 1):
		// Delivered. Missing limit headers (the library's ErrInvalidHeaders)
		// only cost us quota tracking; retrying would duplicate the push.
		if limitErr != nil {
			p.log.Debug("pushover reply without quota headers", "notifier", p.name, "err", limitErr)
		}
		return nil
	case resp.StatusCode == http.StatusTooManyRequests:
		until := p.parkUntil(limit, limitErr == nil)
		return Parked(fmt.Errorf("notifier %s: pushover refused the message, monthly quota used up (HTTP 429: %s)",
			p.name, p.detail(r, body)), until)
	case resp.StatusCode == http.StatusOK:
		// 200 with status != 1 is not documented; the request was read and
		// refused, so repeating it cannot help.
		return Permanent(fmt.Errorf("notifier %s: pushover: status %d: %s", p.name, r.Status, p.detail(r, body)))
	case resp.StatusCode >= 400:
		return HTTPStatusError("notifier "+p.name+": pushover", resp.StatusCode,
			p.detail(r, body), RetryAfter(resp.Header, p.now()))
	}
	return Temporary(fmt.Errorf("notifier %s: pushover: unexpected HTTP %d", p.name, resp.StatusCode), 0)
}

// message shapes a notification for Pushover's fields: the shared
// renderer (and the notifier's templates) give title and message.
func (p *Pushover) message(n crier.Notification) (*pushover.Message, error) {
	m := &pushover.Message{
		Priority:   p.priority,
		Sound:      p.sound,
		DeviceName: p.device,
	}
	if n.Priority != nil {
		m.Priority = min(max(*n.Priority, pushover.PriorityLowest), pushover.PriorityEmergency)
	}
	if m.Priority == pushover.PriorityEmergency {
		m.Retry, m.Expire = p.retry, p.expire
	}
	if !n.Published.IsZero() && n.Published.Unix() > 0 {
		m.Timestamp = n.Published.Unix()
	}
	text, err := p.render.render(n)
	if err != nil {
		return nil, err
	}
	// Only http(s) links, as every service gets: the phone opens url
	// when the notification is tapped, so javascript: or data: must not
	// get there.
	m.URL = webLink(n.Link)
	if n.Kind == crier.KindSummary && m.URL == "" {
		m.URL = webLink(n.FeedLink)
	}
	if text.Title == "" {
		text.Title = "crier"
	}
	if strings.TrimSpace(text.Message) == "" {
		text.Message = text.Title
	}
	m.Title = crier.Truncate(text.Title, pushover.MessageTitleMaxLength)
	m.Message = crier.Truncate(text.Message, pushover.MessageMaxLength)
	m.URL = crier.Truncate(sanitize(m.URL), pushover.MessageURLMaxLength)
	head := renderHeadline(n)
	if n.Kind == crier.KindSummary {
		head = text.Title
	}
	if m.URL != "" && head != "" {
		m.URLTitle = crier.Truncate(sanitize(head), pushover.MessageURLTitleMaxLength)
		if n.Kind == crier.KindItem {
			// The headline is already the title; the link's label says
			// what tapping it does.
			m.URLTitle = "Open story"
		}
	}
	return m, nil
}

// multipartForm encodes form as multipart/form-data with pic as the file
// field, the way Pushover takes an attachment.
func multipartForm(form url.Values, field string, pic picture) ([]byte, string, error) {
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(form)) {
		for _, v := range form[k] {
			if err := mw.WriteField(k, v); err != nil {
				return nil, "", err
			}
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", mime.FormatMediaType("form-data", map[string]string{"name": field, "filename": pic.name}))
	h.Set("Content-Type", pic.contentType)
	w, err := mw.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := w.Write(pic.data); err != nil {
		return nil, "", err
	}
	if err := mw.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), mw.FormDataContentType(), nil
}

// pushoverForm encodes m the way the library's Message.toMap does (it is
// unexported there).
func pushoverForm(m *pushover.Message, token, user string) url.Values {
	f := url.Values{}
	f.Set("token", token)
	f.Set("user", user)
	f.Set("message", m.Message)
	f.Set("priority", strconv.Itoa(m.Priority))
	set := func(k, v string) {
		if v != "" {
			f.Set(k, v)
		}
	}
	set("title", m.Title)
	set("url", m.URL)
	set("url_title", m.URLTitle)
	set("sound", m.Sound)
	set("device", m.DeviceName)
	if m.Timestamp != 0 {
		f.Set("timestamp", strconv.FormatInt(m.Timestamp, 10))
	}
	if m.HTML {
		f.Set("html", "1")
	}
	if m.Monospace {
		f.Set("monospace", "1")
	}
	if m.Priority == pushover.PriorityEmergency {
		f.Set("retry", strconv.FormatFloat(m.Retry.Seconds(), 'f', -1, 64))
		f.Set("expire", strconv.FormatFloat(m.Expire.Seconds(), 'f', -1, 64))
		set("callback", m.CallbackURL)
	}
	if m.TTL != 0 {
		f.Set("ttl", strconv.FormatFloat(m.TTL.Seconds(), 'f', -1, 64))
	}
	return f
}

// pushoverLimit reads the X-Limit-App-* headers like the library's
// unexported newLimit, returning its ErrInvalidHeaders when any is missing.
func pushoverLimit(h http.Header) (pushover.Limit, error) {
	var vals [3]int64
	for i, k := range []string{"X-Limit-App-Limit", "X-Limit-App-Remaining", "X-Limit-App-Reset"} {
		v := h.Values(k)
		if len(v) != 1 {
			return pushover.Limit{}, pushover.ErrInvalidHeaders
		}
		n, err := strconv.ParseInt(strings.TrimSpace(v[0]), 10, 64)
		if err != nil {
			return pushover.Limit{}, fmt.Errorf("%w: %s: %w", pushover.ErrInvalidHeaders, k, err)
		}
		vals[i] = n
	}
	return pushover.Limit{Total: int(vals[0]), Remaining: int(vals[1]), NextReset: time.Unix(vals[2], 0)}, nil
}

// track records the quota and warns once when it runs low and once when
// it runs out (again after it was replenished).
func (p *Pushover) track(l pushover.Limit) {
	p.mu.Lock()
	p.limit, p.remaining, p.reset, p.known = l.Total, l.Remaining, l.NextReset, true
	low := l.Total > 0 && l.Remaining*10 < l.Total
	warnLow := low && l.Remaining > 0 && !p.warnedLow
	warnOut := l.Remaining <= 0 && !p.warnedOut
	if warnLow {
		p.warnedLow = true
	}
	if warnOut {
		p.warnedLow, p.warnedOut = true, true
	}
	if !low {
		p.warnedLow, p.warnedOut = false, false
	}
	p.mu.Unlock()
	switch {
	case warnOut:
		p.log.Warn("pushover monthly quota used up; notifications wait until it resets",
			"notifier", p.name, "limit", l.Total, "reset", l.NextReset.Format(time.RFC3339))
	case warnLow:
		p.log.Warn("pushover monthly quota running low",
			"notifier", p.name, "remaining", l.Remaining, "limit", l.Total, "reset", l.NextReset.Format(time.RFC3339))
	}
}

// exhausted reports a known used-up quota that has not reset yet, so that
// we do not spend a request to hear 429 again.
func (p *Pushover) exhausted() (time.Time, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known && p.remaining <= 0 && p.reset.After(p.now()) {
		return p.reset, true
	}
	return time.Time{}, false
}

func (p *Pushover) parkUntil(l pushover.Limit, fromHeaders bool) time.Time {
	now := p.now()
	if fromHeaders && l.NextReset.After(now) {
		return l.NextReset
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.known && p.reset.After(now) {
		return p.reset
	}
	// The quota resets at a time we were not told: probe again later.
	return now.Add(pushoverParkFallback)
}

// detail is what an error quotes of a refusal: the API's errors, else
// the start of the body. The API quotes the application token in some
// errors ("application … has exceeded its monthly message limit"), so
// the secrets are masked before the body is cut.
func (p *Pushover) detail(r pushover.Response, body []byte) string {
	if len(r.Errors) > 0 {
		d := strings.Join(r.Errors, "; ")
		if r.ID != "" {
			d += " (request " + r.ID + ")"
		}
		return p.secrets.scrub(d)
	}
	return crier.Truncate(collapse(p.secrets.scrub(string(body))), 200)
}
