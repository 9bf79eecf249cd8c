package postgres

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

// outboxChannel is what NOTIFY names when entries are queued; the payload
// is the notifier (see ListenOutbox).
const outboxChannel = "crier_outbox"

const entryColumns = "id, notifier, created, attempts, next_try, last_error, unconfirmed, notification"

// Enqueue puts deliveries in the outbox, in order, in one transaction, and
// returns the entries it created.
func (s *Store) Enqueue(ds ...crier.Delivery) ([]crier.Entry, error) {
	ctx, cancel := s.op()
	defer cancel()
	var out []crier.Entry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w := &writes{}
		var err error
		if out, err = enqueueTx(ctx, tx, w, s.now(), ds); err != nil {
			return err
		}
		return w.send(ctx, tx)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// enqueueTx queues ds with IDs from the shared sequence, in order, and
// wakes the dispatchers of their notifiers when tx commits. The IDs are
// allocated in tx; the inserts go with w.
func enqueueTx(ctx context.Context, tx pgx.Tx, w *writes, now time.Time, ds []crier.Delivery) ([]crier.Entry, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	out := make([]crier.Entry, 0, len(ds))
	var notifiers []string
	for _, d := range ds {
		if d.Notifier == "" {
			return nil, fmt.Errorf("queue %q: delivery names no notifier", d.Notification.Title)
		}
		if d.Notification.QueuedAt.IsZero() {
			d.Notification.QueuedAt = now
		}
		out = append(out, crier.Entry{Notifier: d.Notifier, Notification: d.Notification, Created: now})
		if !slices.Contains(notifiers, d.Notifier) {
			notifiers = append(notifiers, d.Notifier)
		}
	}
	// IDs first, in order: nextval in an INSERT … SELECT has no promised
	// order.
	rows, err := tx.Query(ctx, "SELECT nextval('crier_entry_id') FROM generate_series(1, $1) ORDER BY 1", len(ds))
	if err != nil {
		return nil, fmt.Errorf("allocate outbox ids: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return nil, fmt.Errorf("allocate outbox ids: %w", err)
	}
	names := make([]string, len(out))
	docs := make([]string, len(out))
	for i := range out {
		out[i].ID = uint64(ids[i])
		raw, err := json.Marshal(out[i].Notification)
		if err != nil {
			return nil, fmt.Errorf("notifier %s: encode notification %q: %w", out[i].Notifier, out[i].Notification.Title, err)
		}
		names[i], docs[i] = out[i].Notifier, string(raw)
	}
	w.exec(`INSERT INTO crier_outbox (id, notifier, created, notification)
		SELECT id, n, $4, d FROM unnest($1::bigint[], $2::text[], $3::json[]) AS u(id, n, d)`,
		ids, names, docs, now)
	wake(w, notifiers...)
	return out, nil
}

// wake tells the listeners of the notifiers' queues, once the transaction
// commits.
func wake(w *writes, notifiers ...string) {
	for _, n := range notifiers {
		w.exec("SELECT pg_notify($1, $2)", outboxChannel, n)
	}
}

// scanEntry reads the entryColumns of a row.
func scanEntry(row pgx.CollectableRow) (crier.Entry, error) {
	var e crier.Entry
	var id int64
	var next *time.Time
	var raw []byte
	if err := row.Scan(&id, &e.Notifier, &e.Created, &e.Attempts, &next, &e.LastError, &e.Unconfirmed, &raw); err != nil {
		return e, err
	}
	e.ID, e.NextTry = uint64(id), fromNull(next)
	if err := json.Unmarshal(raw, &e.Notification); err != nil {
		return e, fmt.Errorf("notifier %s: decode entry %d: %w", e.Notifier, id, err)
	}
	return e, nil
}

func (s *Store) entries(ctx context.Context, sql string, args ...any) ([]crier.Entry, error) {
	rows, err := s.pool.Query(ctx, sql, args...)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, scanEntry)
}

// Next returns the oldest entry queued for notifier, whatever its NextTry.
func (s *Store) Next(notifier string) (crier.Entry, bool, error) {
	ctx, cancel := s.op()
	defer cancel()
	es, err := s.entries(ctx, "SELECT "+entryColumns+" FROM crier_outbox WHERE notifier = $1 ORDER BY id LIMIT 1", notifier)
	if err != nil {
		return crier.Entry{}, false, fmt.Errorf("notifier %s: read outbox: %w", notifier, err)
	}
	if len(es) == 0 {
		return crier.Entry{}, false, nil
	}
	return es[0], true, nil
}

// Pending returns every entry queued for notifier, oldest first.
func (s *Store) Pending(notifier string) ([]crier.Entry, error) {
	ctx, cancel := s.op()
	defer cancel()
	es, err := s.entries(ctx, "SELECT "+entryColumns+" FROM crier_outbox WHERE notifier = $1 ORDER BY id", notifier)
	if err != nil {
		return nil, fmt.Errorf("notifier %s: read outbox: %w", notifier, err)
	}
	return es, nil
}

// Outbox returns every queued entry of every notifier, by ID.
func (s *Store) Outbox() ([]crier.Entry, error) {
	ctx, cancel := s.op()
	defer cancel()
	es, err := s.entries(ctx, "SELECT "+entryColumns+" FROM crier_outbox ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	return es, nil
}

// OutboxCounts returns how many entries each notifier has queued.
func (s *Store) OutboxCounts() (map[string]int, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT notifier, count(*) FROM crier_outbox GROUP BY notifier")
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	out := make(map[string]int)
	var name string
	var n int
	if _, err := pgx.ForEachRow(rows, []any{&name, &n}, func() error { out[name] = n; return nil }); err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	return out, nil
}

// OutboxNotifiers returns the names of notifiers with queued entries, sorted.
func (s *Store) OutboxNotifiers() ([]string, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, `SELECT DISTINCT notifier COLLATE "C" AS n FROM crier_outbox ORDER BY n`)
	if err != nil {
		return nil, fmt.Errorf("list outbox notifiers: %w", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("list outbox notifiers: %w", err)
	}
	return out, nil
}

// Done records a successful delivery: the entry leaves the outbox, its
// headline joins the ring of recent deliveries and the day's count of the
// notifier's deliveries grows.
func (s *Store) Done(notifier string, id uint64) error {
	ctx, cancel := s.op()
	defer cancel()
	return s.inTx(ctx, func(tx pgx.Tx) error {
		var raw []byte
		err := tx.QueryRow(ctx, "DELETE FROM crier_outbox WHERE notifier = $1 AND id = $2 RETURNING notification",
			notifier, int64(id)).Scan(&raw)
		if err != nil {
			return notFound(err, "notifier %s: outbox entry %d", notifier, id)
		}
		var n crier.Notification
		if err := json.Unmarshal(raw, &n); err != nil {
			return fmt.Errorf("notifier %s: decode outbox entry %d: %w", notifier, id, err)
		}
		now := s.now()
		w := &writes{}
		s.countDay(w, now, kindSent, notifier, 1)
		if err := pushRecent(w, crier.RecentOf(now, notifier, n)); err != nil {
			return err
		}
		return w.send(ctx, tx)
	})
}

// notFound turns "no rows" into crier.ErrNotFound, naming the entry.
func notFound(err error, format string, args ...any) error {
	what := fmt.Sprintf(format, args...)
	if err == pgx.ErrNoRows {
		return fmt.Errorf("%s: %w", what, crier.ErrNotFound)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// Retry persists a failed attempt: the attempt count, when to try next and
// why it failed.
func (s *Store) Retry(notifier string, id uint64, attempts int, next time.Time, errText string) error {
	return s.retry(notifier, id, attempts, next, errText, 0)
}

// RetryUnconfirmed is Retry for an attempt that may have been delivered
// after all: it also counts one more unconfirmed send.
func (s *Store) RetryUnconfirmed(notifier string, id uint64, attempts int, next time.Time, errText string) error {
	return s.retry(notifier, id, attempts, next, errText, 1)
}

func (s *Store) retry(notifier string, id uint64, attempts int, next time.Time, errText string, unconfirmed int) error {
	ctx, cancel := s.op()
	defer cancel()
	var got int64
	err := s.pool.QueryRow(ctx, `UPDATE crier_outbox SET attempts = $3, next_try = $4, last_error = $5,
		unconfirmed = unconfirmed + $6 WHERE notifier = $1 AND id = $2 RETURNING id`,
		notifier, int64(id), attempts, nullTime(next), errText, unconfirmed).Scan(&got)
	if err != nil {
		return notFound(err, "notifier %s: outbox entry %d", notifier, id)
	}
	return nil
}

// Bury moves an entry that will never be delivered to the dead letters.
func (s *Store) Bury(notifier string, id uint64, reason string) error {
	ctx, cancel := s.op()
	defer cancel()
	var got int64
	err := s.pool.QueryRow(ctx, `WITH e AS (DELETE FROM crier_outbox WHERE notifier = $1 AND id = $2 RETURNING *)
		INSERT INTO crier_dead (`+entryColumns+`, reason, died_at)
		SELECT `+entryColumns+`, $3, $4 FROM e RETURNING id`,
		notifier, int64(id), reason, s.now()).Scan(&got)
	if err != nil {
		return notFound(err, "notifier %s: outbox entry %d", notifier, id)
	}
	return nil
}

// Coalesce replaces entries ids of notifier by one new entry carrying n, in
// one transaction. The new entry gets a fresh ID, so it queues behind
// whatever else the notifier has pending. An unknown id fails the whole call
// and changes nothing.
func (s *Store) Coalesce(notifier string, ids []uint64, n crier.Notification) (crier.Entry, error) {
	ctx, cancel := s.op()
	defer cancel()
	var e crier.Entry
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		for _, id := range ids {
			tag, err := tx.Exec(ctx, "DELETE FROM crier_outbox WHERE notifier = $1 AND id = $2", notifier, int64(id))
			if err != nil {
				return fmt.Errorf("notifier %s: delete outbox entry %d: %w", notifier, id, err)
			}
			if tag.RowsAffected() == 0 {
				return fmt.Errorf("notifier %s: outbox entry %d: %w", notifier, id, crier.ErrNotFound)
			}
		}
		w := &writes{}
		out, err := enqueueTx(ctx, tx, w, s.now(), []crier.Delivery{{Notifier: notifier, Notification: n}})
		if err != nil {
			return err
		}
		e = out[0]
		return w.send(ctx, tx)
	})
	if err != nil {
		return crier.Entry{}, fmt.Errorf("coalesce %d entries: %w", len(ids), err)
	}
	return e, nil
}

// DeadLetters returns every dead letter, oldest entry first.
func (s *Store) DeadLetters() ([]crier.DeadLetter, error) {
	ctx, cancel := s.op()
	defer cancel()
	rows, err := s.pool.Query(ctx, "SELECT "+entryColumns+", reason, died_at FROM crier_dead ORDER BY id")
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crier.DeadLetter, error) {
		var d crier.DeadLetter
		var id int64
		var next *time.Time
		var raw []byte
		err := row.Scan(&id, &d.Notifier, &d.Created, &d.Attempts, &next, &d.LastError, &d.Unconfirmed, &raw,
			&d.Reason, &d.DiedAt)
		if err != nil {
			return d, err
		}
		d.ID, d.NextTry = uint64(id), fromNull(next)
		if err := json.Unmarshal(raw, &d.Notification); err != nil {
			return d, fmt.Errorf("decode dead letter %d: %w", id, err)
		}
		return d, nil
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// Redeliver moves dead letters back to their notifier's queue with a fresh
// attempt count; no ids means all of them. The entries keep their IDs, so
// they go out before anything queued after them. An unknown id fails the
// whole call and changes nothing.
func (s *Store) Redeliver(ids ...uint64) (int, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids))) // an id twice moves once
	ctx, cancel := s.op()
	defer cancel()
	moved := 0
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		moved = 0
		var rows pgx.Rows
		var err error
		if len(ids) == 0 {
			rows, err = tx.Query(ctx, `WITH d AS (DELETE FROM crier_dead RETURNING *)
				INSERT INTO crier_outbox (id, notifier, created, notification)
				SELECT id, notifier, created, notification FROM d RETURNING notifier`)
		} else {
			want := make([]int64, len(ids))
			for i, id := range ids {
				want[i] = int64(id)
			}
			rows, err = tx.Query(ctx, `WITH d AS (DELETE FROM crier_dead WHERE id = ANY($1) RETURNING *)
				INSERT INTO crier_outbox (id, notifier, created, notification)
				SELECT id, notifier, created, notification FROM d RETURNING notifier`, want)
		}
		if err != nil {
			return err
		}
		notifiers, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return err
		}
		if len(ids) > 0 && len(notifiers) != len(ids) {
			return fmt.Errorf("dead letter among %v: %w", ids, crier.ErrNotFound)
		}
		moved = len(notifiers)
		slices.Sort(notifiers)
		w := &writes{}
		wake(w, slices.Compact(notifiers)...)
		return w.send(ctx, tx)
	})
	if err != nil {
		return 0, fmt.Errorf("redeliver: %w", err)
	}
	return moved, nil
}

