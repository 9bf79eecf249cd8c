package bolt

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// PruneDeadLetters applies retention to the dead letters: it deletes those
// that died before cutoff, whatever their notifier. A revoked token buries
// every notification until someone notices, and nobody redelivers a
// months-old headline.
//
// Like Prune, it scans at most chunk letters per read transaction (<= 0
// means 1000) and deletes the doomed ones in a write transaction that
// re-checks each, so a letter redelivered and buried again meanwhile stays.
// A letter whose record cannot be decoded is kept: its age is unknown.
// PruneDeadLetters stops early with ctx's error when ctx is done.
func (s *Store) PruneDeadLetters(ctx context.Context, cutoff time.Time, chunk int) (removed int, err error) {
	if chunk <= 0 {
		chunk = defaultPruneChunk
	}
	var after []byte // last key scanned; the next scan starts past it
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		var cands [][]byte
		err := s.db.View(func(tx *bbolt.Tx) error {
			cands, done = nil, true
			c := tx.Bucket(bDead).Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for n := 0; k != nil; k, v = c.Next() {
				if n == chunk {
					done = false
					break
				}
				n++
				after = append(after[:0], k...)
				if diedBefore(v, cutoff) {
					cands = append(cands, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil {
			return removed, fmt.Errorf("prune dead letters: %w", err)
		}
		if len(cands) == 0 {
			continue
		}
		n, err := s.deleteDeadLetters(cands, cutoff)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("prune dead letters: %w", err)
		}
	}
	return removed, nil
}

// deleteDeadLetters removes those candidates that still died before cutoff.
func (s *Store) deleteDeadLetters(cands [][]byte, cutoff time.Time) (int, error) {
	if s.pruneHook != nil {
		s.pruneHook(len(cands))
	}
	n := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		n = 0
		dead := tx.Bucket(bDead)
		for _, k := range cands {
			if v := dead.Get(k); v != nil && diedBefore(v, cutoff) {
				if err := dead.Delete(k); err != nil {
					return fmt.Errorf("delete dead letter: %w", err)
				}
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// diedBefore reports whether the dead letter encoded in v died before
// cutoff; false when v cannot be decoded.
func diedBefore(v []byte, cutoff time.Time) bool {
	var d struct {
		DiedAt time.Time `json:"died_at"`
	}
	if err := json.Unmarshal(v, &d); err != nil {
		return false
	}
	return d.DiedAt.Before(cutoff)
}
