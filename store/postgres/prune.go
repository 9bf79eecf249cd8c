package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

const defaultPruneChunk = 1000

// Prune applies retention, as store/bolt's Prune (see there): it deletes
// seen keys first seen before cutoff that are not in their feed's latest
// key set, and forgets feeds that are not in keepFeeds (nil keeps all)
// and were last polled before cutoff. Each chunk of at most chunk keys is
// judged and deleted in one transaction holding the feed's ingest lock,
// so an ingest running meanwhile is respected. Prune stops early with
// ctx's error when ctx is done.
func (s *Store) Prune(ctx context.Context, cutoff time.Time, keepFeeds map[string]bool, chunk int) (removed int, err error) {
	if chunk <= 0 {
		chunk = defaultPruneChunk
	}
	ids, err := s.knownFeeds(ctx)
	if err != nil {
		return 0, fmt.Errorf("prune: %w", err)
	}
	for _, id := range ids {
		n, err := s.pruneFeed(ctx, id, cutoff, keepFeeds == nil || keepFeeds[id], chunk)
		removed += n
		if err != nil {
			return removed, fmt.Errorf("prune feed %s: %w", id, err)
		}
	}
	return removed, nil
}

// knownFeeds lists every feed ID that has a state, seen keys or a latest
// set. The seen keys' feeds are found by skipping through the primary
// key, one probe per feed, not by reading every key.
func (s *Store) knownFeeds(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `WITH RECURSIVE seen(feed_id) AS (
			(SELECT feed_id FROM crier_seen ORDER BY feed_id LIMIT 1)
			UNION ALL
			SELECT (SELECT feed_id FROM crier_seen WHERE feed_id > seen.feed_id ORDER BY feed_id LIMIT 1)
			FROM seen WHERE seen.feed_id IS NOT NULL)
		SELECT feed_id FROM seen WHERE feed_id IS NOT NULL
		UNION SELECT feed_id FROM crier_feeds
		UNION SELECT feed_id FROM crier_latest`)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// dropFeed reports whether the whole feed is to be forgotten, judged in
// each transaction afresh: a feed polled again since is not dropped.
func dropFeed(ctx context.Context, tx pgx.Tx, feedID string, keep bool, cutoff time.Time) (bool, error) {
	if keep {
		return false, nil
	}
	var raw []byte
	err := tx.QueryRow(ctx, "SELECT state FROM crier_feeds WHERE feed_id = $1", feedID).Scan(&raw)
	if err == pgx.ErrNoRows {
		return true, nil // never polled
	}
	if err != nil {
		return false, err
	}
	var st crier.FeedState
	if err := json.Unmarshal(raw, &st); err != nil {
		return false, fmt.Errorf("decode state: %w", err)
	}
	return st.LastPoll.Before(cutoff), nil
}

func (s *Store) pruneFeed(ctx context.Context, feedID string, cutoff time.Time, keep bool, chunk int) (int, error) {
	removed := 0
	after := []byte{} // last key scanned; the next chunk starts past it
	for done := false; !done; {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		err := s.inTx(ctx, func(tx pgx.Tx) error {
			if err := lockFeed(ctx, tx, feedID); err != nil {
				return err
			}
			drop, err := dropFeed(ctx, tx, feedID, keep, cutoff)
			if err != nil {
				return err
			}
			var scanned, deleted int
			var last []byte
			err = tx.QueryRow(ctx, `WITH scan AS (
					SELECT key, first_seen FROM crier_seen WHERE feed_id = $1 AND key > $2 ORDER BY key LIMIT $3),
				latest AS (SELECT coalesce((SELECT keys FROM crier_latest WHERE feed_id = $1), '{}') AS keys),
				gone AS (DELETE FROM crier_seen s USING scan, latest
					WHERE s.feed_id = $1 AND s.key = scan.key
					AND ($5 OR (scan.first_seen < $4 AND NOT scan.key = ANY(latest.keys)))
					RETURNING 1)
				SELECT (SELECT count(*) FROM scan), (SELECT count(*) FROM gone), (SELECT key FROM scan ORDER BY key DESC LIMIT 1)`,
				feedID, after, chunk, cutoff, drop).Scan(&scanned, &deleted, &last)
			if err != nil {
				return err
			}
			removed += deleted
			done = scanned < chunk
			if last != nil {
				after = last
			}
			return nil
		})
		if err != nil {
			return removed, err
		}
	}
	if keep {
		return removed, nil
	}
	return removed, s.forgetFeed(ctx, feedID, cutoff)
}

// forgetFeed removes what is left of a dropped feed once its seen keys
// are gone.
func (s *Store) forgetFeed(ctx context.Context, feedID string, cutoff time.Time) error {
	return s.inTx(ctx, func(tx pgx.Tx) error {
		if err := lockFeed(ctx, tx, feedID); err != nil {
			return err
		}
		drop, err := dropFeed(ctx, tx, feedID, false, cutoff)
		if err != nil || !drop {
			return err
		}
		var left bool
		if err := tx.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM crier_seen WHERE feed_id = $1)", feedID).Scan(&left); err != nil || left {
			return err // keys arrived meanwhile: leave it for the next Prune
		}
		for _, table := range []string{"crier_latest", "crier_feeds", "crier_paused"} {
			if _, err := tx.Exec(ctx, "DELETE FROM "+table+" WHERE feed_id = $1", feedID); err != nil {
				return fmt.Errorf("delete from %s: %w", table, err)
			}
		}
		return nil
	})
}

// PruneDeadLetters deletes the dead letters that died before cutoff, at
// most chunk per transaction (<= 0 means 1000). It stops early with ctx's
// error when ctx is done.
func (s *Store) PruneDeadLetters(ctx context.Context, cutoff time.Time, chunk int) (removed int, err error) {
	if chunk <= 0 {
		chunk = defaultPruneChunk
	}
	for {
		if err := ctx.Err(); err != nil {
			return removed, err
		}
		tag, err := s.pool.Exec(ctx, `DELETE FROM crier_dead WHERE id IN (
			SELECT id FROM crier_dead WHERE died_at < $1 ORDER BY id LIMIT $2)`, cutoff, chunk)
		if err != nil {
			return removed, fmt.Errorf("prune dead letters: %w", err)
		}
		removed += int(tag.RowsAffected())
		if tag.RowsAffected() < int64(chunk) {
			return removed, nil
		}
	}
}
