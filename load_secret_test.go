package crier

import (
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestSecretFilesAreBounded reads KEY_file secrets from the real file
// system: what is not a plain file of a plausible size (a FIFO no one
// writes to, /dev/zero, a huge file) or is empty is refused at its line,
// and loading never hangs or grows without bound.
func TestSecretFilesAreBounded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, want string
	}{
		{"fifo", fifo, "is not a regular file"},
		{"device", "/dev/zero", "is not a regular file"},
		{"65 KiB", write("big", strings.Repeat("k", 65<<10)), "larger than 64 KiB"},
		{"empty", write("empty", ""), "the file is empty"},
		{"only a newline", write("newline", "\n"), "the file is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			// token is optional for ntfy: an empty file is still a mistake.
			src := "notifiers:\n  - type: ntfy\n    topic: news\n    token_file: " + tt.path + "\n"
			cfgPath := filepath.Join(dir, "config.yaml")
			_, err := Load(strings.NewReader(src), cfgPath, LoadOptions{Env: fakeEnv(nil), Home: "/home/u"})
			want := cfgPath + ":4: notifiers[0].token_file: "
			if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q… %q", err, want, tt.want)
			}
		})
	}

	ok := write("ok", strings.Repeat("k", 64<<10-1)+"\n") // the largest allowed
	src := "notifiers:\n  - type: ntfy\n    topic: news\n    token_file: " + ok + "\n"
	cfg, err := Load(strings.NewReader(src), filepath.Join(dir, "config.yaml"), LoadOptions{Env: fakeEnv(nil), Home: "/home/u"})
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Notifiers[0].Options["token"]; len(got) != 64<<10-1 {
		t.Errorf("a 64 KiB file read as a secret of %d bytes", len(got))
	}
}
