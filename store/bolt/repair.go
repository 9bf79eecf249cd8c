package bolt

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	bbolt "go.etcd.io/bbolt"
)

// WriteBackup writes a consistent copy of the state file to w, through a
// read transaction: polls and sends go on meanwhile. It returns the bytes
// written.
func (s *Store) WriteBackup(w io.Writer) (int64, error) {
	var n int64
	err := s.db.View(func(tx *bbolt.Tx) error {
		var err error
		n, err = tx.WriteTo(w)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("back up state file %s: %w", s.path, err)
	}
	return n, nil
}

// RepairReport says what Repair did.
type RepairReport struct {
	// Healthy is true when the file was not corrupt; nothing was changed.
	Healthy bool
	// Kept counts the keys copied into the new file.
	Kept int
	// Lost names each part that could not be read, one line each, as
	// "bucket: why". Buckets are paths like "seen/<feedID>".
	Lost []string
	// MovedTo is where the damaged file was kept.
	MovedTo string
}

// Repair replaces a corrupt state file at path with a copy of everything
// in it that can still be read: every bucket and key reachable through
// undamaged pages, and the buckets' sequences (which number entries). The
// damaged file is kept as path.corrupt-<now>. No crier may run meanwhile:
// Repair holds the file's lock throughout (ErrLocked if it cannot).
func Repair(path string, now time.Time) (RepairReport, error) {
	var rep RepairReport
	f, err := os.Open(path)
	if err != nil {
		return rep, fmt.Errorf("repair state file: %w", err)
	}
	defer f.Close()
	unlock, ok, err := exclusiveLock(f)
	if err != nil {
		return rep, fmt.Errorf("lock state file %s: %w", path, err)
	}
	if !ok {
		return rep, fmt.Errorf("state file %s is in use by a running crier: %w", path, ErrLocked)
	}
	defer unlock()
	if err := checkPages(path, f); err == nil {
		rep.Healthy = true
		return rep, nil
	}
	pf, err := openPages(f)
	if err != nil || pf == nil {
		return rep, &CorruptError{Path: path, Detail: fmt.Sprintf("nothing can be salvaged: %v", err)}
	}

	// Of the two trees the meta pages describe (the last commit and the
	// one before), take the one that loses least; the last on a tie.
	best, bestLost := pf.metas[0], -1
	for _, m := range pf.metas {
		var c salvageCount
		if _, err := pf.walk(m, &c); err == nil && (bestLost < 0 || c.lost < bestLost) {
			best, bestLost = m, c.lost
		}
	}

	tmp := path + ".repair"
	_ = os.Remove(tmp)
	db, err := bbolt.Open(tmp, 0o600, &bbolt.Options{FreelistType: bbolt.FreelistMapType, NoFreelistSync: true})
	if err != nil {
		return rep, fmt.Errorf("create repaired state file: %w", err)
	}
	err = db.Update(func(tx *bbolt.Tx) error {
		c := &salvageCopy{tx: tx, rep: &rep}
		_, err := pf.walk(best, c)
		return err
	})
	if cerr := db.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(tmp)
		return rep, fmt.Errorf("write repaired state file: %w", err)
	}
	rep.MovedTo = path + ".corrupt-" + now.Format("20060102-150405")
	if err := os.Rename(path, rep.MovedTo); err != nil {
		_ = os.Remove(tmp)
		return rep, fmt.Errorf("keep the damaged file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return rep, fmt.Errorf("put the repaired file in place (the damaged one is %s): %w", rep.MovedTo, err)
	}
	if d, err := os.Open(filepath.Dir(path)); err == nil {
		_ = d.Sync()
		d.Close()
	}
	return rep, nil
}

// salvageCount counts the subtrees a walk would lose.
type salvageCount struct{ lost int }

func (*salvageCount) bucket([][]byte, uint64) error        { return nil }
func (*salvageCount) value([][]byte, []byte, []byte) error { return nil }
func (c *salvageCount) problem([][]byte, error) error      { c.lost++; return nil }

// salvageCopy writes what a walk reads into tx, skipping what it cannot.
type salvageCopy struct {
	tx  *bbolt.Tx
	rep *RepairReport
}

// at returns the bucket at path, nil if it was not salvaged.
func (c *salvageCopy) at(path [][]byte) *bbolt.Bucket {
	if len(path) == 0 {
		return nil
	}
	b := c.tx.Bucket(path[0])
	for _, name := range path[1:] {
		if b == nil {
			return nil
		}
		b = b.Bucket(name)
	}
	return b
}

func (c *salvageCopy) bucket(path [][]byte, seq uint64) error {
	name := path[len(path)-1]
	var b *bbolt.Bucket
	var err error
	if len(path) == 1 {
		b, err = c.tx.CreateBucketIfNotExists(name)
	} else if parent := c.at(path[:len(path)-1]); parent != nil {
		b, err = parent.CreateBucketIfNotExists(name)
	} else {
		return nil
	}
	if errors.Is(err, bbolt.ErrIncompatibleValue) || errors.Is(err, bbolt.ErrBucketNameRequired) {
		c.rep.Lost = append(c.rep.Lost, fmt.Sprintf("%s: bucket clashes with a key", bucketPath(path)))
		return nil
	}
	if err != nil {
		return err
	}
	return b.SetSequence(max(b.Sequence(), seq))
}

func (c *salvageCopy) value(path [][]byte, k, v []byte) error {
	b := c.at(path)
	if b == nil || len(k) == 0 {
		return nil // a key outside any bucket: bbolt has none such
	}
	if err := b.Put(k, v); err != nil {
		if errors.Is(err, bbolt.ErrIncompatibleValue) {
			return nil
		}
		return err
	}
	c.rep.Kept++
	return nil
}

func (c *salvageCopy) problem(path [][]byte, err error) error {
	where := bucketPath(path)
	if where == "" {
		where = "(top level)"
	}
	c.rep.Lost = append(c.rep.Lost, where+": "+err.Error())
	return nil
}
