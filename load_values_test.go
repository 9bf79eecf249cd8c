package crier

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"text/template"
	"time"
)

func TestParseDuration(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want time.Duration
		bad  bool
	}{
		{in: "30s", want: 30 * time.Second},
		{in: "1h30m", want: 90 * time.Minute},
		{in: "90d", want: 90 * 24 * time.Hour},
		{in: "1d12h", want: 36 * time.Hour},
		{in: "12h1d", want: 36 * time.Hour},
		{in: "1.5d", want: 36 * time.Hour},
		{in: " 2d ", want: 48 * time.Hour},
		{in: "-1d", want: -24 * time.Hour},
		{in: "0", want: 0},
		{in: "250ms", want: 250 * time.Millisecond},
		{in: "30", bad: true},
		{in: "", bad: true},
		{in: "d", bad: true},
		{in: "1w", bad: true},
		{in: "1 hour", bad: true},
		{in: "1d-2h", bad: true},
		{in: "forever", bad: true},
		{in: "999999999d", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseDuration(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseDuration(%q) = %v, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseDuration(%q) = %v, %v; want %v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want int64
		bad  bool
	}{
		{in: "1000", want: 1000},
		{in: "10MiB", want: 10 << 20},
		{in: "512KiB", want: 512 << 10},
		{in: "1GiB", want: 1 << 30},
		{in: "10MB", want: 10_000_000},
		{in: "1.5MiB", want: 1572864},
		{in: "10 mib", want: 10 << 20},
		{in: "2kb", want: 2000},
		{in: "7B", want: 7},
		{in: "", bad: true},
		{in: "MiB", bad: true},
		{in: "10M", bad: true},
		{in: "-1MiB", bad: true},
		{in: "ten", bad: true},
		{in: "1.2.3KiB", bad: true},
		{in: "99999999TiB", bad: true},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if tt.bad {
			if err == nil {
				t.Errorf("ParseSize(%q) = %d, want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestValidSchedule(t *testing.T) {
	t.Parallel()
	good := []string{
		"@every 10m", "@every 1s", "@hourly", "@daily", "*/5 * * * *", "0 7-22 * * MON-FRI",
		"CRON_TZ=Europe/Berlin 0 8 * * *", "TZ=UTC @every 1h", " @weekly ",
	}
	for _, s := range good {
		if err := ValidSchedule(s); err != nil {
			t.Errorf("ValidSchedule(%q) = %v, want ok", s, err)
		}
	}
	bad := []string{
		"", "TZ=", "CRON_TZ=", "TZ=UTC", "CRON_TZ= 0 * * * *", "TZ=Nowhere/Atlantis 0 * * * *",
		"@every 0s", "@every -5m", "@every 500ms", "@every", "@every 1d", "@fortnightly",
		"* * * *", "0 0 * * * *", "61 * * * *", "every ten minutes",
	}
	for _, s := range bad {
		if err := ValidSchedule(s); err == nil {
			t.Errorf("ValidSchedule(%q) = nil, want an error", s)
		}
	}
}

func TestTemplateFuncs(t *testing.T) {
	t.Parallel()
	data := map[string]any{
		"Title":      "  Crier Ships  ",
		"Cats":       []string{"go", "rss"},
		"When":       time.Date(2025, 3, 9, 14, 5, 0, 0, time.UTC),
		"Zero":       time.Time{},
		"Long":       "Ünïcödé headline that goes on",
		"HTML":       `<b>"x" & y</b>`,
		"Exactly":    "abc",
		"Whitespace": "abc def",
	}
	tests := []struct{ tmpl, want string }{
		{`{{.Title | trim | lower}}`, "crier ships"},
		{`{{.Title | trim | upper}}`, "CRIER SHIPS"},
		{`{{.Long | truncate 8}}`, "Ünïcödé…"},
		{`{{.Exactly | truncate 3}}`, "abc"},
		{`{{.Whitespace | truncate 5}}`, "abc…"},
		{`{{.Cats | join ", "}}`, "go, rss"},
		{`{{.When | date "2006-01-02 15:04"}}`, "2025-03-09 14:05"},
		{`[{{.Zero | date "2006"}}]`, "[]"},
		{`{{.HTML | html}}`, "&lt;b&gt;&#34;x&#34; &amp; y&lt;/b&gt;"},
	}
	for _, tt := range tests {
		tm, err := template.New("t").Funcs(TemplateFuncs()).Parse(tt.tmpl)
		if err != nil {
			t.Errorf("parse %s: %v", tt.tmpl, err)
			continue
		}
		var b strings.Builder
		if err := tm.Execute(&b, data); err != nil {
			t.Errorf("execute %s: %v", tt.tmpl, err)
			continue
		}
		if b.String() != tt.want {
			t.Errorf("%s = %q, want %q", tt.tmpl, b.String(), tt.want)
		}
	}
}

func TestDefaultConfigPath(t *testing.T) {
	t.Parallel()
	home := t.TempDir()
	xdg := t.TempDir()
	sysd := t.TempDir()
	homeCfg := filepath.Join(home, ".config", "crier", "config.yaml")
	xdgCfg := filepath.Join(xdg, "crier", "config.yaml")
	sysdCfg := filepath.Join(sysd, "config.yaml")

	tests := []struct {
		name       string
		env        map[string]string
		exists     []string
		want       string
		wantLooked []string
	}{
		{"CRIER_CONFIG wins even when missing",
			map[string]string{"CRIER_CONFIG": "/x/crier.yaml", "CONFIGURATION_DIRECTORY": sysd},
			[]string{sysdCfg}, "/x/crier.yaml", []string{"/x/crier.yaml"}},
		{"systemd directory, first entry",
			map[string]string{"CONFIGURATION_DIRECTORY": sysd + ":/other", "XDG_CONFIG_HOME": xdg},
			[]string{sysdCfg, xdgCfg}, sysdCfg, []string{sysdCfg, xdgCfg, homeCfg}},
		{"XDG before home",
			map[string]string{"XDG_CONFIG_HOME": xdg},
			[]string{xdgCfg, homeCfg}, xdgCfg, []string{xdgCfg, homeCfg}},
		{"first that exists",
			map[string]string{"CONFIGURATION_DIRECTORY": sysd, "XDG_CONFIG_HOME": xdg},
			[]string{homeCfg}, homeCfg, []string{sysdCfg, xdgCfg, homeCfg}},
		{"none exists: the first candidate",
			map[string]string{"XDG_CONFIG_HOME": xdg},
			nil, xdgCfg, []string{xdgCfg, homeCfg}},
		{"relative XDG_CONFIG_HOME ignored",
			map[string]string{"XDG_CONFIG_HOME": "rel"},
			nil, homeCfg, []string{homeCfg}},
	}
	// The subtests create and remove files in shared directories: run them in order.
	for _, tt := range tests {
		for _, p := range tt.exists {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		got, looked := DefaultConfigPath(fakeEnv(tt.env), home)
		if got != tt.want || !slices.Equal(looked, tt.wantLooked) {
			t.Errorf("%s: DefaultConfigPath = %q, %q; want %q, %q", tt.name, got, looked, tt.want, tt.wantLooked)
		}
		for _, p := range tt.exists {
			os.Remove(p)
		}
	}
}

func TestDefaultStateDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		env  map[string]string
		home string
		want string
	}{
		{map[string]string{"STATE_DIRECTORY": "/var/lib/crier:/var/lib/x", "XDG_STATE_HOME": "/s"}, "/h", "/var/lib/crier"},
		{map[string]string{"XDG_STATE_HOME": "/s"}, "/h", "/s/crier"},
		{nil, "/h", "/h/.local/state/crier"},
		{nil, "", ""},
	}
	for _, tt := range tests {
		if got := defaultStateDir(fakeEnv(tt.env), tt.home); got != tt.want {
			t.Errorf("defaultStateDir(%v, %q) = %q, want %q", tt.env, tt.home, got, tt.want)
		}
	}
	cfg := mustLoad(t, "state_dir: ~/crier\nnotifiers: [{type: console}]\n", map[string]string{"STATE_DIRECTORY": "/ignored"}, nil)
	if cfg.StateDir != "/home/u/crier" {
		t.Errorf("state_dir ~/crier = %q", cfg.StateDir)
	}
	cfg = mustLoad(t, "state_dir: data\nnotifiers: [{type: console}]\n", nil, nil)
	if cfg.StateDir != "/etc/crier/data" {
		t.Errorf("relative state_dir = %q, want it next to the config file", cfg.StateDir)
	}
}
