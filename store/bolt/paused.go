package bolt

import (
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// bPaused holds feedID -> when it was paused. It is created on first use,
// so state files written before pausing existed need no migration.
var bPaused = []byte("paused")

// Pause stops the scheduled polls of feedID until Resume; it survives a
// restart and a reload. Pausing a paused feed keeps its first time, which
// is returned.
func (s *Store) Pause(feedID string) (since time.Time, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b, err := tx.CreateBucketIfNotExists(bPaused)
		if err != nil {
			return err
		}
		if v := b.Get([]byte(feedID)); v != nil {
			since = bytesTime(v)
			return nil
		}
		since = s.now()
		return b.Put([]byte(feedID), timeBytes(since))
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("feed %s: pause: %w", feedID, err)
	}
	return since, nil
}

// Resume lets feedID's scheduled polls run again; it reports whether the
// feed was paused.
func (s *Store) Resume(feedID string) (was bool, err error) {
	err = s.db.Update(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bPaused)
		if b == nil || b.Get([]byte(feedID)) == nil {
			return nil
		}
		was = true
		return b.Delete([]byte(feedID))
	})
	if err != nil {
		return false, fmt.Errorf("feed %s: resume: %w", feedID, err)
	}
	return was, nil
}

// IsPaused reports whether feedID is paused. The poller asks before every
// scheduled poll: one read transaction, no decoding.
func (s *Store) IsPaused(feedID string) (bool, error) {
	var paused bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		if b := tx.Bucket(bPaused); b != nil {
			paused = b.Get([]byte(feedID)) != nil
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("feed %s: read pause: %w", feedID, err)
	}
	return paused, nil
}

// Paused returns every paused feed ID and when it was paused.
func (s *Store) Paused() (map[string]time.Time, error) {
	out := map[string]time.Time{}
	err := s.db.View(func(tx *bbolt.Tx) error {
		b := tx.Bucket(bPaused)
		if b == nil {
			return nil
		}
		return b.ForEach(func(k, v []byte) error {
			out[string(k)] = bytesTime(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read paused feeds: %w", err)
	}
	return out, nil
}
