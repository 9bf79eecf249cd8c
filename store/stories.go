package store

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// Stories: one story reported by several feeds (same_story). The state is
// bounded by the story window: a story is dropped, with its index entries,
// once it is older than the longest window, by the ingest that notices.
//
//	stories      8-byte story ID (creation order) -> Story JSON
//	storykeys    "l:"/"g:" item key -> 8-byte story ID
//	storybands   8-byte LSH band hash + 8-byte story ID -> nothing
var (
	bStories    = []byte("stories")
	bStoryKeys  = []byte("storykeys")
	bStoryBands = []byte("storybands")
)

// pruneStoriesPerIngest bounds the expired stories one ingest deletes, so
// that the first poll after a long stop does not hold the write lock long.
const pruneStoriesPerIngest = 64

// maxStorySources bounds what one story remembers of its reports.
const maxStorySources = 32

// Story is what crier remembers of one story across feeds.
type Story struct {
	ID       uint64        `json:"id"`
	Title    string        `json:"title"`
	Link     string        `json:"link,omitempty"`
	First    time.Time     `json:"first"`
	Features []string      `json:"features,omitempty"` // headline features (same_story: similar)
	Keys     []string      `json:"keys,omitempty"`     // item keys indexed for it
	Bands    []uint64      `json:"bands,omitempty"`    // LSH bands indexed for it
	Sources  []StorySource `json:"sources"`
	// Notified holds when each notifier was last pushed the story, and
	// Escalated when it was sent its one "Developing: …" push.
	Notified  map[string]time.Time `json:"notified,omitempty"`
	Escalated map[string]time.Time `json:"escalated,omitempty"`
}

// StorySource is one report of a story, with what clustering decided.
type StorySource struct {
	Feed  string    `json:"feed"`
	Title string    `json:"title"`
	Link  string    `json:"link,omitempty"`
	At    time.Time `json:"at"`
	// Match is how the report joined the story: "" for the first report,
	// "link" or "similar"; Score is the headline score of a similar one.
	Match string  `json:"match,omitempty"`
	Score float64 `json:"score,omitempty"`
	// Pushed and Held name the notifiers it went to and those it was kept
	// from as a story they already had.
	Pushed []string `json:"pushed,omitempty"`
	Held   []string `json:"held,omitempty"`
}

// IDString is the story's id as notifications and logs show it.
func (s Story) IDString() string { return fmt.Sprintf("s%d", s.ID) }

// AddSource records a report, keeping the first ones when there are many.
func (s *Story) AddSource(src StorySource) {
	if len(s.Sources) < maxStorySources {
		s.Sources = append(s.Sources, src)
	}
}

// StoryTx is the story index inside an ingest transaction.
type StoryTx struct {
	stories, keys, bands *bolt.Bucket
}

func storyTx(tx *bolt.Tx) (*StoryTx, error) {
	var st StoryTx
	for _, b := range []struct {
		name []byte
		dst  **bolt.Bucket
	}{{bStories, &st.stories}, {bStoryKeys, &st.keys}, {bStoryBands, &st.bands}} {
		bk, err := tx.CreateBucketIfNotExists(b.name)
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", b.name, err)
		}
		*b.dst = bk
	}
	return &st, nil
}

// ByKey returns the story an item key ("l:…", "g:…") was indexed for.
func (t *StoryTx) ByKey(key string) (Story, bool, error) {
	id := t.keys.Get([]byte(key))
	if id == nil {
		return Story{}, false, nil
	}
	return t.load(id)
}

// ByBand returns the stories indexed under an LSH band.
func (t *StoryTx) ByBand(band uint64) ([]Story, error) {
	prefix := u64(band)
	var out []Story
	c := t.bands.Cursor()
	for k, _ := c.Seek(prefix); k != nil && bytes.HasPrefix(k, prefix); k, _ = c.Next() {
		s, ok, err := t.load(k[8:])
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, s)
		}
	}
	return out, nil
}

func (t *StoryTx) load(id []byte) (Story, bool, error) {
	v := t.stories.Get(id)
	if v == nil {
		return Story{}, false, nil
	}
	var s Story
	if err := json.Unmarshal(v, &s); err != nil {
		return Story{}, false, fmt.Errorf("decode story %d: %w", binary.BigEndian.Uint64(id), err)
	}
	return s, true, nil
}

