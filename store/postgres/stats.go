package postgres

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/crierd/crier"
)

// Daily counters, as store/bolt keeps them (see its stats.go): new items
// are counted in Ingest's transaction and deliveries in Done's; poll
// counters are kept in memory and written with the next ingest (or a feed
// state save once they have waited pollsFor), by Flush and at Close. Days
// older than statsDays are dropped when a process first writes a new day.

// statsDays is how many days of counters are kept: the charts show 14.
const statsDays = 15

const (
	kindNew  = 'n'
	kindSent = 's'
)

// pollsFor bounds how long poll counters wait for an ingest to carry them.
const pollsFor = time.Minute

func dayOf(t time.Time) string { return t.Local().Format(time.DateOnly) }

// rollover drops the counters of days past statsDays, once per day and
// process: the counters stay bounded even where Prune never runs.
func (s *Store) rollover(w *writes, date string) {
	s.mu.Lock()
	done := s.rolled == date
	s.rolled = date // a rollback only delays the drop to the next day
	s.mu.Unlock()
	if done {
		return
	}
	d, err := time.Parse(time.DateOnly, date)
	if err != nil {
		return
	}
	cutoff := d.AddDate(0, 0, -(statsDays - 1)).Format(time.DateOnly)
	for _, table := range []string{"crier_daily", "crier_daily_polls"} {
		w.exec("DELETE FROM "+table+" WHERE day < $1", cutoff)
	}
}

// countDay adds n to the counter kind+name of now's day.
func (s *Store) countDay(w *writes, now time.Time, kind byte, name string, n int) {
	date := dayOf(now)
	s.rollover(w, date)
	w.exec(`INSERT INTO crier_daily (day, kind, name, n) VALUES ($1, $2, $3, $4)
		ON CONFLICT (day, kind, name) DO UPDATE SET n = crier_daily.n + excluded.n`,
		date, string(rune(kind)), name, n)
}

// pollAgg is one day's poll counters.
type pollAgg struct{ polls, failures, total, max int64 }

func (a *pollAgg) merge(b pollAgg) {
	a.polls += b.polls
	a.failures += b.failures
	a.total += b.total
	a.max = max(a.max, b.max)
}

// pendingPolls are poll counters not yet written, by date. A writer takes
// them, so that two concurrent transactions never write the same counts,
// and puts them back when its transaction fails.
type pendingPolls struct {
	mu     sync.Mutex
	m      map[string]pollAgg
	oldest time.Time
}

func (p *pendingPolls) add(date string, a pollAgg, now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.m == nil {
		p.m = map[string]pollAgg{}
	}
	if len(p.m) == 0 {
		p.oldest = now
	}
	cur := p.m[date]
	cur.merge(a)
	p.m[date] = cur
}

func (p *pendingPolls) get(date string) pollAgg {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.m[date]
}

func (p *pendingPolls) take() map[string]pollAgg {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.m
	p.m = nil
	return out
}

// takeIfDue takes the counters once the oldest has waited pollsFor.
func (p *pendingPolls) takeIfDue(now time.Time) map[string]pollAgg {
	p.mu.Lock()
	due := len(p.m) > 0 && now.Sub(p.oldest) >= pollsFor
	p.mu.Unlock()
	if !due {
		return nil
	}
	return p.take()
}

func (p *pendingPolls) putBack(snap map[string]pollAgg) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if len(snap) == 0 {
		return
	}
	if p.m == nil {
		p.m = map[string]pollAgg{}
	}
	for date, a := range snap {
		cur := p.m[date]
		cur.merge(a)
		p.m[date] = cur
	}
}

// RecordPoll counts one poll that fetched, for the status page's chart.
// It writes nothing by itself: the counters go with the next ingest.
func (s *Store) RecordPoll(took time.Duration, failed bool) {
	took = max(took, 0)
	a := pollAgg{polls: 1, total: int64(took), max: int64(took)}
	if failed {
		a.failures = 1
	}
	now := s.now()
	s.polls.add(dayOf(now), a, now)
}

// writePolls adds snap to the stored poll counters in tx.
func (s *Store) writePolls(w *writes, snap map[string]pollAgg) {
	for date, a := range snap {
		s.rollover(w, date)
		w.exec(`INSERT INTO crier_daily_polls (day, polls, failures, total_ns, max_ns)
			VALUES ($1, $2, $3, $4, $5) ON CONFLICT (day) DO UPDATE SET
			polls = crier_daily_polls.polls + excluded.polls, failures = crier_daily_polls.failures + excluded.failures,
			total_ns = crier_daily_polls.total_ns + excluded.total_ns, max_ns = greatest(crier_daily_polls.max_ns, excluded.max_ns)`,
			date, a.polls, a.failures, a.total, a.max)
	}
}

// Days returns the counters of the last n days up to today, oldest first;
// days without any are zero. Poll counters not yet written by this
// process count; those of other workers count once written.
func (s *Store) Days(n int) ([]crier.Day, error) {
	today, err := time.Parse(time.DateOnly, dayOf(s.now()))
	if err != nil {
		return nil, err
	}
	out := make([]crier.Day, n)
	idx := make(map[string]int, n)
	for i := range out {
		d := &out[i]
		d.Date = today.AddDate(0, 0, i-n+1).Format(time.DateOnly)
		d.New, d.Sent = map[string]int{}, map[string]int{}
		idx[d.Date] = i
	}
	if n <= 0 {
		return out, nil
	}
	ctx, cancel := s.op()
	defer cancel()
	first := out[0].Date
	aggs := make([]pollAgg, n)
	for i := range out {
		aggs[i] = s.polls.get(out[i].Date)
	}
	rows, err := s.pool.Query(ctx, "SELECT day, kind, name, n FROM crier_daily WHERE day >= $1", first)
	if err != nil {
		return nil, fmt.Errorf("read daily counters: %w", err)
	}
	var day, kind, name string
	var cnt int64
	_, err = pgx.ForEachRow(rows, []any{&day, &kind, &name, &cnt}, func() error {
		i, ok := idx[day]
		if !ok {
			return nil
		}
		switch kind {
		case string(rune(kindNew)):
			out[i].New[name] = int(cnt)
		case string(rune(kindSent)):
			out[i].Sent[name] = int(cnt)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read daily counters: %w", err)
	}
	rows, err = s.pool.Query(ctx, "SELECT day, polls, failures, total_ns, max_ns FROM crier_daily_polls WHERE day >= $1", first)
	if err != nil {
		return nil, fmt.Errorf("read poll counters: %w", err)
	}
	var a pollAgg
	_, err = pgx.ForEachRow(rows, []any{&day, &a.polls, &a.failures, &a.total, &a.max}, func() error {
		if i, ok := idx[day]; ok {
			aggs[i].merge(a)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read poll counters: %w", err)
	}
	for i := range out {
		d := &out[i]
		d.Polls, d.Failures = int(aggs[i].polls), int(aggs[i].failures)
		d.PollTime, d.PollMax = time.Duration(aggs[i].total), time.Duration(aggs[i].max)
	}
	return out, nil
}

// dayBuckets lists the days that have counters (for tests).
func (s *Store) dayBuckets(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, "SELECT day FROM crier_daily UNION SELECT day FROM crier_daily_polls ORDER BY 1")
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}
