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

// Stories: one story reported by several feeds (same_story), bounded by
// the story window as in store/bolt (see its stories.go). crier_stories
// holds each story's JSON and, for similar-headline matching, its
// features, feeds and bands; crier_story_keys and crier_story_bands index
// it and go with it (ON DELETE CASCADE).

// pruneStoriesPerIngest bounds the expired stories one ingest deletes.
const pruneStoriesPerIngest = 64

// storyLock serialises every use of the story index across the fleet.
var storyLock = lockKey("crier stories")

// storyTx is the story index inside an ingest transaction. Its first use
// takes the story lock and drops expired stories; an ingest without new
// items never uses it, so polls that bring nothing new never wait on it.
type storyTx struct {
	ctx    context.Context
	tx     pgx.Tx
	cutoff time.Time
	locked bool
}

func (t *storyTx) lock() error {
	if t.locked {
		return nil
	}
	if _, err := t.tx.Exec(t.ctx, "SELECT pg_advisory_xact_lock($1)", storyLock); err != nil {
		return fmt.Errorf("lock story index: %w", err)
	}
	t.locked = true
	return t.prune()
}

// tryPrune drops expired stories if the story lock is free.
func (t *storyTx) tryPrune() error {
	if t.locked {
		return nil
	}
	var got bool
	if err := t.tx.QueryRow(t.ctx, "SELECT pg_try_advisory_xact_lock($1)", storyLock).Scan(&got); err != nil {
		return fmt.Errorf("lock story index: %w", err)
	}
	if !got {
		return nil
	}
	t.locked = true
	return t.prune()
}

// prune deletes up to pruneStoriesPerIngest stories first reported before
// the cutoff, oldest first, stopping at the first one that is not.
func (t *storyTx) prune() error {
	_, err := t.tx.Exec(t.ctx, `DELETE FROM crier_stories WHERE id IN (
		SELECT id FROM (SELECT id, first, bool_and(first < $1) OVER (ORDER BY id) AS expired
			FROM (SELECT id, first FROM crier_stories ORDER BY id LIMIT $2) oldest) o
		WHERE expired)`, t.cutoff, pruneStoriesPerIngest)
	if err != nil {
		return fmt.Errorf("prune stories: %w", err)
	}
	return nil
}

const storyColumns = "s.story, s.features, s.bands"

// scanStory reads storyColumns.
func scanStory(row pgx.Row) (crier.Story, bool, error) {
	var raw []byte
	var features []string
	var bands []int64
	err := row.Scan(&raw, &features, &bands)
	if errors.Is(err, pgx.ErrNoRows) {
		return crier.Story{}, false, nil
	}
	if err != nil {
		return crier.Story{}, false, err
	}
	var s crier.Story
	if err := json.Unmarshal(raw, &s); err != nil {
		return crier.Story{}, false, fmt.Errorf("decode story: %w", err)
	}
	if bands != nil {
		s.Features = features
		s.Bands = make([]uint64, len(bands))
		for i, b := range bands {
			s.Bands[i] = uint64(b)
		}
	}
	return s, true, nil
}

// ByKey returns the story an item key ("l:…", "g:…") was indexed for.
func (t *storyTx) ByKey(key string) (crier.Story, bool, error) {
	if err := t.lock(); err != nil {
		return crier.Story{}, false, err
	}
	return scanStory(t.tx.QueryRow(t.ctx, "SELECT "+storyColumns+
		" FROM crier_story_keys k JOIN crier_stories s ON s.id = k.story_id WHERE k.key = $1", []byte(key)))
}

// Story returns the story with the given ID.
func (t *storyTx) Story(id uint64) (crier.Story, bool, error) {
	if err := t.lock(); err != nil {
		return crier.Story{}, false, err
	}
	return scanStory(t.tx.QueryRow(t.ctx, "SELECT "+storyColumns+" FROM crier_stories s WHERE s.id = $1", int64(id)))
}

