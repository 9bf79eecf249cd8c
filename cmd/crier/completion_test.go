package main

import (
	"bytes"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite golden files under testdata/")

// golden compares got with testdata/name, or rewrites it under -update.
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *updateGolden {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if got == string(want) {
		return
	}
	g, w := strings.Split(got, "\n"), strings.Split(string(want), "\n")
	for i := 0; i < len(g) || i < len(w); i++ {
		var gl, wl string
		if i < len(g) {
			gl = g[i]
		}
		if i < len(w) {
			wl = w[i]
		}
		if gl != wl {
			t.Errorf("%s differs from the golden file at line %d (run go test -update if intended):\ngot:  %q\nwant: %q", path, i+1, gl, wl)
			return
		}
	}
}

// generated runs `crier ARGS…` and returns its standard output.
func generated(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := runCLI(nil, args...)
	if code != 0 || out == "" {
		t.Fatalf("crier %s: exit %d\n%s", strings.Join(args, " "), code, errOut)
	}
	return out
}

func TestCompletionGolden(t *testing.T) {
	t.Parallel()
	for _, sh := range []string{"bash", "zsh", "fish"} {
		golden(t, "completion."+sh, generated(t, "completion", sh))
	}
	golden(t, "crier.1", generated(t, "man"))
	if code, _, errOut := runCLI(nil, "completion", "tcsh"); code != 2 || !strings.Contains(errOut, "bash, zsh or fish") {
		t.Errorf("completion tcsh: exit %d, %q", code, errOut)
	}
}

// TestEveryCommandEverywhere: a command added to the table shows up, with
// each of its flags, in every completion script and in the man page.
func TestEveryCommandEverywhere(t *testing.T) {
	t.Parallel()
	outputs := map[string]string{
		"bash": generated(t, "completion", "bash"),
		"zsh":  generated(t, "completion", "zsh"),
		"fish": generated(t, "completion", "fish"),
		"man":  generated(t, "man"),
	}
	// How each output names a command and a flag of it.
	command := map[string]func(name string) string{
		"bash": func(n string) string { return "\n        " + n + ")" },
		"zsh":  func(n string) string { return "\n    '" + n + ":" },
		"fish": func(n string) string { return "-n __fish_use_subcommand -a " + n + " " },
		"man":  func(n string) string { return "\n.B crier " + roffEscape(n) + "\n" },
	}
	option := map[string]func(name string) string{
		"bash": func(n string) string { return "--" + n + " " }, // the last one ends "…" or |…)
		"zsh":  func(n string) string { return "'--" + n },
		"fish": func(n string) string { return " -l " + n + " " },
		"man":  func(n string) string { return "\\fB\\-\\-" + roffEscape(n) + "\\fR" },
	}
	cmds := commands()
	if len(cmds) < 13 {
		t.Fatalf("only %d commands in the table", len(cmds))
	}
	for _, c := range cmds {
		flags := commandFlags(c)
		if len(flags) < 3 {
			t.Errorf("%s: found only %d flags; the shared ones are --config, --log-format, --log-level", c.name, len(flags))
		}
		for out, text := range outputs {
			if !strings.Contains(text, command[out](c.name)) {
				t.Errorf("%s lacks command %s (%q)", out, c.name, command[out](c.name))
			}
			for _, fl := range flags {
				if !strings.Contains(strings.NewReplacer(`"`, " ", "|", " ").Replace(text), option[out](fl.Name)) {
					t.Errorf("%s lacks %s's flag --%s", out, c.name, fl.Name)
				}
			}
		}
	}
	// Flags are the commands' own: spot-check a few.
	for cmd, want := range map[string]string{"run": "once", "redeliver": "all", "export-opml": "o", "init": "force"} {
		found := false
		for _, c := range cmds {
			if c.name == cmd {
				for _, fl := range commandFlags(c) {
					found = found || fl.Name == want
				}
			}
		}
		if !found {
			t.Errorf("%s: flag --%s not found in its flag set", cmd, want)
		}
	}
}

// TestCompletionScriptsParse runs each shell's syntax check on its script.
func TestCompletionScriptsParse(t *testing.T) {
	// Not parallel: the shells and groff run before the timing-sensitive
	// crash test starts, not next to it.
	for _, sh := range []string{"bash", "zsh", "fish"} {
		t.Run(sh, func(t *testing.T) {
			bin, err := exec.LookPath(sh)
			if err != nil {
				t.Skipf("%s not installed", sh)
			}
			script := filepath.Join(t.TempDir(), "crier."+sh)
			if err := os.WriteFile(script, []byte(generated(t, "completion", sh)), 0o644); err != nil {
				t.Fatal(err)
			}
			if out, err := exec.Command(bin, "-n", script).CombinedOutput(); err != nil || len(out) > 0 {
				t.Errorf("%s -n: %v\n%s", sh, err, out)
			}
		})
	}
}

// TestBashCompletes loads the bash script and asks it what a user typing
// would be offered.
func TestBashCompletes(t *testing.T) {
	// Not parallel: the shells and groff run before the timing-sensitive
	// crash test starts, not next to it.
	if _, err := exec.LookPath("bash"); err != nil {
		t.Skip("bash not installed")
	}
	script := filepath.Join(t.TempDir(), "crier.bash")
	if err := os.WriteFile(script, []byte(generated(t, "completion", "bash")), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		line string // words typed so far; the last is being completed
		want []string
	}{
		{"crier ", []string{"check", "completion", "init", "man", "run", "version"}},
		{"crier re", []string{"redeliver"}},
		{"crier run --", []string{"--config", "--log-format", "--log-level", "--once"}},
		{"crier init --notifier ", []string{"console", "jsonl", "ntfy", "pushover"}},
		{"crier completion ", []string{"bash", "fish", "zsh"}},
		{"crier run --log-format ", []string{"json", "text"}},
	} {
		words := strings.Split(tc.line, " ")
		var arr strings.Builder
		for _, w := range words {
			arr.WriteString(" '" + w + "'")
		}
		prog := "source " + script + "\nCOMP_WORDS=(" + arr.String() + ")\nCOMP_CWORD=" +
			strconv.Itoa(len(words)-1) + "\n_crier\nprintf '%s\\n' \"${COMPREPLY[@]}\"\n"
		out, err := exec.Command("bash", "-c", prog).CombinedOutput()
		if err != nil {
			t.Errorf("%q: %v\n%s", tc.line, err, out)
			continue
		}
		got := "\n" + string(out)
		for _, w := range tc.want {
			if !strings.Contains(got, "\n"+w+"\n") {
				t.Errorf("%q offers %q, want %s among them", tc.line, strings.Fields(string(out)), w)
			}
		}
	}
}

// TestManPageRenders runs the roff checkers that are installed.
func TestManPageRenders(t *testing.T) {
	// Not parallel: the shells and groff run before the timing-sensitive
	// crash test starts, not next to it.
	page := filepath.Join(t.TempDir(), "crier.1")
	text := generated(t, "man")
	if err := os.WriteFile(page, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, sec := range []string{"NAME", "SYNOPSIS", "DESCRIPTION", "COMMANDS", "OPTIONS", "FILES", "ENVIRONMENT", "EXIT STATUS", "SEE ALSO"} {
		if !strings.Contains(text, "\n.SH "+sec+"\n") && !strings.Contains(text, "\n.SH \""+sec+"\"\n") {
			t.Errorf("man page lacks section %s", sec)
		}
	}
	checked := false
	if _, err := exec.LookPath("groff"); err == nil {
		checked = true
		var stderr bytes.Buffer
		cmd := exec.Command("groff", "-man", "-z", "-ww", page)
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil || stderr.Len() > 0 {
			t.Errorf("groff -man -z -ww: %v\n%s", err, stderr.String())
		}
	}
	if _, err := exec.LookPath("man"); err == nil {
		checked = true
		cmd := exec.Command("man", "--warnings", "-l", page)
		cmd.Env = append(os.Environ(), "MANPAGER=cat", "PAGER=cat", "MANWIDTH=80")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil || stderr.Len() > 0 {
			t.Errorf("man --warnings -l: %v\n%s", err, stderr.String())
		}
		if !bytes.Contains(out, []byte("crier")) || !bytes.Contains(out, []byte("test-notify")) {
			t.Errorf("rendered page lacks its content:\n%s", out)
		}
	}
	if !checked {
		t.Skip("neither groff nor man installed")
	}
}
