package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

// FeedState returns what was remembered about feedID; false if nothing.
func (s *Store) FeedState(feedID string) (crier.FeedState, bool, error) {
	ctx, cancel := s.op()
	defer cancel()
	var raw []byte
	err := s.pool.QueryRow(ctx, "SELECT state FROM crier_feeds WHERE feed_id = $1", feedID).Scan(&raw)
	if errors.Is(err, pgx.ErrNoRows) {
		return crier.FeedState{}, false, nil
	}
	if err != nil {
		return crier.FeedState{}, false, fmt.Errorf("feed %s: load state: %w", feedID, err)
	}
	var st crier.FeedState
	if err := json.Unmarshal(raw, &st); err != nil {
		return crier.FeedState{}, false, fmt.Errorf("feed %s: decode state: %w", feedID, err)
	}
	return st, true, nil
}

// FeedStates returns the state of every feed the database knows, by feed ID.
func (s *Store) FeedStates() (map[string]crier.FeedState, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT feed_id, state FROM crier_feeds")
	if err != nil {
		return nil, fmt.Errorf("load feed states: %w", err)
	}
	out := make(map[string]crier.FeedState)
	var id string
	var raw []byte
	_, err = pgx.ForEachRow(rows, []any{&id, &raw}, func() error {
		var st crier.FeedState
		if err := json.Unmarshal(raw, &st); err != nil {
			return fmt.Errorf("feed %s: decode state: %w", id, err)
		}
		out[id] = st
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("load feed states: %w", err)
	}
	return out, nil
}

// SaveFeedState records st for a poll that brought no items. Unlike bbolt,
// which defers a state that only moved its poll times, it writes at once:
// one small statement is cheap here, and another worker claiming the feed
// next must see when it was last polled. Poll counters that have waited
// long enough ride along.
func (s *Store) SaveFeedState(feedID string, st crier.FeedState) error {
	raw, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("feed %s: encode state: %w", feedID, err)
	}
	ctx, cancel := s.op()
	defer cancel()
	polls := s.polls.takeIfDue(s.now())
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		w := &writes{}
		putState(w, feedID, raw)
		s.writePolls(w, polls)
		return w.send(ctx, tx)
	})
	if err != nil {
		s.polls.putBack(polls)
		return fmt.Errorf("feed %s: save state: %w", feedID, err)
	}
	return nil
}

func putState(w *writes, feedID string, raw []byte) {
	w.exec(`INSERT INTO crier_feeds (feed_id, state) VALUES ($1, $2)
		ON CONFLICT (feed_id) DO UPDATE SET state = excluded.state`, feedID, string(raw))
}

// txPlan is a plan that may read and write other state in the ingest's
// transaction (see IngestStories).
type txPlan func(ctx context.Context, tx pgx.Tx, fresh []crier.NewItem, firstPoll bool) ([]crier.Delivery, error)

// Ingest records a successful fetch of feedID in one transaction, exactly
// as store/bolt's Ingest does (see there): new items are found under the
// feed's lock, plan turns them into deliveries, every key is marked seen,
// the fetch's key set is kept for Prune, the deliveries are queued (and
// the notifiers' dispatchers woken with NOTIFY crier_outbox) and st is
// saved with Seeded set. plan may run more than once.
func (s *Store) Ingest(feedID string, st crier.FeedState, items []crier.Item,
	plan func(fresh []crier.NewItem, firstPoll bool) []crier.Delivery) (crier.IngestResult, error) {
	var p txPlan
	if plan != nil {
		p = func(_ context.Context, _ pgx.Tx, fresh []crier.NewItem, first bool) ([]crier.Delivery, error) {
			return plan(fresh, first), nil
		}
	}
	return s.ingest(feedID, st, items, p)
}

