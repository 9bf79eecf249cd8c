package notify

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// base is what every notifier that renders text and bounds its sends
// holds: email, exec and the HTTP services.
type base struct {
	name    string
	cfg     crier.NotifierConfig
	render  *renderer
	timeout time.Duration // bounds one send
	images  bool          // show the item's picture (option images)
}

// newBase reads the timeout option (defaultTimeout when unset) and parses
// the notifier's templates, in that order, so a config with several
// mistakes reports the same one it always has.
func newBase(cfg crier.NotifierConfig, defaultTimeout time.Duration) (base, error) {
	timeout, err := svcTimeout(cfg, defaultTimeout)
	if err != nil {
		return base{}, err
	}
	r, err := newRenderer(cfg)
	if err != nil {
		return base{}, err
	}
	images, err := svcBool(cfg, "images", true)
	if err != nil {
		return base{}, err
	}
	return base{name: cfg.Name, cfg: cfg, render: r, timeout: timeout, images: images}, nil
}

// image is the picture n should show, "" for none or with images: false.
func (b *base) image(n crier.Notification) string {
	if !b.images {
		return ""
	}
	return itemImage(n)
}

// service is a notifier that speaks JSON (mostly) over HTTP to a service.
type service struct {
	base
	what    string // "notifier NAME (kind)": how every error names it
	client  *http.Client
	secrets secrets // masked in every error that quotes the service
}

// newService builds the shared part of an HTTP notifier of the given
// kind ("ntfy", "slack", …). client may be nil: then a plain client
// bounded by the timeout is used.
func newService(cfg crier.NotifierConfig, client *http.Client, kind string, defaultTimeout time.Duration) (service, error) {
	b, err := newBase(cfg, defaultTimeout)
	if err != nil {
		return service{}, err
	}
	return service{
		base:    b,
		what:    "notifier " + cfg.Name + " (" + kind + ")",
		client:  svcClient(client, b.timeout),
		secrets: configSecrets(cfg),
	}, nil
}

// exchange sends body to target under the notifier's timeout and returns
// the reply unjudged; a transport failure or a redirect comes back
// already classified.
func (s *service) exchange(ctx context.Context, method, target string, header http.Header, body []byte) (httpReply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	reply, err := doJSON(ctx, s.client, s.what, method, target, header, body)
	return reply, s.secrets.scrubErr(err)
}

// explainer reads a service's error reply body: the detail worth quoting
// and the delay the body asks for. "" and 0 keep the defaults: the body's
// first words and the Retry-After header.
type explainer func(body []byte) (detail string, retry time.Duration)

// post sends body and judges the reply the usual way: any 2xx is
// success, anything else an HTTPStatusError (429 and 5xx temporary, other
// 4xx permanent). explain may be nil.
func (s *service) post(ctx context.Context, method, target string, header http.Header, body []byte, explain explainer) error {
	reply, err := s.exchange(ctx, method, target, header, body)
	if err != nil {
		return err
	}
	if reply.Status >= 200 && reply.Status < 300 {
		return nil
	}
	detail, retry := s.snippet(reply.Body), RetryAfter(reply.Header, time.Now())
	if explain != nil {
		d, r := explain(reply.Body)
		if d != "" {
			detail = s.secrets.scrub(d)
		}
		if r > 0 {
			retry = r
		}
	}
	return HTTPStatusError(s.what, reply.Status, detail, retry)
}

// marshal encodes a request body; a value that cannot be encoded will
// not encode on a retry either.
func (s *service) marshal(v any) ([]byte, error) {
	body, err := json.Marshal(v)
	if err != nil {
		return nil, Permanent(fmt.Errorf("notifier %s: %w", s.name, err))
	}
	return body, nil
}

// postJSON POSTs v as JSON and judges the reply like post.
func (s *service) postJSON(ctx context.Context, target string, header http.Header, v any, explain explainer) error {
	body, err := s.marshal(v)
	if err != nil {
		return err
	}
	return s.post(ctx, http.MethodPost, target, header, body, explain)
}

// svcTimeout reads the timeout option ("90s", "1m", or bare seconds).
func svcTimeout(cfg crier.NotifierConfig, def time.Duration) (time.Duration, error) {
	v := strings.TrimSpace(cfg.Option("timeout", ""))
	if v == "" {
		return def, nil
	}
	d, err := time.ParseDuration(v)
	if err != nil {
		secs, serr := strconv.Atoi(v)
		if serr != nil {
			return 0, fmt.Errorf("notifier %s: option timeout: %q is not a duration", cfg.Name, v)
		}
		d = time.Duration(secs) * time.Second
	}
	if d <= 0 {
		return 0, fmt.Errorf("notifier %s: option timeout: %q is not positive", cfg.Name, v)
	}
	return d, nil
}

