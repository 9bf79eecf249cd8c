package bolt

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"slices"
	"time"

	bbolt "go.etcd.io/bbolt"

	"github.com/crierd/crier"
)

// Enqueue puts deliveries in the outbox, in order, in one transaction, and
// returns the entries it created. For notifications that do not come from
// a feed poll: test-notify, alerts, summaries.
func (s *Store) Enqueue(ds ...crier.Delivery) ([]crier.Entry, error) {
	var out []crier.Entry
	err := s.db.Update(func(tx *bbolt.Tx) error {
		var err error
		out, err = enqueueTx(tx, s.now(), ds)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

func enqueueTx(tx *bbolt.Tx, now time.Time, ds []crier.Delivery) ([]crier.Entry, error) {
	if len(ds) == 0 {
		return nil, nil
	}
	out := make([]crier.Entry, 0, len(ds))
	for _, d := range ds {
		if d.Notifier == "" {
			return nil, fmt.Errorf("queue %q: delivery names no notifier", d.Notification.Title)
		}
		if d.Notification.QueuedAt.IsZero() {
			d.Notification.QueuedAt = now
		}
		e := crier.Entry{Notifier: d.Notifier, Notification: d.Notification, Created: now}
		if err := insertEntry(tx, &e); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// insertEntry gives e a fresh ID and stores it in its notifier's queue.
func insertEntry(tx *bbolt.Tx, e *crier.Entry) error {
	id, err := tx.Bucket(bMeta).NextSequence()
	if err != nil {
		return fmt.Errorf("notifier %s: allocate outbox id: %w", e.Notifier, err)
	}
	e.ID = id
	return putEntry(tx, *e)
}

func putEntry(tx *bbolt.Tx, e crier.Entry) error {
	q, err := tx.Bucket(bOutbox).CreateBucketIfNotExists([]byte(e.Notifier))
	if err != nil {
		return fmt.Errorf("notifier %s: create queue: %w", e.Notifier, err)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("notifier %s: encode entry %d: %w", e.Notifier, e.ID, err)
	}
	if err := q.Put(u64(e.ID), v); err != nil {
		return fmt.Errorf("notifier %s: store entry %d: %w", e.Notifier, e.ID, err)
	}
	return nil
}

// loadEntry reads entry id of notifier's queue.
func loadEntry(tx *bbolt.Tx, notifier string, id uint64) (crier.Entry, *bbolt.Bucket, error) {
	var e crier.Entry
	q := tx.Bucket(bOutbox).Bucket([]byte(notifier))
	var v []byte
	if q != nil {
		v = q.Get(u64(id))
	}
	if v == nil {
		return e, nil, fmt.Errorf("notifier %s: outbox entry %d: %w", notifier, id, crier.ErrNotFound)
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return e, nil, fmt.Errorf("notifier %s: decode outbox entry %d: %w", notifier, id, err)
	}
	return e, q, nil
}

// takeEntry removes entry id from notifier's queue and returns it; the
// queue's bucket goes too once empty, so OutboxNotifiers stays exact.
func takeEntry(tx *bbolt.Tx, notifier string, id uint64) (crier.Entry, error) {
	e, q, err := loadEntry(tx, notifier, id)
	if err != nil {
		return e, err
	}
	if err := q.Delete(u64(id)); err != nil {
		return e, fmt.Errorf("notifier %s: delete outbox entry %d: %w", notifier, id, err)
	}
	if k, _ := q.Cursor().First(); k == nil {
		if err := tx.Bucket(bOutbox).DeleteBucket([]byte(notifier)); err != nil {
			return e, fmt.Errorf("notifier %s: drop empty queue: %w", notifier, err)
		}
	}
	return e, nil
}

// Next returns the oldest entry queued for notifier, whatever its NextTry.
func (s *Store) Next(notifier string) (crier.Entry, bool, error) {
	var e crier.Entry
	var ok bool
	err := s.db.View(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bOutbox).Bucket([]byte(notifier))
		if q == nil {
			return nil
		}
		_, v := q.Cursor().First()
		if v == nil {
			return nil
		}
		ok = true
		return json.Unmarshal(v, &e)
	})
	if err != nil {
		return crier.Entry{}, false, fmt.Errorf("notifier %s: read outbox: %w", notifier, err)
	}
	return e, ok, nil
}

// Pending returns every entry queued for notifier, oldest first.
func (s *Store) Pending(notifier string) ([]crier.Entry, error) {
	var out []crier.Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		q := tx.Bucket(bOutbox).Bucket([]byte(notifier))
		if q == nil {
			return nil
		}
		var err error
		out, err = appendEntries(out, q)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("notifier %s: read outbox: %w", notifier, err)
	}
	return out, nil
}

// Outbox returns every queued entry of every notifier, by ID.
func (s *Store) Outbox() ([]crier.Entry, error) {
	var out []crier.Entry
	err := s.db.View(func(tx *bbolt.Tx) error {
		return forEachBucket(tx.Bucket(bOutbox), func(_ []byte, q *bbolt.Bucket) error {
			var err error
			out, err = appendEntries(out, q)
			return err
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read outbox: %w", err)
	}
	slices.SortFunc(out, func(a, b crier.Entry) int { return cmp.Compare(a.ID, b.ID) })
	return out, nil
}

func appendEntries(out []crier.Entry, q *bbolt.Bucket) ([]crier.Entry, error) {
	err := q.ForEach(func(k, v []byte) error {
		var e crier.Entry
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("decode entry %d: %w", binary.BigEndian.Uint64(k), err)
		}
		out = append(out, e)
		return nil
	})
	return out, err
}

// OutboxCounts returns how many entries each notifier has queued.
func (s *Store) OutboxCounts() (map[string]int, error) {
	out := make(map[string]int)
	err := s.db.View(func(tx *bbolt.Tx) error {
		return forEachBucket(tx.Bucket(bOutbox), func(name []byte, q *bbolt.Bucket) error {
			if n := q.Stats().KeyN; n > 0 {
				out[string(name)] = n
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("count outbox: %w", err)
	}
	return out, nil
}

// OutboxNotifiers returns the names of notifiers with queued entries, sorted.
func (s *Store) OutboxNotifiers() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		return forEachBucket(tx.Bucket(bOutbox), func(name []byte, q *bbolt.Bucket) error {
			if k, _ := q.Cursor().First(); k != nil {
				out = append(out, string(name))
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list outbox notifiers: %w", err)
	}
	return out, nil
}

// Done records a successful delivery: the entry leaves the outbox, its
// headline joins the ring of recent deliveries and the day's count of the
// notifier's deliveries grows.
func (s *Store) Done(notifier string, id uint64) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		e, err := takeEntry(tx, notifier, id)
		if err != nil {
			return err
		}
		n, now := e.Notification, s.now()
		if err := countDay(tx, now, kindSent, notifier, 1); err != nil {
			return err
		}
		return pushRecent(tx, crier.RecentOf(now, notifier, n))
	})
}

// Retry persists a failed attempt: the attempt count, when to try next and
// why it failed.
func (s *Store) Retry(notifier string, id uint64, attempts int, next time.Time, errText string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		e, _, err := loadEntry(tx, notifier, id)
		if err != nil {
			return err
		}
		e.Attempts, e.NextTry, e.LastError = attempts, next, errText
		return putEntry(tx, e)
	})
}

// RetryUnconfirmed is Retry for an attempt that may have been delivered
// after all: it also counts one more unconfirmed send.
func (s *Store) RetryUnconfirmed(notifier string, id uint64, attempts int, next time.Time, errText string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		e, _, err := loadEntry(tx, notifier, id)
		if err != nil {
			return err
		}
		e.Attempts, e.NextTry, e.LastError = attempts, next, errText
		e.Unconfirmed++
		return putEntry(tx, e)
	})
}

// Bury moves an entry that will never be delivered to the dead letters.
func (s *Store) Bury(notifier string, id uint64, reason string) error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		e, err := takeEntry(tx, notifier, id)
		if err != nil {
			return err
		}
		v, err := json.Marshal(crier.DeadLetter{Entry: e, Reason: reason, DiedAt: s.now()})
		if err != nil {
			return fmt.Errorf("notifier %s: encode dead letter %d: %w", notifier, id, err)
		}
		return tx.Bucket(bDead).Put(u64(id), v)
	})
}