func (s *Store) ingest(feedID string, st crier.FeedState, items []crier.Item, plan txPlan) (crier.IngestResult, error) {
	now := s.now()
	// The fetch's key set, each key once, in item order.
	var fetch []string
	inFetch := make(map[string]bool, 3*len(items))
	for _, it := range items {
		if len(it.Keys) == 0 {
			continue
		}
		for _, ks := range [][]string{it.Keys, it.AltKeys} {
			for _, k := range ks {
				if !inFetch[k] {
					inFetch[k] = true
					fetch = append(fetch, k)
				}
			}
		}
	}
	st.Seeded = true
	raw, err := json.Marshal(st)
	if err != nil {
		return crier.IngestResult{}, fmt.Errorf("feed %s: encode state: %w", feedID, err)
	}

	ctx, cancel := s.op()
	defer cancel()
	polls := s.polls.take()
	var res crier.IngestResult
	err = s.inTx(ctx, func(tx pgx.Tx) error {
		res = crier.IngestResult{}
		// The feed's lock, then its state, latest key set and which of the
		// fetch's keys were seen, in one round trip: at READ COMMITTED the
		// read's snapshot is taken once the lock is held. The LIMIT in the
		// lateral probe keeps it an index lookup per key whatever the
		// planner's statistics say: a join may hash every key the feed
		// ever had.
		var oldRaw []byte
		var latest latestRow
		var seenKeys [][]byte
		var b pgx.Batch
		b.Queue("SELECT pg_advisory_xact_lock($1)", lockKey("crier feed "+feedID))
		b.Queue(`SELECT (SELECT state FROM crier_feeds WHERE feed_id = $1),
				l.feed_id IS NOT NULL, l.keys, l.held_at, l.held_base,
				ARRAY(SELECT x.key FROM unnest($2::bytea[]) k CROSS JOIN LATERAL
					(SELECT key FROM crier_seen WHERE feed_id = $1 AND key = k LIMIT 1) x)
			FROM (SELECT 1) x LEFT JOIN crier_latest l ON l.feed_id = $1`, feedID, keysBytes(fetch))
		br := tx.SendBatch(ctx, &b)
		if _, err := br.Exec(); err != nil {
			br.Close()
			return fmt.Errorf("lock feed: %w", err)
		}
		err := br.QueryRow().Scan(&oldRaw, &latest.exists, &latest.keys, &latest.heldAt, &latest.heldBase, &seenKeys)
		if cerr := br.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("load state and seen keys: %w", err)
		}
		seen := make(map[string]bool, len(seenKeys))
		for _, k := range seenKeys {
			seen[string(k)] = true
		}
		var old crier.FeedState
		if oldRaw != nil {
			if err := json.Unmarshal(oldRaw, &old); err != nil {
				return fmt.Errorf("decode state: %w", err)
			}
		}
		res.FirstPoll = oldRaw == nil || !old.Seeded

		// Decide what is new before writing anything, so that "seen
		// before this batch" is simply "in seen".
		batch := make(map[string]struct{}, 2*len(items))
		var fresh []crier.NewItem
		for _, it := range items {
			if len(it.Keys) == 0 {
				continue
			}
			res.Items++
			isNew := true
			for _, k := range it.Keys {
				if _, dup := batch[k]; dup || seen[k] {
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
				if seen[k] {
					ni.Reposted = true
					break
				}
			}
			fresh = append(fresh, ni)
		}
		res.New = len(fresh)
		w := &writes{}
		if res.New > 0 && !res.FirstPoll {
			s.countDay(w, now, kindNew, feedID, res.New)
		}

		var deliveries []crier.Delivery
		if plan != nil {
			if deliveries, err = plan(ctx, tx, fresh, res.FirstPoll); err != nil {
				return err
			}
		}

		var unseen []string
		for _, k := range fetch {
			if !seen[k] {
				unseen = append(unseen, k)
			}
		}
		if len(unseen) > 0 {
			w.exec(`INSERT INTO crier_seen (feed_id, key, first_seen)
				SELECT $1, k, $3 FROM unnest($2::bytea[]) k ON CONFLICT DO NOTHING`,
				feedID, keysBytes(unseen), now)
		}
		saveLatest(w, feedID, latest, fetch, now)
		if _, err := enqueueTx(ctx, tx, w, now, deliveries); err != nil {
			return err
		}
		res.Queued = len(deliveries)
		putState(w, feedID, raw)
		s.writePolls(w, polls)
		return w.send(ctx, tx)
	})
	if err != nil {
		s.polls.putBack(polls)
		return crier.IngestResult{}, fmt.Errorf("feed %s: ingest %d items: %w", feedID, len(items), err)
	}
	return res, nil
}

// Seen reports whether key has been seen in feedID.
func (s *Store) Seen(feedID, key string) (bool, error) {
	_, ok, err := s.SeenAt(feedID, key)
	return ok, err
}

// SeenAt says when key was first seen in feedID, for `crier explain`.
func (s *Store) SeenAt(feedID, key string) (time.Time, bool, error) {
	ctx, cancel := s.op()
	defer cancel()
	var at time.Time
	err := s.pool.QueryRow(ctx, "SELECT first_seen FROM crier_seen WHERE feed_id = $1 AND key = $2",
		feedID, []byte(key)).Scan(&at)
	if errors.Is(err, pgx.ErrNoRows) {
		return time.Time{}, false, nil
	}
	if err != nil {
		return time.Time{}, false, fmt.Errorf("feed %s: read seen key: %w", feedID, err)
	}
	return at, true, nil
}

// shrinkHold is store/bolt's: how long a feed may serve fewer than half
// the keys of its last full fetch before crier believes it (see there).
const shrinkHold = 30 * 24 * time.Hour

// latestRow is a feed's row of crier_latest.
type latestRow struct {
	exists   bool
	keys     [][]byte
	heldAt   *time.Time
	heldBase *int32
}

// saveLatest stores the key set of feedID's latest fetch, or its union
// with the stored set while a shrink is held, as store/bolt's saveLatest.
func saveLatest(w *writes, feedID string, old latestRow, fetch []string, now time.Time) {
	n := len(fetch)
	base := len(old.keys)
	held := old.heldAt != nil && old.heldBase != nil
	if held {
		base = int(*old.heldBase)
	}
	next := keysBytes(fetch)
	heldAt, heldBase := old.heldAt, old.heldBase
	switch {
	case 2*n >= base:
		heldAt, heldBase = nil, nil
	case held && !now.Before(old.heldAt.Add(shrinkHold)):
		heldAt, heldBase = nil, nil
	default:
		have := make(map[string]bool, len(fetch)+len(old.keys))
		for _, k := range fetch {
			have[k] = true
		}
		for _, k := range old.keys {
			if !have[string(k)] {
				have[string(k)] = true
				next = append(next, k)
			}
		}
		if !held {
			b := int32(base)
			heldAt, heldBase = &now, &b
		}
	}
	if old.exists && (heldAt == nil) == (old.heldAt == nil) && slices.EqualFunc(next, old.keys, func(a, b []byte) bool {
		return string(a) == string(b)
	}) {
		return
	}
	w.exec(`INSERT INTO crier_latest (feed_id, keys, held_at, held_base) VALUES ($1, $2, $3, $4)
		ON CONFLICT (feed_id) DO UPDATE SET keys = excluded.keys, held_at = excluded.held_at, held_base = excluded.held_base`,
		feedID, next, heldAt, heldBase)
}
