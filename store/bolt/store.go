// Package bolt keeps crier's state in one bbolt file, the embedded default
// store: which items each feed has shown, per-feed poll state, the outbox
// of pending notifications, dead letters and a short ring of recent
// deliveries.
//
// The promise the rest of crier relies on: marking items seen and queueing
// their notifications happen in one write transaction (see Ingest), so a
// crash can neither lose a notification nor send one twice because of the
// store.
//
// Layout (all keys are raw bytes):
//
//	meta                 "schema" -> uint64; its bucket sequence issues entry IDs
//	feeds                feedID -> FeedState JSON
//	seen/<feedID>        item key -> 8-byte big-endian first-seen unix nanos
//	latest               feedID -> keys of the feed's latest fetch (length-prefixed)
//	held                 feedID -> since when the feed's fetches are much smaller (see shrinkHold)
//	outbox/<notifier>    8-byte big-endian entry ID -> Entry JSON
//	dead                 8-byte big-endian entry ID -> DeadLetter JSON
//	recent               8-byte big-endian sequence -> Recent JSON (last 200)
//	websub               callback ID -> Subscription JSON (see websub.go)
//	paused               feedID -> since when its scheduled polls are paused (paused.go)
//	daily/<YYYY-MM-DD>   per-day counters for the status page's charts (stats.go)
//
// A Store is safe for concurrent use; bbolt serialises writers.
package bolt

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// ErrLocked reports that another process holds the state file.
var ErrLocked = errors.New("state file is locked by another process")

const schemaVersion = 1

var (
	bMeta   = []byte("meta")
	bFeeds  = []byte("feeds")
	bSeen   = []byte("seen")
	bLatest = []byte("latest")
	bHeld   = []byte("held")
	bOutbox = []byte("outbox")
	bDead   = []byte("dead")
	bRecent = []byte("recent")

	kSchema = []byte("schema")
)

// Options tune Open. The zero value is what the daemon wants.
type Options struct {
	// LockTimeout bounds the wait for the file lock (bbolt.Options.Timeout).
	// Zero or negative means 1s.
	LockTimeout time.Duration
	// Now is the clock for first-seen times, queue times and the like.
	// Nil means time.Now.
	Now func() time.Time
	// NoSync skips fsync after each commit. Only for tests: a crash can
	// lose or corrupt recent writes.
	NoSync bool
	// Logger hears of what the store drops rather than fail on (a deferred
	// feed state that cannot be written). Nil discards.
	Logger *slog.Logger
}

// Store is crier's state file.
type Store struct {
	db       *bbolt.DB
	group    *groupCommit // the writes of polls, which run concurrently
	states   stateCache
	deferred deferredStates
	polls    pendingPolls // poll counters waiting for the next commit
	path     string
	now      func() time.Time
	log      *slog.Logger

	// pruneHook, when set by tests, runs between a pruning scan and the
	// write transaction that deletes its candidates (at most one chunk).
	pruneHook func(candidates int)
}

