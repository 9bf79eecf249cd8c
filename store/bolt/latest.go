package bolt

import (
	"bytes"
	"encoding/binary"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// shrinkHold is how long a feed may serve fewer than half the keys of its
// last full fetch before crier believes it. Until then each fetch's key set
// is merged into the stored one instead of replacing it, so Prune keeps
// protecting items that are most likely still on the feed: one empty
// channel or truncated body from a slow blog would otherwise let Prune
// (every few hours) forget its year-old posts, and the next good fetch
// would announce them all again. A fetch of normal size ends the hold at
// once. The price of a shrink that is real is only that the keys that left
// are kept this much longer; an outage serving an empty feed for longer
// than this still ends in re-announcements once the feed recovers.
const shrinkHold = 30 * 24 * time.Hour

// saveLatest stores the key set of feedID's latest fetch (encoded as
// decodeLatest reads it, n entries), or its union with the stored set
// while a shrink is held. The hold lives in bHeld: when it began, and the
// size of the stored set then, which later fetches are measured against
// (the union itself grows with every small fetch).
func saveLatest(tx *bbolt.Tx, feedID, fetch []byte, n int, now time.Time) error {
	lb, hb := tx.Bucket(bLatest), tx.Bucket(bHeld)
	old := lb.Get(feedID)
	base, ok := countLatest(old)
	since, held := decodeHeld(hb.Get(feedID))
	if held {
		base = since.base
	}
	next := fetch
	switch {
	case !ok || 2*n >= base:
		// A normal fetch (or a stored set that cannot be merged with):
		// it is the truth, and ends any hold.
		if held {
			if err := hb.Delete(feedID); err != nil {
				return err
			}
		}
	case held && !now.Before(since.at.Add(shrinkHold)):
		// The shrink has lasted: believe it.
		if err := hb.Delete(feedID); err != nil {
			return err
		}
	default:
		next = unionLatest(fetch, old)
		if !held {
			if err := hb.Put(feedID, encodeHeld(now, base)); err != nil {
				return err
			}
		}
	}
	if bytes.Equal(old, next) {
		return nil
	}
	return lb.Put(feedID, next)
}

type heldSince struct {
	at   time.Time // the first fetch of the shrink
	base int       // entries of the stored set before it
}

func encodeHeld(at time.Time, base int) []byte {
	return append(timeBytes(at), u64(uint64(base))...)
}

// decodeHeld reads a hold; a malformed one counts as none.
func decodeHeld(v []byte) (heldSince, bool) {
	if len(v) != 16 {
		return heldSince{}, false
	}
	return heldSince{at: bytesTime(v[:8]), base: int(binary.BigEndian.Uint64(v[8:]))}, true
}

// unionLatest returns fetch followed by the entries of old that fetch
// lacks: no bigger than both together.
func unionLatest(fetch, old []byte) []byte {
	have, _ := decodeLatest(fetch)
	out := bytes.Clone(fetch)
	forEachLatest(old, func(k []byte) {
		if _, dup := have[string(k)]; !dup {
			have[string(k)] = struct{}{}
			out = binary.AppendUvarint(out, uint64(len(k)))
			out = append(out, k...)
		}
	})
	return out
}

// countLatest counts the entries of a stored key set; ok is false when it
// is malformed.
func countLatest(v []byte) (n int, ok bool) {
	ok = forEachLatest(v, func([]byte) { n++ })
	return n, ok
}

// forEachLatest calls fn with each key of a stored key set, in order, and
// reports whether the set was well formed to its end.
func forEachLatest(v []byte, fn func(k []byte)) bool {
	for len(v) > 0 {
		n, w := binary.Uvarint(v)
		if w <= 0 || uint64(len(v)-w) < n {
			return false
		}
		fn(v[w : w+int(n)])
		v = v[w+int(n):]
	}
	return true
}

// decodeLatest turns a stored key set into a lookup set. ok is false when
// the value is malformed (Ingest never writes such a thing); Prune then
// protects every key of the feed until the next Ingest rewrites the set,
// because deleting a key still on the feed would announce its item again.
func decodeLatest(v []byte) (set map[string]struct{}, ok bool) {
	set = make(map[string]struct{})
	ok = forEachLatest(v, func(k []byte) { set[string(k)] = struct{}{} })
	return set, ok
}