func pushRecent(w *writes, r crier.Recent) error {
	raw, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode recent delivery: %w", err)
	}
	w.exec("INSERT INTO crier_recent (recent) VALUES ($1)", string(raw))
	// By rank, not by seq-crier.RecentKept: a rolled-back insert leaves a gap.
	w.exec(`DELETE FROM crier_recent WHERE seq <=
		(SELECT seq FROM crier_recent ORDER BY seq DESC OFFSET $1 LIMIT 1)`, crier.RecentKept)
	return nil
}

// Recent returns up to limit recent deliveries, newest first; limit <= 0
// means all that are kept.
func (s *Store) Recent(limit int) ([]crier.Recent, error) {
	ctx, cancel := s.op()
	defer cancel()
	if limit <= 0 {
		limit = crier.RecentKept
	}
	rows, err := s.pool.Query(ctx, "SELECT recent FROM crier_recent ORDER BY seq DESC LIMIT $1", limit)
	if err != nil {
		return nil, fmt.Errorf("read recent deliveries: %w", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (crier.Recent, error) {
		var raw []byte
		var r crier.Recent
		if err := row.Scan(&raw); err != nil {
			return r, err
		}
		return r, json.Unmarshal(raw, &r)
	})
	if err != nil {
		return nil, fmt.Errorf("read recent deliveries: %w", err)
	}
	return out, nil
}
