package bolt

import (
	"bytes"
	"context"
	"fmt"
	"time"

	bbolt "go.etcd.io/bbolt"
)

const defaultPruneChunk = 1000

// Prune applies retention. It deletes seen keys first seen before cutoff
// that are not in their feed's latest key set (a key still on the feed must
// stay, or its item would be announced again), and forgets feeds that are
// not in keepFeeds and were last polled before cutoff: their seen keys,
// latest set and state. A nil keepFeeds keeps every feed: forgetting feeds
// needs an explicit list.
//
// The work is split so that no write transaction touches more than chunk
// keys (<= 0 means 1000); candidates are found in read transactions and
// re-checked in the write, so a poll that runs in between is respected.
// Prune stops early with ctx's error when ctx is done.
func (s *Store) Prune(ctx context.Context, cutoff time.Time, keepFeeds map[string]bool, chunk int) (removed int, err error) {
	if chunk <= 0 {
		chunk = defaultPruneChunk
	}
	ids, err := s.knownFeeds()
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	for _, id := range ids {
		p := feedPruner{s: s, id: []byte(id), cutoff: cutoff, chunk: chunk,
			keep: keepFeeds == nil || keepFeeds[id]}
		n, err := p.run(ctx)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("prune feed %s: %w", id, err)
		}
	}
	return removed, nil
}

// knownFeeds lists every feed ID that has a state, seen keys or a latest set.
func (s *Store) knownFeeds() ([]string, error) {
	set := make(map[string]struct{})
	var ids []string
	add := func(k []byte) {
		if _, ok := set[string(k)]; !ok {
			set[string(k)] = struct{}{}
			ids = append(ids, string(k))
		}
	}
	err := s.db.View(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bFeeds, bLatest} {
			if err := tx.Bucket(name).ForEach(func(k, _ []byte) error { add(k); return nil }); err != nil {
				return err
			}
		}
		return tx.Bucket(bSeen).ForEachBucket(func(k []byte) error { add(k); return nil })
	})
	return ids, err
}

type feedPruner struct {
	s      *Store
	id     []byte
	cutoff time.Time
	chunk  int
	keep   bool
}

// drop reports whether the whole feed is to be forgotten, judged afresh in
// each transaction: a feed removed from the config but polled again since
// (say, after a reload) is not dropped.
func (p *feedPruner) drop(tx *bbolt.Tx) (bool, error) {
	if p.keep {
		return false, nil
	}
	st, _, err := p.s.getState(tx, string(p.id))
	if err != nil {
		return false, err
	}
	return st.LastPoll.Before(p.cutoff), nil
}

// doomed reports whether a seen key with first-seen bytes v goes, given
// the feed's latest set (nil when the whole feed goes).
func (p *feedPruner) doomed(k, v []byte, drop bool, latest map[string]struct{}) bool {
	if drop {
		return true
	}
	if latest == nil || !bytesTime(v).Before(p.cutoff) {
		return false
	}
	_, current := latest[string(k)]
	return !current
}

// protection returns the feed's latest key set, or nil when the feed is to
// be dropped; ok is false when the set cannot be read and nothing may go.
func (p *feedPruner) protection(tx *bbolt.Tx) (drop bool, latest map[string]struct{}, ok bool, err error) {
	if drop, err = p.drop(tx); err != nil || drop {
		return drop, nil, true, err
	}
	latest, ok = decodeLatest(tx.Bucket(bLatest).Get(p.id))
	return false, latest, ok, nil
}

func (p *feedPruner) run(ctx context.Context) (int, error) {
	removed := 0
	var after []byte // last key scanned; the next scan starts past it
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		var cands [][]byte
		err := p.s.db.View(func(tx *bbolt.Tx) error {
			cands, done = nil, true
			seen := tx.Bucket(bSeen).Bucket(p.id)
			if seen == nil {
				return nil
			}
			drop, latest, ok, err := p.protection(tx)
			if err != nil || !ok {
				return err
			}
			c := seen.Cursor()
			k, v := c.First()
			if after != nil {
				k, v = c.Seek(after)
				if bytes.Equal(k, after) {
					k, v = c.Next()
				}
			}
			for n := 0; k != nil; k, v = c.Next() {
				if n == p.chunk {
					done = false
					break
				}
				n++
				after = append(after[:0], k...)
				if p.doomed(k, v, drop, latest) {
					cands = append(cands, bytes.Clone(k))
				}
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
		if len(cands) == 0 {
			continue
		}
		n, err := p.delete(cands)
		removed += n
		if err != nil {
			return removed, err
		}
	}
	if p.keep {
		return removed, nil
	}
	return removed, p.forget()
}

// delete removes those candidates that are still doomed.
func (p *feedPruner) delete(cands [][]byte) (int, error) {
	if p.s.pruneHook != nil {
		p.s.pruneHook(len(cands))
	}
	n := 0
	err := p.s.db.Update(func(tx *bbolt.Tx) error {
		n = 0
		seen := tx.Bucket(bSeen).Bucket(p.id)
		if seen == nil {
			return nil
		}
		drop, latest, ok, err := p.protection(tx)
		if err != nil || !ok {
			return err
		}
		for _, k := range cands {
			if v := seen.Get(k); v != nil && p.doomed(k, v, drop, latest) {
				if err := seen.Delete(k); err != nil {
					return fmt.Errorf("delete seen key: %w", err)
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

// forget removes what is left of a dropped feed once its seen keys are gone.
func (p *feedPruner) forget() error {
	return p.s.db.Update(func(tx *bbolt.Tx) error {
		drop, err := p.drop(tx)
		if err != nil || !drop {
			return err
		}
		seenRoot := tx.Bucket(bSeen)
		if seen := seenRoot.Bucket(p.id); seen != nil {
			if k, _ := seen.Cursor().First(); k != nil {
				return nil // keys arrived meanwhile: leave it for the next Prune
			}
			if err := seenRoot.DeleteBucket(p.id); err != nil {
				return fmt.Errorf("delete seen bucket: %w", err)
			}
		}
		if err := tx.Bucket(bLatest).Delete(p.id); err != nil {
			return fmt.Errorf("delete latest key set: %w", err)
		}
		if err := tx.Bucket(bHeld).Delete(p.id); err != nil {
			return fmt.Errorf("delete held shrink: %w", err)
		}
		if err := tx.Bucket(bFeeds).Delete(p.id); err != nil {
			return fmt.Errorf("delete state: %w", err)
		}
		if b := tx.Bucket(bPaused); b != nil { // created on first pause
			if err := b.Delete(p.id); err != nil {
				return fmt.Errorf("delete pause: %w", err)
			}
		}
		p.s.states.forget(string(p.id))
		p.s.deferred.drop(string(p.id))
		return nil
	})
}
