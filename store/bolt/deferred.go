package bolt

import (
	"reflect"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// deferFor bounds how long a deferred state may wait for its commit.
const deferFor = time.Minute

// deferredStates holds feed states that differ from the stored ones only
// in LastPoll and LastSuccess: what a 304 or an unchanged body leaves
// behind. Committing each with its own fsync made such a poll cost several
// times its HTTP exchange; instead they ride along with the next commit of
// any poll, or are committed together once the oldest has waited deferFor,
// and at Close. Reads see them at once. A crash can lose those two
// timestamps for the feeds polled in the last minute or so, and nothing
// else: the next poll sets them again, and a feed whose LastPoll went back
// is merely polled at start.
type deferredStates struct {
	mu     sync.Mutex
	m      map[string]deferredState
	oldest time.Time // when the oldest entry was deferred
	seq    uint64
}

type deferredState struct {
	st  crier.FeedState
	seq uint64 // tells a later deferral of the same feed from this one
}

func (d *deferredStates) empty() bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.m) == 0
}

func (d *deferredStates) get(feedID string) (crier.FeedState, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	e, ok := d.m[feedID]
	return e.st, ok
}

// put defers st and reports whether the deferred states are due.
func (d *deferredStates) put(feedID string, st crier.FeedState, now time.Time) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.m == nil {
		d.m = make(map[string]deferredState)
	}
	if len(d.m) == 0 {
		d.oldest = now
	}
	d.seq++
	d.m[feedID] = deferredState{st: st, seq: d.seq}
	return now.Sub(d.oldest) >= deferFor
}

// drop forgets feedID's deferred state: a newer one is being written.
func (d *deferredStates) drop(feedID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	delete(d.m, feedID)
}

// dropIf forgets feedID's deferred state if it is still the one numbered seq.
func (d *deferredStates) dropIf(feedID string, seq uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if cur, ok := d.m[feedID]; ok && cur.seq == seq {
		delete(d.m, feedID)
	}
}

func (d *deferredStates) snapshot() map[string]deferredState {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.m) == 0 {
		return nil
	}
	out := make(map[string]deferredState, len(d.m))
	for k, v := range d.m {
		out[k] = v
	}
	return out
}

// committed forgets the entries of snap that were not deferred again since.
func (d *deferredStates) committed(snap map[string]deferredState, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for k, v := range snap {
		if cur, ok := d.m[k]; ok && cur.seq == v.seq {
			delete(d.m, k)
		}
	}
	if len(d.m) > 0 {
		d.oldest = now // close enough: the rest are younger than the commit
	}
}

// flushDeferred writes the deferred states (and the pending poll counters,
// see flushPolls) in tx; done, called after the commit succeeded, forgets
// them. It runs first in every group commit. A
// state that cannot be written is dropped and logged, not returned.
func (s *Store) flushDeferred(tx *bbolt.Tx) (done func(), err error) {
	pollsDone := s.flushPolls(tx)
	snap := s.deferred.snapshot()
	if len(snap) == 0 {
		return pollsDone, nil
	}
	for id, e := range snap {
		if err := s.writeState(tx, id, e.st); err != nil {
			// Nobody waits for this write, and failing the transaction
			// would fail every poll's commit from now on, since the entry
			// would stay deferred. Its feed's last written state stands.
			s.deferred.dropIf(id, e.seq)
			delete(snap, id)
			s.log.Error("dropping a deferred feed state that cannot be written",
				"feed", id, "err", err)
		}
	}
	return func() {
		s.deferred.committed(snap, s.now())
		if pollsDone != nil {
			pollsDone()
		}
	}, nil
}

// deferrable reports whether st differs from the state the store holds for
// feedID only in LastPoll and LastSuccess.
func (s *Store) deferrable(feedID string, st crier.FeedState) bool {
	cur, ok := s.deferred.get(feedID)
	if !ok {
		var err error
		err = s.db.View(func(tx *bbolt.Tx) error {
			cur, ok, err = s.getState(tx, feedID)
			return err
		})
		if err != nil || !ok {
			return false
		}
	}
	return sameBesidesPollTimes(cur, st)
}

// sameBesidesPollTimes compares every field, so a field added to FeedState
// later is never deferred by accident; times compare as instants.
func sameBesidesPollTimes(a, b crier.FeedState) bool {
	a.LastPoll, b.LastPoll = time.Time{}, time.Time{}
	a.LastSuccess, b.LastSuccess = time.Time{}, time.Time{}
	if a == b {
		return true // the usual case: b was read from a and only polled
	}
	va, vb := reflect.ValueOf(a), reflect.ValueOf(b)
	for i := range va.NumField() {
		fa, fb := va.Field(i).Interface(), vb.Field(i).Interface()
		if ta, ok := fa.(time.Time); ok {
			if !ta.Equal(fb.(time.Time)) {
				return false
			}
			continue
		}
		if fa != fb {
			return false
		}
	}
	return true
}