// Open opens (creating if needed) the state file at path.
//
// bbolt options chosen for a daemon that commits a small transaction per
// poll: FreelistTypeMap keeps page allocation cheap however fragmented the
// file gets after months of pruning, and NoFreelistSync avoids rewriting the
// freelist pages on every commit at the price of a scan of the file at open
// (milliseconds for a state file of a few MB).
func Open(path string, opt Options) (*Store, error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create state dir %s: %w", dir, err)
	}
	timeout := opt.LockTimeout
	if timeout <= 0 {
		timeout = time.Second
	}
	// bbolt would panic on a damaged file, in a goroutine nobody can
	// recover; the pages are checked first (see pages.go).
	if _, err := checkFile(path); err != nil {
		return nil, err
	}
	db, err := bbolt.Open(path, 0o600, &bbolt.Options{
		Timeout:        timeout,
		FreelistType:   bbolt.FreelistMapType,
		NoFreelistSync: true,
		NoSync:         opt.NoSync,
	})
	if errors.Is(err, bbolt.ErrTimeout) {
		return nil, fmt.Errorf("state dir %s is in use by another crier (lock on %s, waited %s): %w",
			dir, path, timeout, ErrLocked)
	}
	if err != nil {
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	s := &Store{db: db, group: &groupCommit{db: db}, path: path, now: opt.Now, log: opt.Logger}
	s.group.flush = s.flushDeferred
	if s.now == nil {
		s.now = time.Now
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := s.init(); err != nil {
		_ = db.Close()
		return nil, fmt.Errorf("open state file %s: %w", path, err)
	}
	return s, nil
}

func (s *Store) init() error {
	return s.db.Update(func(tx *bbolt.Tx) error {
		for _, name := range [][]byte{bMeta, bFeeds, bSeen, bLatest, bHeld, bOutbox, bDead, bRecent} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return fmt.Errorf("create bucket %s: %w", name, err)
			}
		}
		meta := tx.Bucket(bMeta)
		if v := meta.Get(kSchema); v != nil {
			if got := binary.BigEndian.Uint64(v); got > schemaVersion {
				return fmt.Errorf("state file has schema %d, this crier understands up to %d: upgrade crier", got, schemaVersion)
			}
			return nil
		}
		return meta.Put(kSchema, u64(schemaVersion))
	})
}

// Close releases the file and its lock.
func (s *Store) Close() error {
	ferr := s.Flush()
	if err := s.db.Close(); err != nil {
		return fmt.Errorf("close state file %s: %w", s.path, err)
	}
	return ferr
}

// Flush commits the poll times whose writes were deferred (see
// deferredStates). Close does it too.
func (s *Store) Flush() error {
	if s.deferred.empty() && s.polls.empty() {
		return nil
	}
	if err := s.group.update(func(*bbolt.Tx) error { return nil }); err != nil {
		return fmt.Errorf("commit deferred feed states: %w", err)
	}
	return nil
}

// Path is the state file's path.
func (s *Store) Path() string { return s.path }

// Stats summarises the state file for `crier status` and the like.
type Stats struct {
	FileSize int64
	SeenKeys int
	Feeds    int
	Outbox   int
	Dead     int
}

// Stats counts what the file holds. It walks every bucket, so it is meant
// for tools, not for the hot path.
func (s *Store) Stats() (Stats, error) {
	var st Stats
	fi, err := os.Stat(s.path)
	if err != nil {
		return st, fmt.Errorf("stat state file: %w", err)
	}
	st.FileSize = fi.Size()
	err = s.db.View(func(tx *bbolt.Tx) error {
		st.Feeds = tx.Bucket(bFeeds).Stats().KeyN
		st.Dead = tx.Bucket(bDead).Stats().KeyN
		if err := forEachBucket(tx.Bucket(bSeen), func(_ []byte, b *bbolt.Bucket) error {
			st.SeenKeys += b.Stats().KeyN
			return nil
		}); err != nil {
			return err
		}
		return forEachBucket(tx.Bucket(bOutbox), func(_ []byte, b *bbolt.Bucket) error {
			st.Outbox += b.Stats().KeyN
			return nil
		})
	})
	if err != nil {
		return st, fmt.Errorf("state file stats: %w", err)
	}
	return st, nil
}

// forEachBucket calls fn for every nested bucket of parent.
func forEachBucket(parent *bbolt.Bucket, fn func(name []byte, b *bbolt.Bucket) error) error {
	return parent.ForEachBucket(func(name []byte) error {
		return fn(name, parent.Bucket(name))
	})
}

func u64(v uint64) []byte {
	b := make([]byte, 8)
	binary.BigEndian.PutUint64(b, v)
	return b
}

func timeBytes(t time.Time) []byte { return u64(uint64(t.UnixNano())) }

func bytesTime(b []byte) time.Time {
	if len(b) != 8 {
		return time.Time{}
	}
	return time.Unix(0, int64(binary.BigEndian.Uint64(b)))
}
