package bolt

import (
	"github.com/crierd/crier"

	"encoding/binary"
	"fmt"
	"sync"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// The daily counters behind the status page's charts live in
// daily/<YYYY-MM-DD> (the daemon's time zone), created on first use:
//
//	'n' feedID    -> new items that day (8-byte count)
//	's' notifier  -> notifications delivered that day (8-byte count)
//	"p"           -> polls, failures, summed and longest poll nanoseconds (4×8 bytes)
//
// New items are counted in Ingest's transaction and deliveries in Done's,
// so a counter can never disagree with what was committed. Poll counters
// are kept in memory and ride along with the next commit, like deferred
// feed states: a crash loses a minute or so of them, and nothing else.
var bDaily = []byte("daily")

// statsDays is how many days of counters are kept: the charts show 14.
const statsDays = 15

const (
	kindNew  = 'n'
	kindSent = 's'
)

var kPolls = []byte("p")

func dayOf(t time.Time) string { return t.Local().Format(time.DateOnly) }

// dayBucket returns date's bucket. Creating one is a day's rollover, and
// drops the days past statsDays: the counters stay bounded even where
// Prune never runs.
func dayBucket(tx *bbolt.Tx, date string) (*bbolt.Bucket, error) {
	root, err := tx.CreateBucketIfNotExists(bDaily)
	if err != nil {
		return nil, fmt.Errorf("create daily bucket: %w", err)
	}
	if b := root.Bucket([]byte(date)); b != nil {
		return b, nil
	}
	if d, err := time.Parse(time.DateOnly, date); err == nil {
		cutoff := d.AddDate(0, 0, -(statsDays - 1)).Format(time.DateOnly)
		var old [][]byte
		c := root.Cursor()
		for k, _ := c.First(); k != nil && string(k) < cutoff; k, _ = c.Next() {
			old = append(old, append([]byte(nil), k...))
		}
		for _, k := range old {
			if err := root.DeleteBucket(k); err != nil {
				return nil, fmt.Errorf("drop daily counters of %s: %w", k, err)
			}
		}
	}
	b, err := root.CreateBucket([]byte(date))
	if err != nil {
		return nil, fmt.Errorf("create daily counters of %s: %w", date, err)
	}
	return b, nil
}

// countDay adds n to the counter kind+name of now's day.
func countDay(tx *bbolt.Tx, now time.Time, kind byte, name string, n int) error {
	b, err := dayBucket(tx, dayOf(now))
	if err != nil {
		return err
	}
	key := append([]byte{kind}, name...)
	var cur uint64
	if v := b.Get(key); len(v) == 8 {
		cur = binary.BigEndian.Uint64(v)
	}
	if err := b.Put(key, u64(cur+uint64(n))); err != nil {
		return fmt.Errorf("count %s: %w", name, err)
	}
	return nil
}

// pollAgg is one day's poll counters.
type pollAgg struct{ polls, failures, total, max uint64 }

func (a *pollAgg) merge(b pollAgg) {
	a.polls += b.polls
	a.failures += b.failures
	a.total += b.total
	a.max = max(a.max, b.max)
}

func decodePollAgg(v []byte) pollAgg {
	if len(v) != 32 {
		return pollAgg{}
	}
	return pollAgg{binary.BigEndian.Uint64(v), binary.BigEndian.Uint64(v[8:]),
		binary.BigEndian.Uint64(v[16:]), binary.BigEndian.Uint64(v[24:])}
}

func (a pollAgg) encode() []byte {
	v := make([]byte, 0, 32)
	for _, x := range []uint64{a.polls, a.failures, a.total, a.max} {
		v = binary.BigEndian.AppendUint64(v, x)
	}
	return v
}

// pendingPolls are poll counters not yet committed, by date.
type pendingPolls struct {
	mu sync.Mutex
	m  map[string]pollAgg
}

func (p *pendingPolls) empty() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.m) == 0
}

func (p *pendingPolls) get(date string) pollAgg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[date]
}

