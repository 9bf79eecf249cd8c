package feeds

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// A similar match looks at the newest candidatesPerBand stories of each
// LSH band and at most maxCandidates in all: the cost of an item stays the
// same however many feeds fill the window, and a duplicate is reported
// within hours, among a band's newest.
const (
	candidatesPerBand = 4
	maxCandidates     = 32
)

// maxStoryKeys bounds the links and GUIDs one story is found by, however
// many feeds report it.
const maxStoryKeys = 64

// NotifierStory is one notifier's same_story settings.
type NotifierStory struct {
	Mode     crier.SameStory
	Window   time.Duration // 0: crier.DefaultStoryWindow
	Escalate *crier.Escalate
}

func (n NotifierStory) window() time.Duration {
	if n.Window > 0 {
		return n.Window
	}
	return crier.DefaultStoryWindow
}

// StoryPolicy is what clustering needs of the configuration.
type StoryPolicy struct {
	Notifiers map[string]NotifierStory // absent: link, 12h, no escalation
}

// Window is how long stories must be kept: the longest window any
// notifier uses, or any escalation looks back.
func (p StoryPolicy) Window() time.Duration {
	w := crier.DefaultStoryWindow
	for _, n := range p.Notifiers {
		w = max(w, n.window())
		if n.Escalate != nil {
			w = max(w, n.Escalate.Within)
		}
	}
	return w
}

// ClusterInput is one poll's items as clustering sees them.
type ClusterInput struct {
	Feed      crier.Feed
	Fresh     []crier.NewItem // every new item, filtered ones too: they still corroborate
	FirstPoll bool
	Policy    StoryPolicy
	Now       time.Time
}

// storyState is a story being updated by one poll.
type storyState struct {
	story crier.Story
	match string  // how this poll's item joined it: "", "link", "similar"
	score float64 // of a similar match
	src   int     // index of this poll's report in story.Sources
}

// Cluster matches a poll's new items to the stories of the window, drops
// the deliveries of a story a notifier already had, marks the others with
// their story and the feeds that also reported it, and adds one
// "Developing: …" push per story for notifiers whose escalation it meets.
// Like Plan it is policy only: the index is the store's, in the ingest
// transaction, so the story state and the outbox change together.
func Cluster(in ClusterInput, ds []crier.Delivery, idx crier.StoryIndex) ([]crier.Delivery, error) {
	if in.Feed.SameStory == crier.SameStoryOff {
		return ds, nil
	}
	items := in.Fresh
	if in.FirstPoll {
		// The backlog a first poll only marks seen is no news.
		items = newest(items, in.Feed.Backfill)
	}
	byItem := map[string]*storyState{}
	byID := map[uint64]*storyState{}
	var touched []*storyState
	for _, it := range oldestFirst(items) {
		s, err := matchStory(in, it.Item, idx, byID)
		if err != nil {
			return nil, fmt.Errorf("feed %s: item %s: %w", in.Feed.Name, it.Link, err)
		}
		byItem[it.ID()] = s
		if !slices.Contains(touched, s) {
			touched = append(touched, s)
		}
	}

	out := ds[:0:0]
	for _, d := range ds {
		n := d.Notification
		s := byItem[n.ItemID]
		if n.Kind == crier.KindSummary {
			var told []*storyState
			d.Notification.Items, told = storyHeadlines(n.Items, byItem)
			for _, s := range told { // a story in a summary was told too
				if s.story.Notified == nil {
					s.story.Notified = map[string]time.Time{}
				}
				s.story.Notified[d.Notifier] = in.Now
			}
		}
		if n.Kind != crier.KindItem || s == nil {
			out = append(out, d)
			continue
		}
		src := &s.story.Sources[s.src]
		ns := in.Policy.Notifiers[d.Notifier]
		if last, ok := s.story.Notified[d.Notifier]; ok && s.match != "" && in.Now.Sub(last) < ns.window() &&
			matchAllowed(s.match, in.Feed.SameStory, ns.Mode) {
			src.Held = append(src.Held, d.Notifier)
			continue
		}
		if s.story.Notified == nil {
			s.story.Notified = map[string]time.Time{}
		}
		s.story.Notified[d.Notifier] = in.Now
		src.Pushed = append(src.Pushed, d.Notifier)
		d.Notification.AlsoIn = alsoIn(s.story, in.Feed.Name)
		out = append(out, d)
	}

	for _, s := range touched {
		out = append(out, escalations(in, s)...)
	}
	for _, s := range touched {
		if err := idx.Put(&s.story); err != nil {
			return nil, fmt.Errorf("feed %s: %w", in.Feed.Name, err)
		}
	}
	// Stories this poll started got their IDs in Put: mark their
	// deliveries now.
	for i := range out {
		n := &out[i].Notification
		if s := byItem[n.ItemID]; n.Kind == crier.KindItem && s != nil && n.Story == "" {
			n.Story = s.story.IDString()
		}
	}
	return out, nil
}

