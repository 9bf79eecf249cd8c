//go:build !linux

package main

import "os"

// isTerminal reports whether f is a character device, as a terminal is:
// only then does crier init ask its questions there.
func isTerminal(f *os.File) bool {
	fi, err := f.Stat()
	return err == nil && fi.Mode()&os.ModeCharDevice != 0
}
