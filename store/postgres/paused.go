package postgres

import (
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

// Pause stops the scheduled polls of feedID until Resume; it survives a
// restart and a reload, and holds for every worker. Pausing a paused feed
// keeps its first time, which is returned.
func (s *Store) Pause(feedID string) (since time.Time, err error) {
	ctx, cancel := s.op()
	defer cancel()
	err = s.pool.QueryRow(ctx, `WITH ins AS (
			INSERT INTO crier_paused (feed_id, since) VALUES ($1, $2) ON CONFLICT DO NOTHING RETURNING since)
		SELECT since FROM ins UNION ALL SELECT since FROM crier_paused WHERE feed_id = $1 LIMIT 1`,
		feedID, s.now()).Scan(&since)
	if err != nil {
		return time.Time{}, fmt.Errorf("feed %s: pause: %w", feedID, err)
	}
	return since, nil
}

// Resume lets feedID's scheduled polls run again; it reports whether the
// feed was paused.
func (s *Store) Resume(feedID string) (was bool, err error) {
	ctx, cancel := s.op()
	defer cancel()
	tag, err := s.pool.Exec(ctx, "DELETE FROM crier_paused WHERE feed_id = $1", feedID)
	if err != nil {
		return false, fmt.Errorf("feed %s: resume: %w", feedID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// IsPaused reports whether feedID is paused.
func (s *Store) IsPaused(feedID string) (bool, error) {
	ctx, cancel := s.op()
	defer cancel()
	var paused bool
	if err := s.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM crier_paused WHERE feed_id = $1)", feedID).Scan(&paused); err != nil {
		return false, fmt.Errorf("feed %s: read pause: %w", feedID, err)
	}
	return paused, nil
}

// Paused returns every paused feed ID and when it was paused.
func (s *Store) Paused() (map[string]time.Time, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT feed_id, since FROM crier_paused")
	if err != nil {
		return nil, fmt.Errorf("read paused feeds: %w", err)
	}
	out := map[string]time.Time{}
	var id string
	var since time.Time
	if _, err := pgx.ForEachRow(rows, []any{&id, &since}, func() error { out[id] = since; return nil }); err != nil {
		return nil, fmt.Errorf("read paused feeds: %w", err)
	}
	return out, nil
}

// SaveSubscription creates or replaces the subscription with sub.Callback.
func (s *Store) SaveSubscription(sub crier.Subscription) error {
	if sub.FeedID == "" || sub.Callback == "" {
		return errors.New("save websub subscription: no feed or no callback")
	}
	raw, err := json.Marshal(sub)
	if err != nil {
		return fmt.Errorf("encode websub subscription of %s: %w", sub.FeedID, err)
	}
	ctx, cancel := s.op()
	defer cancel()
	_, err = s.pool.Exec(ctx, `INSERT INTO crier_subscriptions (callback, sub) VALUES ($1, $2)
		ON CONFLICT (callback) DO UPDATE SET sub = excluded.sub`, sub.Callback, string(raw))
	if err != nil {
		return fmt.Errorf("save websub subscription of %s: %w", sub.FeedID, err)
	}
	return nil
}

// DeleteSubscription forgets the subscription with this callback ID; none
// is not an error.
func (s *Store) DeleteSubscription(callback string) error {
	ctx, cancel := s.op()
	defer cancel()
	if _, err := s.pool.Exec(ctx, "DELETE FROM crier_subscriptions WHERE callback = $1", callback); err != nil {
		return fmt.Errorf("delete websub subscription %s: %w", callback, err)
	}
	return nil
}

// Subscriptions returns every stored subscription, ordered by callback ID.
func (s *Store) Subscriptions() ([]crier.Subscription, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT callback, sub FROM crier_subscriptions ORDER BY callback")
	if err != nil {
		return nil, fmt.Errorf("read websub subscriptions: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crier.Subscription, error) {
		var cb string
		var raw []byte
		var sub crier.Subscription
		if err := row.Scan(&cb, &raw); err != nil {
			return sub, err
		}
		if err := json.Unmarshal(raw, &sub); err != nil {
			return sub, fmt.Errorf("decode websub subscription %s: %w", cb, err)
		}
		return sub, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read websub subscriptions: %w", err)
	}
	return out, nil
}
