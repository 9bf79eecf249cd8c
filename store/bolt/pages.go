package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
)

// A state file is checked page by page before bbolt opens it. bbolt trusts
// its pages: a truncated file or a flipped byte makes it index past a page
// or the mapping, and it does so at open, in a goroutine of its own
// (the free-list scan), where the panic or fault cannot be recovered. So
// this file reads the pages with plain reads, never through the mmap, and
// checks everything bbolt's open and reads rely on: the meta pages'
// checksums, that every reachable page lies inside the file, is the page
// it claims to be, is referenced once and holds its elements, and the key
// order bbolt's scan asserts. The same walk salvages what is readable for
// `crier store repair`.
//
// The layout mirrors go.etcd.io/bbolt/internal/common (format version 2),
// in the machine's byte order as bbolt writes it.

const (
	pageHeaderSize = 16 // id u64, flags u16, count u16, overflow u32
	elementSize    = 16 // branch: pos, ksize u32, pgid u64; leaf: flags, pos, ksize, vsize u32
	bucketHeader   = 16 // root pgid u64, sequence u64

	branchPage   = 0x01
	leafPage     = 0x02
	metaPage     = 0x04
	freelistPage = 0x10
	bucketLeaf   = 0x01

	boltMagic      = 0xED0CDAED
	boltVersion    = 2
	noFreelist     = ^uint64(0)
	metaSumLen     = 56 // meta bytes the checksum covers
	maxPageSize    = 1 << 24
	minPageSize    = 1 << 10
	metaHeaderSize = pageHeaderSize + metaSumLen + 8
)

var order = binary.NativeEndian

// ErrCorrupt reports a state file whose pages cannot be read safely.
var ErrCorrupt = errors.New("corrupt")

// CorruptError says which state file is corrupt and where.
type CorruptError struct {
	Path   string
	Detail string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("state file %s is corrupt (%s)", e.Path, e.Detail)
}

func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

type meta struct {
	pageSize uint32
	root     uint64 // root bucket's page
	rootSeq  uint64
	freelist uint64
	hwm      uint64 // pages in use: ids below this
	txid     uint64
}

// parseMeta reads the meta in a page that starts at b.
func parseMeta(b []byte) (meta, error) {
	if len(b) < metaHeaderSize {
		return meta{}, errors.New("short meta page")
	}
	if f := order.Uint16(b[8:]); f != metaPage {
		return meta{}, fmt.Errorf("meta page has type %#x", f)
	}
	m := b[pageHeaderSize:]
	if order.Uint32(m[0:]) != boltMagic {
		return meta{}, errors.New("not a bbolt file (bad magic)")
	}
	if v := order.Uint32(m[4:]); v != boltVersion {
		return meta{}, fmt.Errorf("bbolt format version %d", v)
	}
	h := fnv.New64a()
	h.Write(m[:metaSumLen])
	if h.Sum64() != order.Uint64(m[metaSumLen:]) {
		return meta{}, errors.New("meta checksum mismatch")
	}
	md := meta{
		pageSize: order.Uint32(m[8:]),
		root:     order.Uint64(m[16:]),
		rootSeq:  order.Uint64(m[24:]),
		freelist: order.Uint64(m[32:]),
		hwm:      order.Uint64(m[40:]),
		txid:     order.Uint64(m[48:]),
	}
	switch {
	case md.pageSize < minPageSize || md.pageSize > maxPageSize || md.pageSize&(md.pageSize-1) != 0:
		return meta{}, fmt.Errorf("page size %d", md.pageSize)
	case md.hwm < 3 || md.root < 2 || md.root >= md.hwm:
		return meta{}, fmt.Errorf("root page %d outside 2..%d", md.root, md.hwm)
	case md.freelist != noFreelist && (md.freelist < 2 || md.freelist >= md.hwm):
		return meta{}, fmt.Errorf("freelist page %d outside 2..%d", md.freelist, md.hwm)
	}
	return md, nil
}

// pageFile reads a state file's pages with ReadAt.
type pageFile struct {
	f    io.ReaderAt
	size int64
	// metas are the valid meta pages, the one bbolt uses first.
	metas []meta
}

