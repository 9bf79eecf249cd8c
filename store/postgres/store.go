// Package postgres keeps crier's state in a PostgreSQL database that a
// fleet of `crier run` workers shares. It keeps every promise the bbolt
// backend (store/bolt) keeps, with the same semantics; the doc comments
// there are the reference, and the comments here say where and why the
// implementation differs.
//
// Tables are prefixed crier_ (see migrations/0001_init.sql), in whatever
// schema the DSN's search_path selects (public by default).
//
// Isolation: transactions run at READ COMMITTED. What bbolt gets from its
// single writer is got here from advisory transaction locks:
//
//   - an ingest locks its feed (pg_advisory_xact_lock on a hash of the feed
//     ID) before reading the seen keys, so two workers ingesting the same
//     feed serialise, and the second sees the first's keys as seen. A lock,
//     rather than SELECT … FOR UPDATE on the feed's row, also covers a
//     feed's first ingest, when it has no row yet; Prune takes the same
//     lock before deleting a feed's keys.
//   - the story index (same_story) is one lock for the whole database,
//     taken by the first use of the index in an ingest, which happens only
//     when a poll has new items: two feeds reporting one story at once
//     must not both create it.
//
// Each statement at READ COMMITTED sees what committed before it began, so
// everything read after taking a lock is current. A transaction that fails
// with a serialization failure or a deadlock is retried (plan may then run
// again, as with bbolt).
//
// Outbox IDs come from one sequence: they increase with queueing order for
// each feed and each caller, but two transactions of different workers may
// commit in the opposite order of their IDs, so a dispatcher may see an
// entry appear behind one it already sent. Entries of different feeds have
// no order to keep between them.
//
// Times are stored as timestamptz, so they come back with microsecond
// precision.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Options tune Open. The zero value is what the daemon wants.
type Options struct {
	// Now is the clock for first-seen times, queue times and the like.
	// Nil means time.Now. Leases use the database's clock (see fleet.go).
	Now func() time.Time
	// Logger hears of what the store drops rather than fail on. Nil
	// discards.
	Logger *slog.Logger
	// NoMigrate makes Open refuse a database whose schema is older than
	// this crier's, instead of migrating it (`crier migrate` does).
	NoMigrate bool
}

// opTimeout bounds each call that takes no context.
const opTimeout = 30 * time.Second

// Store is crier's state in PostgreSQL. It is safe for concurrent use, by
// goroutines and by processes.
type Store struct {
	pool   *pgxpool.Pool
	cfg    *pgxpool.Config
	now    func() time.Time
	log    *slog.Logger
	base   context.Context // cancelled by Close
	cancel context.CancelFunc
	polls  pendingPolls

	mu      sync.Mutex
	rolled  string // the last day this process dropped old counters for
	closed  bool
	listens sync.WaitGroup
}

// Open connects to the database at dsn, migrating its schema unless
// opt.NoMigrate.
func Open(ctx context.Context, dsn string, opt Options) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		return nil, fmt.Errorf("postgres dsn: %w", err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("connect to postgres: %w", err)
	}
	if err := prepare(ctx, pool, opt); err != nil {
		pool.Close()
		return nil, err
	}
	s := &Store{pool: pool, cfg: cfg, now: opt.Now, log: opt.Logger}
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	s.base, s.cancel = context.WithCancel(context.Background())
	return s, nil
}

// prepare migrates the schema, or checks that it is the one this crier
// knows.
func prepare(ctx context.Context, pool *pgxpool.Pool, opt Options) error {
	known := SchemaVersion()
	if !opt.NoMigrate {
		conn, err := pool.Acquire(ctx)
		if err != nil {
			return fmt.Errorf("connect to postgres: %w", err)
		}
		defer conn.Release()
		if _, _, err := migrate(ctx, conn.Conn(), opt.Logger); err != nil {
			return err
		}
		return nil
	}
	have, err := schemaVersion(ctx, pool)
	if err != nil {
		return err
	}
	if err := newerThanKnown(have, known); err != nil {
		return err
	}
	if have < known {
		return fmt.Errorf("the database has crier schema version %d, this crier needs version %d: run crier migrate", have, known)
	}
	return nil
}

// Close writes what is buffered and disconnects. Calls in flight are
// cancelled.
func (s *Store) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	err := s.Flush()
	s.cancel()
	s.listens.Wait()
	s.pool.Close()
	return err
}

// Flush writes the buffered poll counters.
func (s *Store) Flush() error {
	snap := s.polls.take()
	if len(snap) == 0 {
		return nil
	}
	ctx, cancel := s.op()
	defer cancel()
	err := s.inTx(ctx, func(tx pgx.Tx) error {
		w := &writes{}
		s.writePolls(w, snap)
		return w.send(ctx, tx)
	})
	if err != nil {
		s.polls.putBack(snap)
		return fmt.Errorf("write poll counters: %w", err)
	}
	return nil
}

// op is the context of a call that takes none.
func (s *Store) op() (context.Context, context.CancelFunc) {
	return context.WithTimeout(s.base, opTimeout)
}

// maxAttempts bounds the retries of a transaction that lost a race.
const maxAttempts = 5

// inTx runs fn in a transaction, again when it fails with a serialization
// failure or a deadlock.
func (s *Store) inTx(ctx context.Context, fn func(pgx.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := pgx.BeginFunc(ctx, s.pool, fn)
		if err == nil || attempt == maxAttempts || !retryable(err) {
			return err
		}
		s.log.Debug("retrying a transaction", "attempt", attempt, "err", err)
	}
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// writes collects the writes of a transaction that need no answer, to
// send them in one round trip: an ingest would otherwise wait for a
// dozen, one statement at a time.
type writes struct{ b pgx.Batch }

func (w *writes) exec(sql string, args ...any) { w.b.Queue(sql, args...) }

func (w *writes) send(ctx context.Context, tx pgx.Tx) error {
	if w.b.Len() == 0 {
		return nil
	}
	if err := tx.SendBatch(ctx, &w.b).Close(); err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// lockKey is the advisory lock key of a name: the lock of a feed, or of
// the story index. Two names with the same hash share a lock, which only
// serialises them.
func lockKey(name string) int64 {
	h := fnv.New64a()
	h.Write([]byte(name))
	return int64(h.Sum64())
}

func lockFeed(ctx context.Context, tx pgx.Tx, feedID string) error {
	if _, err := tx.Exec(ctx, "SELECT pg_advisory_xact_lock($1)", lockKey("crier feed "+feedID)); err != nil {
		return fmt.Errorf("lock feed: %w", err)
	}
	return nil
}

// keysBytes turns item keys into the bytea values they are stored as.
func keysBytes(keys []string) [][]byte {
	out := make([][]byte, len(keys))
	for i, k := range keys {
		out[i] = []byte(k)
	}
	return out
}

// nullTime stores the zero time as NULL.
func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func fromNull(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return *t
}