// Candidates returns the stories sharing an LSH band with bands: per band
// the perBand newest, at most limit in all, in one query.
func (t *storyTx) Candidates(bands []uint64, perBand, limit int) ([]crier.Candidate, error) {
	if err := t.lock(); err != nil {
		return nil, err
	}
	if len(bands) == 0 || limit <= 0 {
		return nil, nil
	}
	bs := make([]int64, len(bands))
	for i, b := range bands {
		bs[i] = int64(b)
	}
	rows, err := t.tx.Query(t.ctx, `SELECT x.id, x.features, x.feeds
		FROM unnest($1::bigint[]) WITH ORDINALITY AS u(band, ord)
		CROSS JOIN LATERAL (SELECT s.id, s.features, s.feeds FROM crier_story_bands b
			JOIN crier_stories s ON s.id = b.story_id
			WHERE b.band = u.band ORDER BY b.story_id DESC LIMIT $2) x
		ORDER BY u.ord, x.id DESC`, bs, perBand)
	if err != nil {
		return nil, fmt.Errorf("story candidates: %w", err)
	}
	var out []crier.Candidate
	seen := map[uint64]bool{}
	var id int64
	var features, feeds []string
	_, err = pgx.ForEachRow(rows, []any{&id, &features, &feeds}, func() error {
		if seen[uint64(id)] || len(out) == limit {
			return nil
		}
		seen[uint64(id)] = true
		out = append(out, crier.Candidate{ID: uint64(id), Features: features, Feeds: feeds})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("story candidates: %w", err)
	}
	return out, nil
}

// Put stores s, giving a new story its ID, and indexes its keys and bands.
// A key already indexed for another story keeps pointing there; a story's
// bands are its first headline's.
func (t *storyTx) Put(s *crier.Story) error {
	if err := t.lock(); err != nil {
		return err
	}
	isNew := s.ID == 0
	if isNew {
		var id int64
		if err := t.tx.QueryRow(t.ctx, "SELECT nextval(pg_get_serial_sequence('crier_stories', 'id'))").Scan(&id); err != nil {
			return fmt.Errorf("allocate story id: %w", err)
		}
		s.ID = uint64(id)
	}
	raw, err := json.Marshal(s)
	if err != nil {
		return fmt.Errorf("encode story %d: %w", s.ID, err)
	}
	if len(s.Bands) > 0 {
		var feeds []string
		for _, src := range s.Sources {
			if !slices.Contains(feeds, src.Feed) {
				feeds = append(feeds, src.Feed)
			}
		}
		bands := make([]int64, len(s.Bands))
		for i, b := range s.Bands {
			bands[i] = int64(b)
		}
		features := s.Features
		if features == nil {
			features = []string{}
		}
		_, err = t.tx.Exec(t.ctx, `INSERT INTO crier_stories (id, first, story, features, feeds, bands)
			VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET first = excluded.first,
			story = excluded.story, features = excluded.features, feeds = excluded.feeds, bands = excluded.bands`,
			int64(s.ID), s.First, string(raw), features, feeds, bands)
	} else {
		_, err = t.tx.Exec(t.ctx, `INSERT INTO crier_stories (id, first, story) VALUES ($1, $2, $3)
			ON CONFLICT (id) DO UPDATE SET first = excluded.first, story = excluded.story`,
			int64(s.ID), s.First, string(raw))
	}
	if err != nil {
		return fmt.Errorf("store story %d: %w", s.ID, err)
	}
	if len(s.Keys) > 0 {
		if _, err := t.tx.Exec(t.ctx, `INSERT INTO crier_story_keys (key, story_id)
			SELECT k, $2 FROM unnest($1::bytea[]) k ON CONFLICT DO NOTHING`, keysBytes(s.Keys), int64(s.ID)); err != nil {
			return fmt.Errorf("index story %d: %w", s.ID, err)
		}
	}
	if isNew && len(s.Bands) > 0 {
		bands := make([]int64, len(s.Bands))
		for i, b := range s.Bands {
			bands[i] = int64(b)
		}
		if _, err := t.tx.Exec(t.ctx, `INSERT INTO crier_story_bands (band, story_id)
			SELECT b, $2 FROM unnest($1::bigint[]) b ON CONFLICT DO NOTHING`, bands, int64(s.ID)); err != nil {
			return fmt.Errorf("index story %d: %w", s.ID, err)
		}
	}
	return nil
}

// IngestStories is Ingest for feeds whose items are matched to stories:
// plan also gets the story index, in the very transaction that marks the
// items seen and queues the deliveries. Stories first reported more than
// window ago are dropped first, as with bbolt; when the poll brought
// nothing new and another ingest holds the index, that is left to the
// next one.
func (s *Store) IngestStories(feedID string, st crier.FeedState, items []crier.Item, window time.Duration,
	plan func(fresh []crier.NewItem, firstPoll bool, stories crier.StoryIndex) ([]crier.Delivery, error)) (crier.IngestResult, error) {
	cutoff := s.now().Add(-window)
	return s.ingest(feedID, st, items, func(ctx context.Context, tx pgx.Tx, fresh []crier.NewItem, first bool) ([]crier.Delivery, error) {
		idx := &storyTx{ctx: ctx, tx: tx, cutoff: cutoff}
		if len(fresh) == 0 {
			// Nothing to cluster: drop expired stories only if nobody is
			// using the index, rather than wait for it.
			if err := idx.tryPrune(); err != nil {
				return nil, err
			}
		}
		return plan(fresh, first, idx)
	})
}

// StoryByKey returns the story in the window that an item key belongs to,
// for `crier explain`.
func (s *Store) StoryByKey(key string) (crier.Story, bool, error) {
	ctx, cancel := s.op()
	defer cancel()
	st, ok, err := scanStory(s.pool.QueryRow(ctx, "SELECT "+storyColumns+
		" FROM crier_story_keys k JOIN crier_stories s ON s.id = k.story_id WHERE k.key = $1", []byte(key)))
	if err != nil {
		return crier.Story{}, false, fmt.Errorf("read story of %s: %w", key, err)
	}
	return st, ok, nil
}

// StorySources names the feeds that reported a story ("s12") so far, for
// digests; none once the story has left the window, or when it cannot be
// read (logged).
func (s *Store) StorySources(story string) []string {
	var id uint64
	if _, err := fmt.Sscanf(story, "s%d", &id); err != nil {
		return nil
	}
	ctx, cancel := s.op()
	defer cancel()
	st, ok, err := scanStory(s.pool.QueryRow(ctx, "SELECT "+storyColumns+" FROM crier_stories s WHERE s.id = $1", int64(id)))
	if err != nil {
		s.log.Error("cannot name a story's sources", "story", story, "err", err)
		return nil
	}
	if !ok {
		return nil
	}
	var out []string
	for _, src := range st.Sources {
		if !slices.Contains(out, src.Feed) {
			out = append(out, src.Feed)
		}
	}
	return out
}

var _ crier.StoryIndex = (*storyTx)(nil)
