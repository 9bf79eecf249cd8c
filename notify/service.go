package notify

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
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
	return base{name: cfg.Name, cfg: cfg, render: r, timeout: timeout}, nil
}

// service is a notifier that speaks JSON (mostly) over HTTP to a service.
type service struct {
	base
	what   string // "notifier NAME (kind)": how every error names it
	client *http.Client
}

// newService builds the shared part of an HTTP notifier of the given
// kind ("ntfy", "slack", …). client may be nil: then a plain client
// bounded by the timeout is used.
func newService(cfg crier.NotifierConfig, client *http.Client, kind string, defaultTimeout time.Duration) (service, error) {
	b, err := newBase(cfg, defaultTimeout)
	if err != nil {
		return service{}, err
	}
	return service{base: b, what: "notifier " + cfg.Name + " (" + kind + ")", client: svcClient(client, b.timeout)}, nil
}

// exchange sends body to target under the notifier's timeout and returns
// the reply unjudged; a transport failure comes back already classified.
func (s *service) exchange(ctx context.Context, method, target string, header http.Header, body []byte) (httpReply, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	return doJSON(ctx, s.client, s.what, method, target, header, body)
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
	detail, retry := replySnippet(reply.Body), RetryAfter(reply.Header, time.Now())
	if explain != nil {
		d, r := explain(reply.Body)
		if d != "" {
			detail = d
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
