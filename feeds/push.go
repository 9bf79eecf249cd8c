package feeds

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"time"

	"github.com/crierd/crier"
)

// Subscriptions is what polls tell the WebSub subscriber and ask of it.
type Subscriptions interface {
	// Discovered hears the hub and self links of every body a poll parsed
	// of a feed with websub: auto (links without hubs too: the publisher
	// may have dropped its hub).
	Discovered(feed crier.Feed, links HubLinks)
	// Pushing reports whether a hub is known to push the feed now (a
	// verified, unexpired subscription), so that polls may slow down to
	// the feed's websub_fallback.
	Pushing(feedID string) bool
}

type subscriptionsRef struct{ s Subscriptions }

// SetSubscriptions connects the WebSub subscriber; nil disconnects it. The
// subscriber is built after the poller (it pushes into it), hence a setter.
func (p *Poller) SetSubscriptions(s Subscriptions) {
	if s == nil {
		p.subs.Store(nil)
		return
	}
	p.subs.Store(&subscriptionsRef{s})
}

func (p *Poller) subscriptions() Subscriptions {
	if r := p.subs.Load(); r != nil {
		return r.s
	}
	return nil
}

// pushed reports whether a scheduled poll of feed at start may be skipped
// because its hub pushes it and the last poll is younger than the feed's
// websub_fallback. Polls keep coming at that slower pace, so a hub that
// dies quietly costs at most one fallback interval of latency, no story.
func (p *Poller) pushed(feed crier.Feed, st crier.FeedState, start time.Time) bool {
	subs := p.subscriptions()
	if subs == nil || feed.WebSub != crier.WebSubAuto || feed.WebSubFallback <= 0 || st.LastPoll.IsZero() {
		return false
	}
	if !start.Add(slotSlack(p.opt.Interval(feed))).Before(st.LastPoll.Add(feed.WebSubFallback)) {
		return false
	}
	return subs.Pushing(feed.FeedID())
}

// Push takes in a body a WebSub hub delivered for feed, exactly as if a
// poll had fetched it: the same parse, identity, plan and one store
// transaction, one at a time with the feed's polls. It neither fetches
// nor touches what only polls may judge: the feed's validators, its
// refresh floor, its failure count and backoff, and its last poll time
// (which the websub_fallback schedule counts from). A body that does not
// parse is an error for the caller to log; the feed's health is unchanged.
func (p *Poller) Push(ctx context.Context, feed crier.Feed, body []byte, contentType string) (Result, error) {
	res := Result{Feed: feed.Name}
	st, unlock, err := p.takeFeed(ctx, feed)
	if err != nil {
		return res, err
	}
	defer unlock()
	now := p.opt.Now()
	sum := sha256.Sum256(body)
	fr := &FetchResult{
		Status: http.StatusOK, Body: body, BodyHash: hex.EncodeToString(sum[:]),
		ContentType: contentType, FinalURL: pollURL(feed, st),
	}
	res.Status, res.Bytes = fr.Status, len(body)
	if err := p.absorb(feed, fetched{fr: fr, start: now, now: now, push: true}, &st, &res); err != nil {
		res.Err = fmt.Errorf("feed %s (%s): pushed content: %w", feed.Name, feed.URL, err)
	}
	return res, res.Err
}