func (p *pendingPolls) snapshot() map[string]pollAgg {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(p.m) == 0 {
		return nil
	}
	out := make(map[string]pollAgg, len(p.m))
	for k, v := range p.m {
		out[k] = v
	}
	return out
}

func (p *pendingPolls) add(date string, a pollAgg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]pollAgg{}
	}
	cur := p.m[date]
	cur.merge(a)
	p.m[date] = cur
}

// committed forgets what snap held; polls recorded since stay pending (a
// longest poll already written is harmless to write again).
func (p *pendingPolls) committed(snap map[string]pollAgg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for date, a := range snap {
		cur := p.m[date]
		cur.polls -= a.polls
		cur.failures -= a.failures
		cur.total -= a.total
		if cur.polls == 0 {
			delete(p.m, date)
		} else {
			p.m[date] = cur
		}
	}
}

// RecordPoll counts one poll that fetched, for the status page's chart.
// It writes nothing by itself: the counters go with the next commit.
func (s *Store) RecordPoll(took time.Duration, failed bool) {
	took = max(took, 0)
	a := pollAgg{polls: 1, total: uint64(took), max: uint64(took)}
	if failed {
		a.failures = 1
	}
	s.polls.add(dayOf(s.now()), a)
}

// flushPolls writes the pending poll counters in tx; done, called once tx
// has committed, forgets them. Like flushDeferred, it drops and logs what
// cannot be written rather than fail every poll's commit.
func (s *Store) flushPolls(tx *bbolt.Tx) (done func()) {
	snap := s.polls.snapshot()
	if len(snap) == 0 {
		return nil
	}
	for date, a := range snap {
		b, err := dayBucket(tx, date)
		if err == nil {
			cur := decodePollAgg(b.Get(kPolls))
			cur.merge(a)
			err = b.Put(kPolls, cur.encode())
		}
		if err != nil {
			s.log.Error("dropping poll counters that cannot be written", "day", date, "err", err)
		}
	}
	return func() { s.polls.committed(snap) }
}

// Days returns the counters of the last n days up to today, oldest first;
// days without any are zero.
func (s *Store) Days(n int) ([]crier.Day, error) {
	today, err := time.Parse(time.DateOnly, dayOf(s.now()))
	if err != nil {
		return nil, err
	}
	out := make([]crier.Day, n)
	err = s.db.View(func(tx *bbolt.Tx) error {
		root := tx.Bucket(bDaily)
		for i := range out {
			d := &out[i]
			d.Date = today.AddDate(0, 0, i-n+1).Format(time.DateOnly)
			d.New, d.Sent = map[string]int{}, map[string]int{}
			agg := s.polls.get(d.Date)
			var b *bbolt.Bucket
			if root != nil {
				b = root.Bucket([]byte(d.Date))
			}
			if b != nil {
				agg.merge(decodePollAgg(b.Get(kPolls)))
				err := b.ForEach(func(k, v []byte) error {
					if len(k) < 1 || len(v) != 8 {
						return nil
					}
					switch k[0] {
					case kindNew:
						d.New[string(k[1:])] = int(binary.BigEndian.Uint64(v))
					case kindSent:
						d.Sent[string(k[1:])] = int(binary.BigEndian.Uint64(v))
					}
					return nil
				})
				if err != nil {
					return err
				}
			}
			d.Polls, d.Failures = int(agg.polls), int(agg.failures)
			d.PollTime, d.PollMax = time.Duration(agg.total), time.Duration(agg.max)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read daily counters: %w", err)
	}
	return out, nil
}

// dayBuckets lists the days that have counters (for tests).
func (s *Store) dayBuckets() ([]string, error) {
	var out []string
	err := s.db.View(func(tx *bbolt.Tx) error {
		if root := tx.Bucket(bDaily); root != nil {
			return root.ForEachBucket(func(k []byte) error {
				out = append(out, string(k))
				return nil
			})
		}
		return nil
	})
	return out, err
}