// Coalesce replaces entries ids of notifier by one new entry carrying n, in
// one transaction. The new entry gets a fresh ID, so it queues behind
// whatever else the notifier has pending. An unknown id fails the whole call
// and changes nothing.
func (s *Store) Coalesce(notifier string, ids []uint64, n crier.Notification) (crier.Entry, error) {
	var e crier.Entry
	err := s.db.Update(func(tx *bbolt.Tx) error {
		for _, id := range ids {
			if _, err := takeEntry(tx, notifier, id); err != nil {
				return err
			}
		}
		out, err := enqueueTx(tx, s.now(), []crier.Delivery{{Notifier: notifier, Notification: n}})
		if err != nil {
			return err
		}
		e = out[0]
		return nil
	})
	if err != nil {
		return crier.Entry{}, fmt.Errorf("coalesce %d entries: %w", len(ids), err)
	}
	return e, nil
}

// DeadLetters returns every dead letter, oldest entry first.
func (s *Store) DeadLetters() ([]crier.DeadLetter, error) {
	var out []crier.DeadLetter
	err := s.db.View(func(tx *bbolt.Tx) error {
		return tx.Bucket(bDead).ForEach(func(k, v []byte) error {
			var d crier.DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode dead letter %d: %w", binary.BigEndian.Uint64(k), err)
			}
			out = append(out, d)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("read dead letters: %w", err)
	}
	return out, nil
}

// Redeliver moves dead letters back to their notifier's queue with a fresh
// attempt count; no ids means all of them. The entries keep their IDs, so
// they go out before anything queued after them. An id given twice moves
// once; an unknown id fails the whole call and changes nothing.
func (s *Store) Redeliver(ids ...uint64) (int, error) {
	ids = slices.Compact(slices.Sorted(slices.Values(ids)))
	moved := 0
	err := s.db.Update(func(tx *bbolt.Tx) error {
		moved = 0
		dead := tx.Bucket(bDead)
		if len(ids) == 0 {
			err := dead.ForEach(func(k, _ []byte) error {
				ids = append(ids, binary.BigEndian.Uint64(k))
				return nil
			})
			if err != nil {
				return err
			}
		}
		for _, id := range ids {
			v := dead.Get(u64(id))
			if v == nil {
				return fmt.Errorf("dead letter %d: %w", id, crier.ErrNotFound)
			}
			var d crier.DeadLetter
			if err := json.Unmarshal(v, &d); err != nil {
				return fmt.Errorf("decode dead letter %d: %w", id, err)
			}
			if err := dead.Delete(u64(id)); err != nil {
				return fmt.Errorf("delete dead letter %d: %w", id, err)
			}
			e := d.Entry
			e.Attempts, e.NextTry, e.LastError, e.Unconfirmed = 0, time.Time{}, "", 0
			if err := putEntry(tx, e); err != nil {
				return err
			}
			moved++
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("redeliver: %w", err)
	}
	return moved, nil
}

func pushRecent(tx *bbolt.Tx, r crier.Recent) error {
	b := tx.Bucket(bRecent)
	seq, err := b.NextSequence()
	if err != nil {
		return fmt.Errorf("record recent delivery: %w", err)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode recent delivery: %w", err)
	}
	if err := b.Put(u64(seq), v); err != nil {
		return fmt.Errorf("record recent delivery: %w", err)
	}
	if seq <= crier.RecentKept {
		return nil
	}
	// Drop everything older than the last crier.RecentKept; collect first, since
	// deleting under a live cursor is easy to get wrong.
	var old [][]byte
	c := b.Cursor()
	for k, _ := c.First(); k != nil && binary.BigEndian.Uint64(k) <= seq-crier.RecentKept; k, _ = c.Next() {
		old = append(old, slices.Clone(k))
	}
	for _, k := range old {
		if err := b.Delete(k); err != nil {
			return fmt.Errorf("trim recent deliveries: %w", err)
		}
	}
	return nil
}

// Recent returns up to limit recent deliveries, newest first; limit <= 0
// means all that are kept (at most crier.RecentKept).
func (s *Store) Recent(limit int) ([]crier.Recent, error) {
	var out []crier.Recent
	err := s.db.View(func(tx *bbolt.Tx) error {
		c := tx.Bucket(bRecent).Cursor()
		for k, v := c.Last(); k != nil && (limit <= 0 || len(out) < limit); k, v = c.Prev() {
			var r crier.Recent
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("decode recent delivery: %w", err)
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read recent deliveries: %w", err)
	}
	return out, nil
}
