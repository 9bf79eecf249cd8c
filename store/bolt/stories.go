package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// Stories: one story reported by several feeds (same_story). The state is
// bounded by the story window: a story is dropped, with its index entries,
// once it is older than the longest window, by the ingest that notices.
//
//	stories      8-byte story ID (creation order) -> Story JSON
//	storykeys    "l:"/"g:" item key -> 8-byte story ID
//	storybands   8-byte LSH band hash + 8-byte story ID -> nothing
//	storyfeatures 8-byte story ID -> its features and feeds, for matching
var (
	bStories       = []byte("stories")
	bStoryKeys     = []byte("storykeys")
	bStoryBands    = []byte("storybands")
	bStoryFeatures = []byte("storyfeatures")
)

// pruneStoriesPerIngest bounds the expired stories one ingest deletes, so
// that the first poll after a long stop does not hold the write lock long.
const pruneStoriesPerIngest = 64

// StoryTx is the story index inside an ingest transaction.
type StoryTx struct {
	stories, keys, bands, features *bbolt.Bucket
}

func storyTx(tx *bbolt.Tx) (*StoryTx, error) {
	var st StoryTx
	for _, b := range []struct {
		name []byte
		dst  **bbolt.Bucket
	}{{bStories, &st.stories}, {bStoryKeys, &st.keys}, {bStoryBands, &st.bands}, {bStoryFeatures, &st.features}} {
		bk, err := tx.CreateBucketIfNotExists(b.name)
		if err != nil {
			return nil, fmt.Errorf("create bucket %s: %w", b.name, err)
		}
		*b.dst = bk
	}
	return &st, nil
}

// ByKey returns the story an item key ("l:…", "g:…") was indexed for.
func (t *StoryTx) ByKey(key string) (crier.Story, bool, error) {
	id := t.keys.Get([]byte(key))
	if id == nil {
		return crier.Story{}, false, nil
	}
	return t.load(id)
}

// Candidates returns the stories sharing an LSH band with bands: per band
// the perBand newest, at most limit in all, so that the cost of a lookup
// does not grow with the window however common a band is.
func (t *StoryTx) Candidates(bands []uint64, perBand, limit int) ([]crier.Candidate, error) {
	var out []crier.Candidate
	seen := map[uint64]bool{}
	c := t.bands.Cursor()
	for _, b := range bands {
		// The band's newest entry is the last key before the next band.
		prefix := u64(b)
		var k []byte
		if b == ^uint64(0) {
			k, _ = c.Last()
		} else if k, _ = c.Seek(u64(b + 1)); k == nil {
			k, _ = c.Last()
		} else {
			k, _ = c.Prev()
		}
		for n := 0; k != nil && bytes.HasPrefix(k, prefix) && n < perBand; k, _ = c.Prev() {
			n++
			id := binary.BigEndian.Uint64(k[8:])
			if seen[id] {
				continue
			}
			seen[id] = true
			v := t.features.Get(k[8:])
			if v == nil {
				continue
			}
			out = append(out, decodeCandidate(id, v))
			if len(out) == limit {
				return out, nil
			}
		}
	}
	return out, nil
}

// Story returns the story with the given ID.
func (t *StoryTx) Story(id uint64) (crier.Story, bool, error) { return t.load(u64(id)) }

// The features bucket keeps, per story, its bands (a count and 8 bytes
// each), then "feature\x1f…\x1efeed\x1f…".
func encodeCandidate(s *crier.Story) []byte {
	var feedsSeen []string
	for _, src := range s.Sources {
		if !slices.Contains(feedsSeen, src.Feed) {
			feedsSeen = append(feedsSeen, src.Feed)
		}
	}
	v := binary.AppendUvarint(nil, uint64(len(s.Bands)))
	for _, b := range s.Bands {
		v = binary.BigEndian.AppendUint64(v, b)
	}
	v = append(v, strings.Join(s.Features, "\x1f")...)
	v = append(v, '\x1e')
	return append(v, strings.Join(feedsSeen, "\x1f")...)
}

// decodeBands splits a features value into its bands and the rest.
func decodeBands(v []byte) ([]uint64, []byte) {
	n, used := binary.Uvarint(v)
	if used <= 0 || uint64(len(v)-used) < 8*n {
		return nil, nil
	}
	v = v[used:]
	bands := make([]uint64, n)
	for i := range bands {
		bands[i] = binary.BigEndian.Uint64(v[8*i:])
	}
	return bands, v[8*n:]
}

func decodeCandidate(id uint64, v []byte) crier.Candidate {
	_, v = decodeBands(v)
	fs, feeds, _ := strings.Cut(string(v), "\x1e")
	c := crier.Candidate{ID: id}
	if fs != "" {
		c.Features = strings.Split(fs, "\x1f")
	}
	if feeds != "" {
		c.Feeds = strings.Split(feeds, "\x1f")
	}
	return c
}

func (t *StoryTx) load(id []byte) (crier.Story, bool, error) {
	v := t.stories.Get(id)
	if v == nil {
		return crier.Story{}, false, nil
	}
	var s crier.Story
	if err := json.Unmarshal(v, &s); err != nil {
		return crier.Story{}, false, fmt.Errorf("decode story %d: %w", binary.BigEndian.Uint64(id), err)
	}
	if t.features != nil {
		if fv := t.features.Get(id); fv != nil {
			s.Features = decodeCandidate(s.ID, fv).Features
			s.Bands, _ = decodeBands(fv)
		}
	}
	return s, true, nil
}

// Put stores s, giving a new story its ID, and indexes its keys and bands.
// A key already indexed for another story keeps pointing there.
func (t *StoryTx) Put(s *crier.Story) error {
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
	if len(s.Bands) > 0 {
		if err := t.features.Put(id, encodeCandidate(s)); err != nil {
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
		var s crier.Story
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
		if fv := t.features.Get(k); fv != nil {
			bands, _ := decodeBands(fv)
			for _, b := range bands {
				if err := t.bands.Delete(append(u64(b), k...)); err != nil {
					return err
				}
			}
		}
		if err := t.features.Delete(k); err != nil {
			return err
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
	plan func(fresh []crier.NewItem, firstPoll bool, stories crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	now := s.now()
	return s.ingest(feedID, st, items, func(tx *bbolt.Tx, fresh []crier.NewItem, first bool) ([]crier.Delivery, error) {
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
func (s *Store) StoryByKey(key string) (crier.Story, bool, error) {
	var out crier.Story
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
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
		return crier.Story{}, false, fmt.Errorf("read story of %s: %w", key, err)
	}
	return out, ok, nil
}

// StorySources names the feeds that reported a story ("s12") so far, for
// digests; none once the story has left the window, or when it cannot be
// read (logged: a digest line without its sources is no reason to fail).
func (s *Store) StorySources(story string) []string {
	var id uint64
	if _, err := fmt.Sscanf(story, "s%d", &id); err != nil {
		return nil
	}
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
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
	if err != nil {
		s.log.Error("cannot name a story's sources", "story", story, "err", err)
		return nil
	}
	return out
}

// SeenAt says when key was first seen in feedID, for `crier explain`.
func (s *Store) SeenAt(feedID, key string) (time.Time, bool, error) {
	var at time.Time
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bSeen).Bucket([]byte(feedID)); b != nil {
			if v := b.Get([]byte(key)); v != nil {
				at, ok = bytesTime(v), true
			}
		}
		return nil
	})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("feed %s: read seen key: %w", feedID, err)
	}
	return at, ok, nil
}

var _ crier.StoryIndex = (*StoryTx)(nil)