// matchAllowed reports whether a match of this kind counts for a notifier:
// the feed's mode and the notifier's both must allow it.
func matchAllowed(match string, feed, notifier crier.SameStory) bool {
	need := crier.SameStoryLink
	if match == "similar" {
		need = crier.SameStorySimilar
	}
	return feed.Rank() >= need.Rank() && notifier.Rank() >= need.Rank()
}

// matchStory finds the story an item belongs to, or starts one, and adds
// the item to it as a report.
func matchStory(in ClusterInput, it crier.Item, idx crier.StoryIndex, byID map[uint64]*storyState) (*storyState, error) {
	keys := storyKeys(it)
	var found *storyState
	for _, k := range keys {
		st, ok, err := idx.ByKey(k)
		if err != nil {
			return nil, err
		}
		if ok {
			found = cached(byID, st)
			found.match, found.score = "link", 1
			break
		}
	}
	var features []string
	var bands []uint64
	if in.Feed.SameStory == crier.SameStorySimilar {
		features = storyFeatures(it.Title, it.Summary)
	}
	if found == nil && features != nil {
		bands = storyBands(features)
		cands, err := idx.Candidates(bands, candidatesPerBand, maxCandidates)
		if err != nil {
			return nil, err
		}
		best, bestID := 0.0, uint64(0)
		for _, c := range cands {
			if s, ok := byID[c.ID]; ok {
				c.Features, c.Feeds = s.story.Features, feedsOf(s.story)
			}
			if slices.Contains(c.Feeds, in.Feed.Name) {
				continue // a feed's recurring titles are its own stories
			}
			if sc := headlineScore(features, c.Features); sc >= similarThreshold && sc > best {
				best, bestID = sc, c.ID
			}
		}
		if bestID != 0 {
			if s, ok := byID[bestID]; ok {
				found = s
			} else {
				st, ok, err := idx.Story(bestID)
				if err != nil {
					return nil, err
				}
				if ok {
					found = cached(byID, st)
				}
			}
		}
		if found != nil {
			found.match, found.score = "similar", best
		}
	}
	if found == nil {
		found = &storyState{story: crier.Story{Title: it.Title, Link: it.Link, First: in.Now, Features: features, Bands: bands}}
	}
	for _, k := range keys {
		if len(found.story.Keys) < maxStoryKeys && !slices.Contains(found.story.Keys, k) {
			found.story.Keys = append(found.story.Keys, k)
		}
	}
	found.story.AddSource(crier.StorySource{Feed: in.Feed.Name, Title: it.Title, Link: it.Link, At: in.Now,
		Match: found.match, Score: found.score})
	found.src = len(found.story.Sources) - 1
	return found, nil
}

// cached returns this poll's copy of a story, so that two items of one
// poll update the same record.
func cached(byID map[uint64]*storyState, s crier.Story) *storyState {
	if c, ok := byID[s.ID]; ok {
		return c
	}
	c := &storyState{story: s}
	byID[s.ID] = c
	return c
}

// storyKeys are the item keys that name a story across feeds: the
// canonical link, and a GUID that is a URL or URN. Short GUIDs ("1234")
// are only unique within their feed, and a content hash of "Daily
// briefing" is not a story.
func storyKeys(it crier.Item) []string {
	var out []string
	for _, k := range it.Keys {
		switch {
		case strings.HasPrefix(k, "l:"):
			out = append(out, k)
		case strings.HasPrefix(k, "g:") && (strings.Contains(k, "://") || strings.HasPrefix(k, "g:urn:") || strings.HasPrefix(k, "g:tag:")):
			out = append(out, k)
		}
	}
	return out
}