// Put stores s, giving a new story its ID, and indexes its keys and bands.
// A key already indexed for another story keeps pointing there.
func (t *StoryTx) Put(s *Story) error {
	isNew := s.ID == 0
	if isNew {
		id, err := t.stories.NextSequence()
		if err != nil {
			return fmt.Errorf("allocate story id: %w", err)
		}
		s.ID = id
	}
	id := u64(s.ID)
	for _, k := range s.Keys {
		if t.keys.Get([]byte(k)) == nil {
			if err := t.keys.Put([]byte(k), id); err != nil {
				return fmt.Errorf("index story %d: %w", s.ID, err)
			}
		}
	}
	for _, b := range s.Bands {
		if !isNew {
			break // a story's bands are its first headline's
		}
		if err := t.bands.Put(append(u64(b), id...), nil); err != nil {
			return fmt.Errorf("index story %d: %w", s.ID, err)
		}
	}
	v, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode story %d: %w", s.ID, err)
	}
	return t.stories.Put(id, v)
}

// prune deletes up to limit stories first reported before cutoff, oldest
// first, with their index entries.
func (t *StoryTx) prune(cutoff time.Time, limit int) error {
	c := t.stories.Cursor()
	for k, v := c.First(); k != nil && limit > 0; k, v = c.First() {
		var s Story
		if err := json.Unmarshal(v, &s); err != nil {
			return fmt.Errorf("decode story %d: %w", binary.BigEndian.Uint64(k), err)
		}
		if !s.First.Before(cutoff) {
			return nil
		}
		for _, key := range s.Keys {
			if bytes.Equal(t.keys.Get([]byte(key)), k) {
				if err := t.keys.Delete([]byte(key)); err != nil {
					return err
				}
			}
		}
		for _, b := range s.Bands {
			if err := t.bands.Delete(append(u64(b), k...)); err != nil {
				return err
			}
		}
		if err := t.stories.Delete(k); err != nil {
			return err
		}
		limit--
	}
	return nil
}

// IngestStories is Ingest for feeds whose items are matched to stories:
// plan also gets the story index, in the very transaction that marks the
// items seen and queues the deliveries, so a crash can neither lose a
// story's push nor send it twice. Stories first reported more than window
// ago are dropped first.
func (s *Store) IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
	plan func(fresh []crier.NewItem, firstPoll bool, stories *StoryTx) ([]crier.Delivery, error)) (IngestResult, error) {
	now := s.now()
	return s.ingest(feedID, st, items, func(tx *bolt.Tx, fresh []crier.NewItem, first bool) ([]crier.Delivery, error) {
		stx, err := storyTx(tx)
		if err != nil {
			return nil, err
		}
		if err := stx.prune(now.Add(-window), pruneStoriesPerIngest); err != nil {
			return nil, fmt.Errorf("prune stories: %w", err)
		}
		return plan(fresh, first, stx)
	})
}

// StoryByKey returns the story in the window that an item key ("l:" plus
// canonical link, or "g:" plus GUID) belongs to, for `crier explain`.
func (s *Store) StoryByKey(key string) (Story, bool, error) {
	var out Story
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		keys, stories := tx.Bucket(bStoryKeys), tx.Bucket(bStories)
		if keys == nil || stories == nil {
			return nil
		}
		t := &StoryTx{stories: stories, keys: keys}
		var err error
		out, ok, err = t.ByKey(key)
		return err
	})
	if err != nil {
		return Story{}, false, fmt.Errorf("read story of %s: %w", key, err)
	}
	return out, ok, nil
}

// StorySources names the feeds that reported a story ("s12") so far, for
// digests; none once the story has left the window.
func (s *Store) StorySources(story string) []string {
	var id uint64
	if _, err := fmt.Sscanf(story, "s%d", &id); err != nil {
		return nil
	}
	var out []string
	_ = s.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bStories)
		if b == nil {
			return nil
		}
		st, ok, err := (&StoryTx{stories: b}).load(u64(id))
		if err != nil || !ok {
			return err
		}
		for _, src := range st.Sources {
			if !slices.Contains(out, src.Feed) {
				out = append(out, src.Feed)
			}
		}
		return nil
	})
	return out
}
