package crier

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// LoadOptions are the outside world a config is loaded against; tests
// replace them so that loading never depends on the machine it runs on.
type LoadOptions struct {
	Env      func(string) (string, bool)  // default os.LookupEnv
	ReadFile func(string) ([]byte, error) // default readSecretFile (for *_file secrets)
	Home     string                       // for ~ defaults; default os.UserHomeDir
}

func (o LoadOptions) withDefaults() LoadOptions {
	if o.Env == nil {
		o.Env = os.LookupEnv
	}
	if o.ReadFile == nil {
		o.ReadFile = readSecretFile
	}
	if o.Home == "" {
		o.Home, _ = os.UserHomeDir()
	}
	return o
}

// ConfigError is one problem in a config file, pointing at its line.
type ConfigError struct {
	File    string
	Line    int
	Field   string // e.g. feeds[2].schedule
	Problem string
}

func (e ConfigError) Error() string {
	var b strings.Builder
	if e.File != "" {
		b.WriteString(e.File)
		b.WriteByte(':')
	}
	if e.Line > 0 {
		b.WriteString(strconv.Itoa(e.Line))
		b.WriteString(": ")
	} else if e.File != "" {
		b.WriteByte(' ')
	}
	if e.Field != "" {
		b.WriteString(e.Field)
		b.WriteString(": ")
	}
	b.WriteString(e.Problem)
	return b.String()
}

// ConfigErrors is every problem found in one config, sorted by line, so a
// user fixes them all in one round instead of one per restart.
type ConfigErrors []ConfigError

func (es ConfigErrors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and validates the config at path.
func LoadFile(path string, opt LoadOptions) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	return Load(f, path, opt)
}

// Load reads a YAML config, validates all of it and applies every default.
// When anything is wrong it returns ConfigErrors listing every problem.
// path names the source in messages and anchors relative paths.
func Load(r io.Reader, path string, opt LoadOptions) (*Config, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	l := &loader{file: path, opt: opt.withDefaults()}
	if path != "" {
		l.dir = filepath.Dir(path)
	}

	dec := yaml.NewDecoder(bytes.NewReader(data))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, ConfigErrors{l.syntaxError(err)}
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); err == nil {
		l.errf(&extra, "", "a config holds one YAML document; remove the second one")
	} else if !errors.Is(err, io.EOF) {
		return nil, ConfigErrors{l.syntaxError(err)}
	}

	root := &yaml.Node{Kind: yaml.MappingNode, Line: 1}
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		root = doc.Content[0]
	}
	cfg := l.config(root)
	if len(l.errs) > 0 {
		sort.SliceStable(l.errs, func(i, j int) bool { return l.errs[i].Line < l.errs[j].Line })
		return nil, l.errs
	}
	cfg.Path = path
	return cfg, nil
}

var yamlLineRE = regexp.MustCompile(`^yaml: line (\d+): (.*)$`)

func (l *loader) syntaxError(err error) ConfigError {
	msg := err.Error()
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return ConfigError{File: l.file, Line: line, Problem: "YAML syntax: " + m[2]}
	}
	return ConfigError{File: l.file, Problem: "YAML syntax: " + strings.TrimPrefix(msg, "yaml: ")}
}

// DefaultConfigPath says where the config is when no -config flag names it.
// $CRIER_CONFIG is taken as given (a typo there must not silently fall back
// elsewhere). Otherwise the candidates are, in order,
// $CONFIGURATION_DIRECTORY/config.yaml (systemd; the first entry when it
// holds several), $XDG_CONFIG_HOME/crier/config.yaml and
// ~/.config/crier/config.yaml: the first that exists wins, and when none
// does the first candidate is returned. looked lists every candidate so
// "config not found" can say where it looked.
func DefaultConfigPath(env func(string) (string, bool), home string) (path string, looked []string) {
	if env == nil {
		env = os.LookupEnv
	}
	get := func(k string) string {
		v, _ := env(k)
		return v
	}
	if p := get("CRIER_CONFIG"); p != "" {
		return p, []string{p}
	}
	if d := firstDir(get("CONFIGURATION_DIRECTORY")); d != "" {
		looked = append(looked, filepath.Join(d, "config.yaml"))
	}
	// XDG says to ignore a relative XDG_CONFIG_HOME.
	if d := get("XDG_CONFIG_HOME"); filepath.IsAbs(d) {
		looked = append(looked, filepath.Join(d, "crier", "config.yaml"))
	}
	if home != "" {
		looked = append(looked, filepath.Join(home, ".config", "crier", "config.yaml"))
	}
	for _, p := range looked {
		if _, err := os.Stat(p); err == nil {
			return p, looked
		}
	}
	if len(looked) > 0 {
		return looked[0], looked
	}
	return "", nil
}

// firstDir returns the first entry of a ':'-separated systemd directory list.
func firstDir(v string) string {
	first, _, _ := strings.Cut(v, ":")
	return first
}

// defaultStateDir follows systemd's $STATE_DIRECTORY, then XDG.
func defaultStateDir(env func(string) (string, bool), home string) string {
	if v, _ := env("STATE_DIRECTORY"); firstDir(v) != "" {
		return firstDir(v)
	}
	if v, _ := env("XDG_STATE_HOME"); filepath.IsAbs(v) {
		return filepath.Join(v, "crier")
	}
	if home != "" {
		return filepath.Join(home, ".local", "state", "crier")
	}
	return ""
}