// openPages reads the meta pages of the file at path. It returns nil
// without error when there is no file yet or it is empty (bbolt creates it).
func openPages(f *os.File) (*pageFile, error) {
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	pf := &pageFile{f: f, size: fi.Size()}
	if pf.size == 0 {
		return nil, nil
	}
	// Page size: from the first meta, else from a second meta at one of
	// the offsets bbolt tries.
	var pageSize uint32
	buf := make([]byte, metaHeaderSize)
	m0, err0 := pf.metaAt(0, buf)
	if err0 == nil {
		pageSize = m0.pageSize
	} else {
		for off := int64(minPageSize); off <= maxPageSize && off < pf.size; off <<= 1 {
			if m, err := pf.metaAt(off, buf); err == nil && int64(m.pageSize) == off {
				pageSize = m.pageSize
				break
			}
		}
	}
	if pageSize == 0 {
		return nil, fmt.Errorf("no valid meta page: %v", err0)
	}
	m1, err1 := pf.metaAt(int64(pageSize), buf)
	switch {
	case err0 == nil && err1 == nil && m0.pageSize != m1.pageSize:
		return nil, fmt.Errorf("meta pages disagree on the page size (%d, %d)", m0.pageSize, m1.pageSize)
	case err0 == nil && err1 == nil && m1.txid > m0.txid:
		pf.metas = []meta{m1, m0}
	case err0 == nil && err1 == nil:
		pf.metas = []meta{m0, m1}
	case err0 == nil:
		pf.metas = []meta{m0}
	case err1 == nil:
		pf.metas = []meta{m1}
	default:
		return nil, fmt.Errorf("both meta pages are invalid: %v; %v", err0, err1)
	}
	return pf, nil
}

func (pf *pageFile) metaAt(off int64, buf []byte) (meta, error) {
	if _, err := pf.f.ReadAt(buf, off); err != nil {
		return meta{}, fmt.Errorf("read meta at %d: %w", off, err)
	}
	return parseMeta(buf)
}

// page reads page id of the tree described by m, overflow included.
func (pf *pageFile) page(m meta, id uint64) ([]byte, error) {
	if id < 2 || id >= m.hwm {
		return nil, fmt.Errorf("page %d outside 2..%d", id, m.hwm)
	}
	ps := int64(m.pageSize)
	off := int64(id) * ps
	if off+ps > pf.size {
		return nil, fmt.Errorf("page %d beyond the end of the file (%d bytes)", id, pf.size)
	}
	hdr := make([]byte, pageHeaderSize)
	if _, err := pf.f.ReadAt(hdr, off); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	if got := order.Uint64(hdr); got != id {
		return nil, fmt.Errorf("page %d says it is page %d", id, got)
	}
	overflow := uint64(order.Uint32(hdr[12:]))
	if id+overflow >= m.hwm || off+int64(overflow+1)*ps > pf.size {
		return nil, fmt.Errorf("page %d overflows past the end (%d more pages)", id, overflow)
	}
	b := make([]byte, int64(overflow+1)*ps)
	if _, err := pf.f.ReadAt(b, off); err != nil {
		return nil, fmt.Errorf("read page %d: %w", id, err)
	}
	return b, nil
}

// checkFreelist checks the freelist page a meta names, if any: bbolt reads
// it at open instead of scanning.
func (pf *pageFile) checkFreelist(m meta) error {
	if m.freelist == noFreelist {
		return nil
	}
	p, err := pf.page(m, m.freelist)
	if err != nil {
		return fmt.Errorf("freelist: %w", err)
	}
	if f := order.Uint16(p[8:]); f != freelistPage {
		return fmt.Errorf("freelist page %d has type %#x", m.freelist, f)
	}
	n, start := uint64(order.Uint16(p[10:])), uint64(pageHeaderSize)
	if n == 0xFFFF {
		n, start = order.Uint64(p[pageHeaderSize:]), pageHeaderSize+8
	}
	if n > (uint64(len(p))-start)/8 {
		return fmt.Errorf("freelist page %d lists %d pages, more than it holds", m.freelist, n)
	}
	for i := range n {
		if id := order.Uint64(p[start+8*i:]); id < 2 || id >= m.hwm {
			return fmt.Errorf("freelist page %d lists page %d outside 2..%d", m.freelist, id, m.hwm)
		}
	}
	return nil
}

