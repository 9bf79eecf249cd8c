package bolt

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"sync"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// FeedState returns what was remembered about feedID; false if nothing.
func (s *Store) FeedState(feedID string) (crier.FeedState, bool, error) {
	var st crier.FeedState
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		st, ok, err = s.getState(tx, feedID)
		return err
	})
	if err != nil {
		return st, false, fmt.Errorf("feed %s: load state: %w", feedID, err)
	}
	return st, ok, nil
}

// FeedStates returns the state of every feed the file knows, by feed ID.
func (s *Store) FeedStates() (map[string]crier.FeedState, error) {
	out := make(map[string]crier.FeedState)
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bFeeds).ForEach(func(k, _ []byte) error {
			st, _, err := s.getState(tx, string(k))
			if err != nil {
				return fmt.Errorf("feed %s: %w", k, err)
			}
			out[string(k)] = st
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load feed states: %w", err)
	}
	return out, nil
}

// SaveFeedState records st for a poll that brought no items (a failure, a
// 304, an unchanged body). When st differs from the stored state only in
// LastPoll and LastSuccess, its commit is deferred (see deferredStates).
func (s *Store) SaveFeedState(feedID string, st crier.FeedState) error {
	var err error
	if s.deferrable(feedID, st) {
		if !s.deferred.put(feedID, st, s.now()) {
			return nil
		}
		err = s.group.update(func(*bbolt.Tx) error { return nil }) // commits them
	} else {
		err = s.group.update(func(tx *bbolt.Tx) error { return s.putState(tx, feedID, st) })
	}
	if err != nil {
		return fmt.Errorf("feed %s: save state: %w", feedID, err)
	}
	return nil
}

func (s *Store) getState(tx *bbolt.Tx, feedID string) (crier.FeedState, bool, error) {
	if st, ok := s.deferred.get(feedID); ok {
		return st, true, nil
	}
	var st crier.FeedState
	v := tx.Bucket(bFeeds).Get([]byte(feedID))
	if v == nil {
		return st, false, nil
	}
	if st, ok := s.states.get(feedID, v); ok {
		return st, true, nil
	}
	if err := json.Unmarshal(v, &st); err != nil {
		return st, false, fmt.Errorf("decode state: %w", err)
	}
	s.states.put(feedID, bytes.Clone(v), st)
	return st, true, nil
}

// putState writes st, superseding a deferred state of the feed.
func (s *Store) putState(tx *bbolt.Tx, feedID string, st crier.FeedState) error {
	s.deferred.drop(feedID)
	return s.writeState(tx, feedID, st)
}

func (s *Store) writeState(tx *bbolt.Tx, feedID string, st crier.FeedState) error {
	v, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("encode state: %w", err)
	}
	if err := tx.Bucket(bFeeds).Put([]byte(feedID), v); err != nil {
		return err
	}
	s.states.put(feedID, v, st)
	return nil
}

// stateCache remembers each feed's state as last written or read, with its
// encoding: every poll reads back what the previous poll wrote, and decoding
// JSON into FeedState's eight times costs a 304 poll more than its HTTP.
// An entry is used only while the stored bytes equal its own, so a write
// that was rolled back, or any writer that bypasses the cache, can never
// make a read stale. About 1 KB a feed.
type stateCache struct {
	mu sync.Mutex
	m  map[string]cachedState
}

type cachedState struct {
	raw []byte // never modified: bbolt may still hold it as a Put value
	st  crier.FeedState
}

func (c *stateCache) get(feedID string, raw []byte) (crier.FeedState, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[feedID]
	if !ok || !bytes.Equal(e.raw, raw) {
		return crier.FeedState{}, false
	}
	return e.st, true
}

func (c *stateCache) put(feedID string, raw []byte, st crier.FeedState) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = make(map[string]cachedState)
	}
	c.m[feedID] = cachedState{raw: raw, st: st}
}

func (c *stateCache) forget(feedID string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, feedID)
}

