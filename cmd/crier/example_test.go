package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestExampleConfigStartsUnderTheUnit installs config.example.yaml as the
// README's "Running as a service" says and gives it exactly the
// environment the shipped unit gives crier: the credentials its
// LoadCredential= lines load (filled with keys of the right shape, as a
// user does), and systemd's directory variables, nothing else. crier check
// builds every notifier as run does, so passing it means the service
// starts.
func TestExampleConfigStartsUnderTheUnit(t *testing.T) {
	t.Parallel()
	unit, err := os.ReadFile(filepath.Join("..", "..", "systemd", "crier.service"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	example, err := os.ReadFile(filepath.Join("..", "..", "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}

	creds, conf, state := t.TempDir(), t.TempDir(), t.TempDir()
	loaded := regexp.MustCompile(`(?m)^LoadCredential=([^:\s]+):(\S+)$`).FindAllStringSubmatch(string(unit), -1)
	if len(loaded) == 0 {
		t.Fatal("the unit loads no credentials")
	}
	for _, m := range loaded {
		name, source := m[1], m[2]
		// The README must tell the user to create each file the unit
		// loads: systemd refuses to start when one is missing.
		if !strings.Contains(string(readme), source) {
			t.Errorf("the README never says to create %s (LoadCredential=%s)", source, name)
		}
		key := strings.Repeat("a1B2c3", 5) // 30 letters and digits, as Pushover's keys
		if err := os.WriteFile(filepath.Join(creds, name), []byte(key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(conf, "config.yaml"), example, 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"CREDENTIALS_DIRECTORY":   creds,
		"CONFIGURATION_DIRECTORY": conf,
		"STATE_DIRECTORY":         state,
		"RUNTIME_DIRECTORY":       t.TempDir(),
	}
	code, out, errOut := runCLI(env, "check")
	if code != 0 {
		t.Fatalf("the example config does not start under the unit (exit %d):\n%s", code, errOut)
	}
	if want := "state: " + filepath.Join(state, "crier.db"); !strings.Contains(out, want) {
		t.Errorf("check says\n%s\nwant the store in $STATE_DIRECTORY: %q", out, want)
	}
}