// pageVisitor hears of what a walk finds. path is the bucket's name path.
type pageVisitor interface {
	bucket(path [][]byte, seq uint64) error
	value(path [][]byte, k, v []byte) error
	// problem is a subtree that cannot be read; returning an error stops
	// the walk (checking), nil skips the subtree (salvaging).
	problem(path [][]byte, err error) error
}

// walker walks the bucket tree of one meta.
type walker struct {
	pf    *pageFile
	m     meta
	seen  map[uint64]bool
	visit pageVisitor
}

// walk walks m's tree and returns the pages it reached.
func (pf *pageFile) walk(m meta, v pageVisitor) (map[uint64]bool, error) {
	w := &walker{pf: pf, m: m, seen: map[uint64]bool{}, visit: v}
	_, err := w.pageID(nil, m.root, nil, nil, true)
	return w.seen, err
}

// pageID walks page id, whose keys bbolt expects in [lo, hi); it returns
// the largest key below it. ordered is false inside inline buckets, which
// bbolt's scan does not order-check.
func (w *walker) pageID(path [][]byte, id uint64, lo, hi []byte, ordered bool) ([]byte, error) {
	p, err := w.pf.page(w.m, id)
	if err == nil {
		for i := uint64(0); i < uint64(len(p))/uint64(w.m.pageSize); i++ {
			if w.seen[id+i] {
				err = fmt.Errorf("page %d is referenced twice", id+i)
				break
			}
			w.seen[id+i] = true
		}
	}
	if err == nil {
		if f := order.Uint16(p[8:]); f != branchPage && f != leafPage {
			err = fmt.Errorf("page %d has type %#x, want a branch or leaf", id, f)
		}
	}
	if err != nil {
		return nil, w.visit.problem(path, err)
	}
	return w.page(path, id, p, lo, hi, ordered)
}

func (w *walker) page(path [][]byte, id uint64, p, lo, hi []byte, ordered bool) ([]byte, error) {
	flags, count := order.Uint16(p[8:]), int(order.Uint16(p[10:]))
	if pageHeaderSize+count*elementSize > len(p) {
		return nil, w.visit.problem(path, fmt.Errorf("page %d: %d elements do not fit", id, count))
	}
	if flags == branchPage && count == 0 {
		return nil, w.visit.problem(path, fmt.Errorf("page %d: empty branch", id))
	}
	// Keys are read first, so that a bad element fails the page before
	// anything of it is visited.
	type elem struct {
		flags uint32
		key   []byte
		val   []byte
		child uint64
	}
	elems := make([]elem, count)
	for i := range elems {
		at := pageHeaderSize + i*elementSize
		e := p[at : at+elementSize]
		var pos, ksize, vsize uint64
		if flags == branchPage {
			pos, ksize = uint64(order.Uint32(e)), uint64(order.Uint32(e[4:]))
			elems[i].child = order.Uint64(e[8:])
		} else {
			elems[i].flags = order.Uint32(e)
			pos, ksize, vsize = uint64(order.Uint32(e[4:])), uint64(order.Uint32(e[8:])), uint64(order.Uint32(e[12:]))
		}
		start := uint64(at) + pos
		if start+ksize+vsize > uint64(len(p)) {
			return nil, w.visit.problem(path, fmt.Errorf("page %d: element %d points past the page", id, i))
		}
		elems[i].key = p[start : start+ksize]
		elems[i].val = p[start+ksize : start+ksize+vsize]
		if ordered && flags == leafPage {
			prev := lo
			if i > 0 {
				prev = elems[i-1].key
			}
			if !inOrder(i, elems[i].key, prev, hi) {
				return nil, w.visit.problem(path, fmt.Errorf("page %d: keys out of order", id))
			}
		}
	}

	var maxKey []byte
	if flags == branchPage {
		runningMin := lo
		for i, e := range elems {
			if ordered && !inOrder(i, e.key, runningMin, hi) {
				return nil, w.visit.problem(path, fmt.Errorf("page %d: keys out of order", id))
			}
			next := hi
			if i+1 < len(elems) {
				next = elems[i+1].key
			}
			k, err := w.pageID(path, e.child, e.key, next, ordered)
			if err != nil {
				return nil, err
			}
			maxKey, runningMin = k, k
		}
		return maxKey, nil
	}
	for _, e := range elems {
		if e.flags&bucketLeaf == 0 {
			if err := w.visit.value(path, e.key, e.val); err != nil {
				return nil, err
			}
			continue
		}
		sub := append(path[:len(path):len(path)], e.key)
		if err := w.bucket(sub, e.val); err != nil {
			return nil, err
		}
	}
	if len(elems) > 0 {
		maxKey = elems[len(elems)-1].key
	}
	return maxKey, nil
}