// Ingest records a successful fetch of feedID in one write transaction:
// it finds the new items, lets plan turn them into deliveries, marks every
// key of every item seen, remembers the fetch's key set for Prune, queues
// the deliveries, counts the new items in the day's counters (not on the
// seeding poll: a backlog is not news) and saves st (with Seeded set).
//
// An item is new when none of its Keys is in the feed's seen set nor among
// the Keys of an earlier item of the same batch. A new item is Reposted when
// one of its AltKeys was seen before this batch. firstPoll is true when the
// feed had never been seeded. Items without Keys are skipped.
//
// plan runs inside the write transaction: it must be quick, must not call
// the Store, and may run more than once (the transaction is shared with
// other feeds' polls and retried alone when one of them fails). A nil plan
// queues nothing.
func (s *Store) Ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery) (crier.IngestResult, error) {
	var txPlan func(*bbolt.Tx, []crier.NewItem, bool) ([]crier.Delivery, error)
	if plan != nil {
		txPlan = func(_ *bbolt.Tx, fresh []crier.NewItem, first bool) ([]crier.Delivery, error) {
			return plan(fresh, first), nil
		}
	}
	return s.ingest(feedID, st, items, txPlan)
}

// ingest is Ingest with a plan that may read and write other state in the
// same transaction (see IngestStories).
func (s *Store) ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func(tx *bbolt.Tx, fresh []crier.NewItem, firstPoll bool) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	var res crier.IngestResult
	now := s.now()
	err := s.group.update(func(tx *bbolt.Tx) error {
		res = crier.IngestResult{}
		old, ok, err := s.getState(tx, feedID)
		if err != nil {
			return err
		}
		res.FirstPoll = !ok || !old.Seeded
		seen, err := tx.Bucket(bSeen).CreateBucketIfNotExists([]byte(feedID))
		if err != nil {
			return fmt.Errorf("create seen bucket: %w", err)
		}

		// Decide what is new before writing anything, so that "seen before
		// this batch" is simply "in the bucket".
		var kb []byte // scratch for lookups: bbolt only keeps Put's slices
		has := func(k string) bool {
			kb = append(kb[:0], k...)
			return seen.Get(kb) != nil
		}
		batch := make(map[string]struct{}, 2*len(items))
		var fresh []crier.NewItem
		nkeys := 0
		for _, it := range items {
			if len(it.Keys) == 0 {
				continue
			}
			res.Items++
			nkeys += len(it.Keys) + len(it.AltKeys)
			isNew := true
			for _, k := range it.Keys {
				if _, dup := batch[k]; dup || has(k) {
					isNew = false
					break
				}
			}
			for _, k := range it.Keys {
				batch[k] = struct{}{}
			}
			if !isNew {
				continue
			}
			ni := crier.NewItem{Item: it}
			for _, k := range it.AltKeys {
				if has(k) {
					ni.Reposted = true
					break
				}
			}
			fresh = append(fresh, ni)
		}
		res.New = len(fresh)
		if res.New > 0 && !res.FirstPoll {
			if err := countDay(tx, now, kindNew, feedID, res.New); err != nil {
				return err
			}
		}

		var deliveries []crier.Delivery
		if plan != nil {
			if deliveries, err = plan(tx, fresh, res.FirstPoll); err != nil {
				return err
			}
		}

		// Mark seen, keeping the first-seen time of keys already known;
		// collect the fetch's key set on the way.
		stamp := timeBytes(now)
		latest := make([]byte, 0, nkeys*24)
		nlatest := 0
		mark := func(k string) error {
			nlatest++
			latest = binary.AppendUvarint(latest, uint64(len(k)))
			latest = append(latest, k...)
			if has(k) {
				return nil
			}
			return seen.Put([]byte(k), stamp)
		}
		for _, it := range items {
			if len(it.Keys) == 0 {
				continue
			}
			for _, k := range it.Keys {
				if err := mark(k); err != nil {
					return fmt.Errorf("mark %q seen: %w", k, err)
				}
			}
			for _, k := range it.AltKeys {
				if err := mark(k); err != nil {
					return fmt.Errorf("mark %q seen: %w", k, err)
				}
			}
		}
		if err := saveLatest(tx, []byte(feedID), latest, nlatest, now); err != nil {
			return fmt.Errorf("save latest key set: %w", err)
		}

		if _, err := enqueueTx(tx, now, deliveries); err != nil {
			return err
		}
		res.Queued = len(deliveries)

		st.Seeded = true
		return s.putState(tx, feedID, st)
	})
	if err != nil {
		return crier.IngestResult{}, fmt.Errorf("feed %s: ingest %d items: %w", feedID, len(items), err)
	}
	return res, nil
}

// Seen reports whether key has been seen in feedID.
func (s *Store) Seen(feedID, key string) (bool, error) {
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bSeen).Bucket([]byte(feedID)); b != nil {
			ok = b.Get([]byte(key)) != nil
		}
		return nil
	})
	return ok, err
}
