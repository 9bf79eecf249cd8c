package postgres

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

// A fleet's leases (crier_schedule for feeds, crier_lanes for notifier
// lanes) expire by the database's clock: every worker compares against the
// same now(), so a worker whose clock runs ahead cannot take a lease
// early, nor one whose clock lags hold it late. When a feed is due is the
// caller's business (the now ClaimDue is passed and the times SyncFeeds
// and Reschedule set): a skewed clock there only moves a poll by the skew.

// SyncFeeds makes the scheduled feeds exactly feeds: a feed new to the
// database is due at its Due, one whose Schedule changed is due at the
// earlier of its old due time and Due, and feeds not listed are dropped.
func (s *Store) SyncFeeds(ctx context.Context, feeds []crier.FeedDue) error {
	ids := make([]string, len(feeds))
	scheds := make([]string, len(feeds))
	dues := make([]time.Time, len(feeds))
	for i, f := range feeds {
		ids[i], scheds[i], dues[i] = f.FeedID, f.Schedule, f.Due
	}
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `INSERT INTO crier_schedule (feed_id, schedule, next_due)
			SELECT * FROM unnest($1::text[], $2::text[], $3::timestamptz[])
			ON CONFLICT (feed_id) DO UPDATE SET schedule = excluded.schedule,
				next_due = least(crier_schedule.next_due, excluded.next_due)
			WHERE crier_schedule.schedule IS DISTINCT FROM excluded.schedule`, ids, scheds, dues); err != nil {
			return fmt.Errorf("upsert: %w", err)
		}
		if _, err := tx.Exec(ctx, "DELETE FROM crier_schedule WHERE feed_id <> ALL($1::text[])", ids); err != nil {
			return fmt.Errorf("drop unlisted: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sync %d scheduled feeds: %w", len(feeds), err)
	}
	return nil
}

// ClaimDue leases to owner, for lease, up to limit feeds due at or before
// now that nobody holds an unexpired lease on, earliest due first, in one
// statement. SKIP LOCKED lets concurrent claims pass each other instead of
// queueing, and never hands one feed to two of them.
func (s *Store) ClaimDue(ctx context.Context, owner string, now time.Time, limit int, lease time.Duration) ([]string, error) {
	if limit <= 0 {
		return nil, nil
	}
	rows, err := s.pool.Query(ctx, `UPDATE crier_schedule SET owner = $1,
			lease_until = clock_timestamp() + $4 * interval '1 microsecond'
		WHERE feed_id IN (SELECT feed_id FROM crier_schedule
			WHERE next_due <= $2 AND (lease_until IS NULL OR lease_until < clock_timestamp())
			ORDER BY next_due LIMIT $3 FOR UPDATE SKIP LOCKED)
		RETURNING feed_id, next_due`, owner, now, limit, lease.Microseconds())
	if err != nil {
		return nil, fmt.Errorf("claim due feeds for %s: %w", owner, err)
	}
	type claimed struct {
		id  string
		due time.Time
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (claimed, error) {
		var c claimed
		return c, r.Scan(&c.id, &c.due)
	})
	if err != nil {
		return nil, fmt.Errorf("claim due feeds for %s: %w", owner, err)
	}
	// RETURNING has no order: earliest due first, as promised.
	slices.SortFunc(got, func(a, b claimed) int { return cmp.Or(a.due.Compare(b.due), strings.Compare(a.id, b.id)) })
	out := make([]string, len(got))
	for i, c := range got {
		out[i] = c.id
	}
	return out, nil
}

// Reschedule ends owner's lease on feedID and makes it due at next. It
// does nothing when another worker has claimed the feed since; a lease
// that expired without anyone claiming the feed is still owner's.
func (s *Store) Reschedule(ctx context.Context, owner, feedID string, next time.Time) error {
	_, err := s.pool.Exec(ctx, `UPDATE crier_schedule SET next_due = $3, owner = NULL, lease_until = NULL
		WHERE feed_id = $1 AND owner = $2`, feedID, owner, next)
	if err != nil {
		return fmt.Errorf("feed %s: reschedule: %w", feedID, err)
	}
	return nil
}

// HoldLane takes or renews owner's lease on notifier's lane until ttl from
// now. It returns false, and changes nothing, while another owner holds an
// unexpired lease.
func (s *Store) HoldLane(ctx context.Context, notifier, owner string, ttl time.Duration) (bool, error) {
	var held bool
	err := s.pool.QueryRow(ctx, `INSERT INTO crier_lanes (notifier, owner, lease_until)
		VALUES ($1, $2, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (notifier) DO UPDATE SET owner = excluded.owner, lease_until = excluded.lease_until
		WHERE crier_lanes.owner = excluded.owner OR crier_lanes.lease_until < clock_timestamp()
		RETURNING true`, notifier, owner, ttl.Microseconds()).Scan(&held)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("notifier %s: hold lane for %s: %w", notifier, owner, err)
	}
	return held, nil
}

// ReleaseLane ends owner's lease, so another worker may take the lane at
// once; it does nothing when owner does not hold it.
func (s *Store) ReleaseLane(ctx context.Context, notifier, owner string) error {
	if _, err := s.pool.Exec(ctx, "DELETE FROM crier_lanes WHERE notifier = $1 AND owner = $2", notifier, owner); err != nil {
		return fmt.Errorf("notifier %s: release lane of %s: %w", notifier, owner, err)
	}
	return nil
}

// PublishConfig records that worker loaded a config whose content hashes
// to hash, and returns the new generation.
func (s *Store) PublishConfig(ctx context.Context, worker, hash string) (int64, error) {
	var gen int64
	err := s.pool.QueryRow(ctx, `INSERT INTO crier_config (one, generation, hash, worker, published_at)
		VALUES (true, 1, $1, $2, now())
		ON CONFLICT (one) DO UPDATE SET generation = crier_config.generation + 1,
			hash = excluded.hash, worker = excluded.worker, published_at = excluded.published_at
		RETURNING generation`, hash, worker).Scan(&gen)
	if err != nil {
		return 0, fmt.Errorf("publish config of %s: %w", worker, err)
	}
	return gen, nil
}

// ConfigGeneration returns the last published generation, with the hash
// and the worker that published it; 0 when none was.
func (s *Store) ConfigGeneration(ctx context.Context) (gen int64, hash, worker string, err error) {
	err = s.pool.QueryRow(ctx, "SELECT generation, hash, worker FROM crier_config").Scan(&gen, &hash, &worker)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, "", "", nil
	}
	if err != nil {
		return 0, "", "", fmt.Errorf("read config generation: %w", err)
	}
	return gen, hash, worker, nil
}
