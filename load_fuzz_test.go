package crier

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// FuzzLoad checks that no input makes Load panic and that a failed load
// always explains itself. The seeds run with every go test.
func FuzzLoad(f *testing.F) {
	example, err := os.ReadFile("config.example.yaml")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(example))
	for _, s := range []string{
		"", "~", "[]", "notifiers: [console]", "notifiers: [{type: console}]\nfeeds: [~, 1, [a]]",
		"notifiers: [{type: console, quiet_hours: 22-07}]", "notifiers: [{type: console, quiet_hours: [a]}]",
		"notifiers: [{<<: 5, type: console}]", "notifiers: [{type: [console]}]",
		"notifiers: [{type: console}]\nfeeds: [{url: 'https://a/', rules: [x, ~, {match: ~}]}]",
		"notifiers: [{type: email, host: h, from: a@b, to: [~, 1]}]", "a: &a [*a]",
		"notifiers: [{type: webhook, url: 'https://h/', headers: [a]}]", "defaults: {schedule: 'TZ=UTC'}",
		"notifiers: [{type: pushover, token_file: ~, user: ${}}]", "? [a]\n: b", "notifiers: [{type}]",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		cfg, err := Load(strings.NewReader(src), "fuzz.yaml", testOptions(map[string]string{"A": "1"}, nil))
		if err == nil && len(cfg.Notifiers) == 0 {
			t.Errorf("loaded a config without notifiers")
		}
		if err != nil && strings.TrimSpace(err.Error()) == "" {
			t.Errorf("empty error")
		}
	})
}

func TestLoadMergeBomb(t *testing.T) {
	t.Parallel()
	var b strings.Builder
	b.WriteString("x0: &m0 {type: console}\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&b, "x%d: &m%d {<<: [*m%d, *m%d]}\n", i, i, i-1, i-1)
	}
	b.WriteString("notifiers: [*m40]\n")
	_, err := loadString(t, b.String(), nil, nil)
	if err == nil || !strings.Contains(err.Error(), "too many merge keys") {
		t.Fatalf("Load = %v, want it to refuse the merge bomb", err)
	}
}