// svcURL checks that an option holds an absolute http(s) URL.
func svcURL(cfg crier.NotifierConfig, key, def string) (string, error) {
	v := strings.TrimSpace(cfg.Option(key, def))
	if v == "" {
		return "", fmt.Errorf("notifier %s: option %s is required", cfg.Name, key)
	}
	u, err := url.Parse(v)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", fmt.Errorf("notifier %s: option %s: %q is not an http(s) URL", cfg.Name, key, redactURL(v))
	}
	return v, nil
}

// svcRequired returns a required scalar option.
func svcRequired(cfg crier.NotifierConfig, key string) (string, error) {
	v := strings.TrimSpace(cfg.Option(key, ""))
	if v == "" {
		return "", fmt.Errorf("notifier %s: option %s is required", cfg.Name, key)
	}
	return v, nil
}

// svcBool reads a "true"/"false" option.
func svcBool(cfg crier.NotifierConfig, key string, def bool) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(cfg.Option(key, ""))) {
	case "":
		return def, nil
	case "true", "yes", "on", "1":
		return true, nil
	case "false", "no", "off", "0":
		return false, nil
	}
	return false, fmt.Errorf("notifier %s: option %s: %q is not true or false", cfg.Name, key, cfg.Option(key, ""))
}

// redactURL hides the path and query of URLs that carry secrets (Discord
// and Slack webhook URLs are credentials).
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "(invalid URL)"
	}
	return u.Scheme + "://" + u.Host + "/…"
}

// svcClient returns a copy of client (or a plain client bounded by
// timeout) that never follows a redirect. Followed, a 301/302/303 turns
// the POST into a GET whose 200 would count as delivered while the
// message is lost, and a 307/308 re-sends the body, and headers such as
// X-Gotify-Key, to wherever the Location points.
func svcClient(client *http.Client, timeout time.Duration) *http.Client {
	// A notifier without a client gets a transport of its own rather than
	// http.DefaultTransport, whose pool anything in the process may close.
	c := http.Client{Timeout: timeout, Transport: http.DefaultTransport.(*http.Transport).Clone()}
	if client != nil {
		c = *client
	}
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// redirectError is the failure of a send answered with a 3xx. It is
// permanent: the configured URL is not where the service is, and a retry
// would be redirected the same way. The target is shown as scheme://host
// only, since its path may echo a webhook token.
func redirectError(what string, resp *http.Response) error {
	to := "a missing Location"
	if loc, err := resp.Location(); err == nil {
		to = redactURL(loc.String())
	}
	return Permanent(fmt.Errorf("%s: redirected to %s (HTTP %d): fix the URL", what, to, resp.StatusCode))
}

// replyLimit bounds how much of a reply body is read.
const replyLimit = 64 << 10

// httpReply is what a service answered.
type httpReply struct {
	Status int
	Header http.Header
	Body   []byte
}

// doJSON sends body (JSON unless header sets another Content-Type) under
// ctx and reads the reply. Transport failures are temporary and never
// quote the URL (it may hold a token); the caller classifies statuses.
func doJSON(ctx context.Context, client *http.Client, what, method, target string, header http.Header, body []byte) (httpReply, error) {
	ctx, written := traceWritten(ctx)
	req, err := http.NewRequestWithContext(ctx, method, target, bytes.NewReader(body))
	if err != nil {
		return httpReply{}, Permanent(fmt.Errorf("%s: %w", what, err))
	}
	for k, vs := range header {
		for _, v := range vs {
			req.Header.Add(k, v)
		}
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if req.Header.Get("User-Agent") == "" {
		req.Header.Set("User-Agent", "crier/"+crier.Version+" (+"+crier.ProjectURL+")")
	}
	resp, err := client.Do(req)
	if err != nil {
		// The URL may hold a secret (webhooks, bot tokens): say only what.
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return httpReply{}, transportError(fmt.Errorf("%s: %w", what, err), written())
	}
	defer resp.Body.Close()
	if resp.StatusCode >= 300 && resp.StatusCode < 400 {
		return httpReply{}, redirectError(what, resp)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, replyLimit))
	if err != nil && resp.StatusCode >= 200 && resp.StatusCode < 300 {
		// Accepted; a broken reply body is not worth a duplicate.
		err = nil
	}
	if err != nil {
		return httpReply{}, Temporary(fmt.Errorf("%s: reading reply: %w", what, err), 0)
	}
	return httpReply{Status: resp.StatusCode, Header: resp.Header, Body: data}, nil
}

// replySnippet is a reply body fit for an error message.
func replySnippet(b []byte) string { return crier.Truncate(collapse(string(b)), 200) }

// snippet is a reply body fit for an error message, the notifier's
// secrets masked before it is cut.
func (s *service) snippet(b []byte) string { return replySnippet([]byte(s.secrets.scrub(string(b)))) }
