package bolt

import (
	"errors"
	"fmt"
	"sync"

	bbolt "go.etcd.io/bbolt"
)

// groupCommit runs the write functions of concurrent callers in one
// transaction and one fsync, with no added delay: a caller that finds no
// commit in progress commits at once; callers arriving meanwhile queue, and
// the first of them commits the whole queue when the running commit ends.
// Polls of many feeds each write a little, so this turns N commits into
// about N/concurrency. (bbolt's own Batch waits for a timer instead.)
//
// A function may run more than once: when one function of a group fails,
// the group's transaction is rolled back and every caller reruns its
// function alone, so that each gets exactly its own error (or panic).
type groupCommit struct {
	db *bbolt.DB
	// flush, when set, writes first in every group's transaction; done,
	// when not nil, runs once that transaction has committed.
	flush   func(*bbolt.Tx) (done func(), err error)
	mu      sync.Mutex
	queue   []*commitCall
	leading bool // a caller is committing; the queue waits for it
}

type commitCall struct {
	fn   func(*bbolt.Tx) error
	done chan error // buffered: the result, or errLead / errSolo
}

var (
	errLead = errors.New("store: lead the next group commit")
	errSolo = errors.New("store: commit alone")
)

// update is db.Update, shared with whoever else is writing.
func (g *groupCommit) update(fn func(*bbolt.Tx) error) error {
	me := &commitCall{fn: fn, done: make(chan error, 1)}
	g.mu.Lock()
	g.queue = append(g.queue, me)
	if g.leading {
		g.mu.Unlock()
		switch err := <-me.done; err {
		case errLead:
			g.mu.Lock()
		case errSolo:
			return g.db.Update(fn)
		default:
			return err
		}
	} else {
		g.leading = true
	}
	// Leading, with g.mu held. me is still queued: a call leaves the
	// queue only in the group that runs it.
	group := g.queue
	g.queue = nil
	g.mu.Unlock()

	g.run(group)

	g.mu.Lock()
	if len(g.queue) > 0 {
		g.queue[0].done <- errLead
	} else {
		g.leading = false
	}
	g.mu.Unlock()

	if err := <-me.done; err != errSolo {
		return err
	}
	return g.db.Update(fn)
}

// run commits group in one transaction and tells every caller the outcome.
func (g *groupCommit) run(group []*commitCall) {
	failed := false
	var flushed func()
	err := g.db.Update(func(tx *bbolt.Tx) error {
		if g.flush != nil {
			done, err := g.flush(tx)
			if err != nil {
				return err
			}
			flushed = done
		}
		for _, c := range group {
			if err := callSafely(c.fn, tx); err != nil {
				failed = true
				return err
			}
		}
		return nil
	})
	if err == nil && flushed != nil {
		flushed()
	}
	if failed && len(group) > 1 {
		err = errSolo
	} else if failed {
		// Alone in its group: its error is its own; a panic is rerun
		// by its caller, so that it panics in the caller's goroutine.
		var p panicked
		if errors.As(err, &p) {
			err = errSolo
		}
	}
	for _, c := range group {
		c.done <- err
	}
}

type panicked struct{ v any }

func (p panicked) Error() string { return fmt.Sprintf("panic: %v", p.v) }

func callSafely(fn func(*bbolt.Tx) error, tx *bbolt.Tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = panicked{p}
		}
	}()
	return fn(tx)
}