// feedsOf names the feeds that reported a story.
func feedsOf(s crier.Story) []string {
	var out []string
	for _, src := range s.Sources {
		if !slices.Contains(out, src.Feed) {
			out = append(out, src.Feed)
		}
	}
	return out
}

// alsoIn names the feeds other than feed that reported the story.
func alsoIn(s crier.Story, feed string) []string {
	var out []string
	for _, src := range s.Sources {
		if src.Feed != feed && !slices.Contains(out, src.Feed) {
			out = append(out, src.Feed)
		}
	}
	return out
}

// escalations returns the "Developing: …" pushes a story now earns: for
// each notifier the feed routes to that escalates, once, when enough
// distinct feeds reported it within its time.
func escalations(in ClusterInput, s *storyState) []crier.Delivery {
	var out []crier.Delivery
	for _, n := range routedNotifiers(in.Feed) {
		ns := in.Policy.Notifiers[n]
		e := ns.Escalate
		if e == nil || !s.story.Escalated[n].IsZero() {
			continue
		}
		var feeds []string
		for _, src := range s.story.Sources {
			if in.Now.Sub(src.At) <= e.Within && !slices.Contains(feeds, src.Feed) {
				feeds = append(feeds, src.Feed)
			}
		}
		if len(feeds) < e.Sources {
			continue
		}
		if s.story.Escalated == nil {
			s.story.Escalated = map[string]time.Time{}
		}
		s.story.Escalated[n] = in.Now
		priority := e.Priority
		out = append(out, crier.Delivery{Notifier: n, Notification: crier.Notification{
			Kind:     crier.KindItem,
			Feed:     in.Feed.Name,
			FeedURL:  in.Feed.URL,
			Title:    fmt.Sprintf("Developing: %s — reported by %s", s.story.Title, strings.Join(feeds, ", ")),
			Link:     s.story.Link,
			Priority: &priority,
			Story:    s.story.IDString(),
			AlsoIn:   feeds,
			QueuedAt: in.Now,
		}})
	}
	return out
}

// routedNotifiers are the notifiers any item of the feed may go to.
func routedNotifiers(f crier.Feed) []string {
	out := slices.Clone(f.Notify)
	for _, r := range f.Rules {
		for _, n := range r.Notify {
			if !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	return out
}

// storyHeadlines lists each story of a summary once, with its sources,
// and returns the stories it lists.
func storyHeadlines(hs []crier.Headline, byItem map[string]*storyState) ([]crier.Headline, []*storyState) {
	byLink := map[string]*storyState{}
	for _, s := range byItem {
		src := s.story.Sources[s.src]
		byLink[src.Link] = s
	}
	var out []crier.Headline
	var told []*storyState
	for _, h := range hs {
		s := byLink[h.Link]
		if s == nil || h.Link == "" {
			out = append(out, h)
			continue
		}
		if slices.Contains(told, s) {
			continue
		}
		told = append(told, s)
		h.Sources = strings.Join(alsoIn(s.story, ""), ", ")
		out = append(out, h)
	}
	return out, told
}

// ingest commits a poll, with its stories updated in the same transaction
// unless the feed has same_story: off.
func (p *Poller) ingest(feed crier.Feed, st crier.FeedState, items []crier.Item, now time.Time,
	plan func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery) (crier.IngestResult, error) {
	if feed.SameStory == crier.SameStoryOff {
		return p.store.Ingest(feed.FeedID(), st, items, plan)
	}
	policy := p.routing.Load().Stories
	return p.store.IngestStories(feed.FeedID(), st, items, policy.Window(),
		func(fresh []crier.NewItem, first bool, stories crier.StoryIndex) ([]crier.Delivery, error) {
			return Cluster(ClusterInput{Feed: feed, Fresh: fresh, FirstPoll: first, Policy: policy, Now: now},
				plan(fresh, first), stories)
		})
}
