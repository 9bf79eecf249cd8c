package crier

import (
	"fmt"
	"io"
	"os"
	"strings"
	"syscall"

	"go.yaml.in/yaml/v3"
)

// maxSecretSize bounds a KEY_file. Tokens, passwords and webhook URLs are
// far smaller; a larger file is the wrong file, and reading it whole would
// let a typo (a log file, a disk image) fill the memory of `crier check`.
const maxSecretSize = 64 << 10

// readSecretFile reads a secret file, refusing anything but a regular
// file: opening a FIFO would wait for a writer forever (a hung ExecStartPre)
// and a device such as /dev/zero never ends. O_NONBLOCK makes the open of
// a FIFO return at once so that the check below can refuse it; it changes
// nothing for a regular file. The check is on the opened file, so the
// path cannot be swapped between the check and the read.
func readSecretFile(path string) ([]byte, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s is not a regular file (%s): a secret file must be a plain file", path, fi.Mode().Type())
	}
	// One byte more than allowed tells "too large" from "exactly full".
	data, err := io.ReadAll(io.LimitReader(f, maxSecretSize+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxSecretSize {
		return nil, fmt.Errorf("%s is larger than 64 KiB: not a secret file", path)
	}
	return data, nil
}

// readSecret reads a KEY_file, trimming the trailing newline editors add.
// A file that holds nothing is an error even for an optional secret: the
// config names it, so something was meant to be in it.
func (l *loader) readSecret(n *yaml.Node, field string) (string, bool) {
	p, ok := l.str(n, field)
	if !ok {
		return "", false
	}
	path := l.path(p, l.dir)
	data, err := l.opt.ReadFile(path)
	if err != nil {
		l.errf(n, field, "%v", err)
		return "", false
	}
	v := strings.TrimRight(string(data), " \t\r\n")
	if v == "" {
		l.errf(n, field, "the file is empty")
		return "", false
	}
	return v, true
}