// inOrder is bbolt's key-order rule (verifyKeyOrder in its tx_check.go):
// the i-th key of a page against the key before it (or the page's lower
// bound, which it may equal) and the upper bound.
func inOrder(i int, key, prev, hi []byte) bool {
	if i == 0 && prev != nil && bytes.Compare(prev, key) > 0 {
		return false
	}
	if i > 0 && bytes.Compare(prev, key) >= 0 {
		return false
	}
	return hi == nil || bytes.Compare(key, hi) < 0
}

// bucket walks a nested bucket from its header value.
func (w *walker) bucket(path [][]byte, v []byte) error {
	if len(v) < bucketHeader {
		return w.visit.problem(path, errors.New("short bucket header"))
	}
	root, seq := order.Uint64(v), order.Uint64(v[8:])
	if err := w.visit.bucket(path, seq); err != nil {
		return err
	}
	if root != 0 {
		_, err := w.pageID(path, root, nil, nil, true)
		return err
	}
	inline := v[bucketHeader:]
	if len(inline) < pageHeaderSize {
		return w.visit.problem(path, errors.New("short inline bucket"))
	}
	if f := order.Uint16(inline[8:]); f != leafPage {
		return w.visit.problem(path, fmt.Errorf("inline bucket has page type %#x", f))
	}
	_, err := w.page(path, 0, inline, nil, nil, false)
	return err
}

// checker stops at the first problem.
type checker struct{}

func (checker) bucket([][]byte, uint64) error        { return nil }
func (checker) value([][]byte, []byte, []byte) error { return nil }
func (checker) problem(path [][]byte, err error) error {
	if len(path) > 0 {
		return fmt.Errorf("bucket %s: %w", bucketPath(path), err)
	}
	return err
}

func bucketPath(path [][]byte) string {
	return string(bytes.Join(path, []byte("/")))
}

// Check reports whether the state file at path can be opened safely: nil,
// a *CorruptError (errors.Is ErrCorrupt), or ErrLocked when a running crier
// holds it (its pages may be mid-write; it was checked when it opened).
func Check(path string) error {
	if _, err := os.Stat(path); err != nil {
		return fmt.Errorf("check state file: %w", err)
	}
	locked, err := checkFile(path)
	if locked {
		return fmt.Errorf("state file %s is in use by a running crier: %w", path, ErrLocked)
	}
	return err
}

// checkFile reports a state file bbolt could not open or read safely as a
// *CorruptError; a missing or empty file is fine. locked reports that a
// writer (a running crier) holds the file, which is then left unchecked:
// its pages may be mid-write, and bbolt's Open will wait for the lock.
func checkFile(path string) (locked bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("open state file %s: %w", path, err)
	}
	defer f.Close()
	unlock, ok, err := sharedLock(f)
	if err != nil {
		return false, fmt.Errorf("lock state file %s: %w", path, err)
	}
	if !ok {
		return true, nil
	}
	defer unlock()
	return false, checkPages(path, f)
}

func checkPages(path string, f *os.File) error {
	pf, err := openPages(f)
	if err == nil && pf != nil {
		// bbolt opens the tree of the first meta; it falls back to the
		// other only when that meta is invalid, never for a bad tree.
		m := pf.metas[0]
		err = pf.checkFreelist(m)
		if err == nil {
			_, err = pf.walk(m, checker{})
		}
	}
	if err != nil {
		return &CorruptError{Path: path, Detail: err.Error()}
	}
	return nil
}
