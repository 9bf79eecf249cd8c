//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package bolt

import "os"

// sharedLock is a no-op where flock is missing: the pages are checked
// without excluding a concurrent writer, and bbolt's own lock decides.
func sharedLock(*os.File) (unlock func(), ok bool, err error) { return func() {}, true, nil }

// exclusiveLock is a no-op where flock is missing.
func exclusiveLock(*os.File) (unlock func(), ok bool, err error) { return func() {}, true, nil }
