//go:build linux || darwin || freebsd || openbsd || netbsd || dragonfly

package bolt

import (
	"errors"
	"os"
	"syscall"
)

// sharedLock takes a shared lock on f without waiting, the lock bbolt's
// writers hold exclusively, so that the pages are checked while no crier
// writes them. It reports false when a writer holds the file.
func sharedLock(f *os.File) (unlock func(), ok bool, err error) { return flock(f, syscall.LOCK_SH) }

// exclusiveLock is the lock a writing crier holds: no other crier, and no
// reader, has the file meanwhile.
func exclusiveLock(f *os.File) (unlock func(), ok bool, err error) { return flock(f, syscall.LOCK_EX) }

func flock(f *os.File, how int) (unlock func(), ok bool, err error) {
	err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	return func() { _ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN) }, true, nil
}
