package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"github.com/crierd/crier"
	"github.com/crierd/crier/feeds"
)

// initNotifierTypes are the notifiers crier init sets up: two push
// services, and two that need no account.
var initNotifierTypes = []string{"pushover", "ntfy", "console", "jsonl"}

// Where crier init puts things for the systemd service: the unit's
// ConfigurationDirectory, and the LoadCredential= sources it names.
const (
	serviceConfig      = "/etc/crier/config.yaml"
	serviceCredentials = "credentials"
)

// initSetup is what crier init learned: everything the config says.
type initSetup struct {
	page      string // what the user gave: a web page or the feed itself
	feed      feeds.Alternate
	others    int // more feeds the page advertises
	notifier  string
	comment   string      // says what the notifier needs, above its entry
	options   [][2]string // the notifier's plain options, in order
	secrets   [][2]string // its secret options
	inFiles   bool        // secrets go to files next to the config
	service   bool        // secrets are systemd credentials
	credsDir  string      // where secret files go
	writeMode os.FileMode
}

func cmdInit(ctx context.Context, env *cliEnv, args []string) error {
	f := newFlags(env, "init", "[--config FILE] [--feed URL] …",
		"Write a first config: ask for a feed (a web page's advertised feeds are found) and a\n"+
			"notifier, send a test push through it, and write a short commented config that\n"+
			"crier check accepts. Flags answer the questions; without a terminal every answer\n"+
			"must be a flag. An existing config is never overwritten without --force.")
	force := f.Bool("force", false, "overwrite an existing config and secret files")
	feedURL := f.String("feed", "", "`url` of the first feed, or of a web page that advertises it")
	notifier := f.String("notifier", "", "`type` of notifier: pushover, ntfy, console or jsonl")
	poToken := f.String("pushover-token", "", "Pushover application API `token`")
	poUser := f.String("pushover-user", "", "Pushover user `key`")
	poAPI := f.String("pushover-api-url", "", "Pushover API base `url` (default https://api.pushover.net/1)")
	ntfyTopic := f.String("ntfy-topic", "", "ntfy `topic`; anyone who knows it can read it")
	ntfyURL := f.String("ntfy-url", "", "ntfy server `url` (default https://ntfy.sh)")
	ntfyToken := f.String("ntfy-token", "", "ntfy access `token`, if the server needs one")
	secretFiles := f.Bool("secret-files", true, "write secrets to files next to the config (mode 0600), not into it")
	service := f.Bool("service", false, "write for the systemd service: "+serviceConfig+", secrets as its credentials")
	noTest := f.Bool("no-test", false, "do not send a test push")
	if err := f.Parse(args); err != nil {
		return err
	}
	if f.NArg() != 0 {
		f.Usage()
		return &exitError{2, ""}
	}
	given := map[string]bool{}
	f.Visit(func(fl *flag.Flag) { given[fl.Name] = true })
	if *notifier != "" && !slices.Contains(initNotifierTypes, *notifier) {
		return &exitError{2, fmt.Sprintf("crier init: --notifier %q: want pushover, ntfy, console or jsonl", *notifier)}
	}
	if !env.stdinTTY {
		if missing := missingInitFlags(*feedURL, *notifier, *poToken, *poUser, *ntfyTopic); len(missing) > 0 {
			return &exitError{2, "crier init: no terminal to ask on; give " + strings.Join(missing, ", ") + " (see crier init --help)"}
		}
	}

	path := f.config
	if path == "" && *service {
		path = serviceConfig
	}
	if path == "" {
		home, _ := os.UserHomeDir()
		if path, _ = crier.DefaultConfigPath(env.getenv, home); path == "" {
			return &exitError{2, "crier init: no place for the config (no $HOME): give --config FILE"}
		}
	}
	if _, err := os.Stat(path); err == nil && !*force {
		return &exitError{1, fmt.Sprintf("crier init: %s exists; pass --force to overwrite it, or --config FILE to write another", path)}
	}

	p := &prompter{in: bufio.NewReader(env.stdin), out: env.stderr, tty: env.stdinTTY}
	s := &initSetup{service: *service, inFiles: *secretFiles || *service, credsDir: filepath.Dir(path), writeMode: 0o600}
	if *service {
		// The service's dynamic user reads the config; systemd reads the
		// credentials as root and hands them over.
		s.credsDir, s.writeMode = filepath.Join(filepath.Dir(path), serviceCredentials), 0o644
	}
	if err := s.chooseFeed(ctx, p, *feedURL); err != nil {
		return err
	}
	if err := s.chooseNotifier(p, *notifier, notifierFlags{
		poToken: *poToken, poUser: *poUser, poAPI: *poAPI,
		ntfyTopic: *ntfyTopic, ntfyURL: *ntfyURL, ntfyToken: *ntfyToken, ntfyTokenGiven: given["ntfy-token"],
	}); err != nil {
		return err
	}
	if len(s.secrets) > 0 && !given["secret-files"] && !*service && p.tty {
		yes, err := p.ask("Write the secrets to files next to the config, readable only by you? (y/n)", "y")
		if err != nil {
			return err
		}
		s.inFiles = !strings.HasPrefix(strings.ToLower(yes), "n")
	}
	if !s.inFiles {
		s.writeMode = 0o600 // it holds secrets now
	}

	written, err := s.write(path, *force)
	if err != nil {
		return err
	}
	loadEnv := env.getenv
	if s.service && len(s.secrets) > 0 {
		loadEnv = withEnv(env.getenv, "CREDENTIALS_DIRECTORY", s.credsDir)
	}
	if _, err := crier.LoadFile(path, crier.LoadOptions{Env: loadEnv}); err != nil {
		return fmt.Errorf("the config written to %s does not load, a bug in crier init: %w", path, err)
	}
	for _, w := range written {
		fmt.Fprintf(env.stdout, "wrote %s\n", w)
	}
	if !*noTest {
		testEnv := *env
		testEnv.getenv = loadEnv
		if err := cmdTestNotify(ctx, &testEnv, []string{"--config", path, s.notifier}); err != nil {
			return &exitError{1, fmt.Sprintf("crier init: the config is written, but the test push failed:\n  %v\n"+
				"Fix the notifier in %s, then try again with: crier test-notify --config %s %s", err, path, path, s.notifier)}
		}
	}
	if s.service {
		if s.notifier != "pushover" && len(s.secrets) > 0 {
			fmt.Fprintf(env.stdout, "note: add LoadCredential=%s:%s to crier.service (systemctl edit crier)\n",
				s.secretFile("token"), filepath.Join(s.credsDir, s.secretFile("token")))
		}
		fmt.Fprintln(env.stdout, "next: systemctl enable --now crier (or systemctl reload crier)")
	} else {
		fmt.Fprintf(env.stdout, "next: crier run --config %s (crier check shows when each feed is polled)\n", path)
	}
	return nil
}

// missingInitFlags lists the flags crier init needs when it cannot ask.
func missingInitFlags(feed, notifier, poToken, poUser, ntfyTopic string) []string {
	var missing []string
	if feed == "" {
		missing = append(missing, "--feed URL")
	}
	switch notifier {
	case "":
		missing = append(missing, "--notifier pushover|ntfy|console|jsonl")
	case "pushover":
		if poToken == "" {
			missing = append(missing, "--pushover-token TOKEN")
		}
		if poUser == "" {
			missing = append(missing, "--pushover-user KEY")
		}
	case "ntfy":
		if ntfyTopic == "" {
			missing = append(missing, "--ntfy-topic TOPIC")
		}
	}
	return missing
}

// withEnv is getenv with one more variable.
func withEnv(getenv func(string) (string, bool), key, value string) func(string) (string, bool) {
	return func(k string) (string, bool) {
		if k == key {
			return value, true
		}
		return getenv(k)
	}
}

// prompter asks questions on a terminal.
type prompter struct {
	in  *bufio.Reader
	out io.Writer
	tty bool
}

// ask prints question and reads one line; an empty answer is def.
func (p *prompter) ask(question, def string) (string, error) {
	if !p.tty {
		return "", &exitError{2, "crier init: no terminal to ask: " + question}
	}
	if def != "" {
		fmt.Fprintf(p.out, "%s [%s]: ", question, def)
	} else {
		fmt.Fprintf(p.out, "%s: ", question)
	}
	line, err := p.in.ReadString('\n')
	if err != nil && (!errors.Is(err, io.EOF) || line == "") {
		fmt.Fprintln(p.out)
		return "", &exitError{1, "crier init: no answer (standard input ended); nothing written"}
	}
	if line = strings.TrimSpace(line); line == "" {
		line = def
	}
	return line, nil
}

// need asks until the answer is not empty.
func (p *prompter) need(question string) (string, error) {
	for {
		a, err := p.ask(question, "")
		if err != nil || a != "" {
			return a, err
		}
	}
}

// chooseFeed finds the feed: the URL given, or asked for; a web page's
// advertised feeds are offered to choose from.
func (s *initSetup) chooseFeed(ctx context.Context, p *prompter, given string) error {
	var alts []feeds.Alternate
	for {
		page := given
		if page == "" {
			var err error
			if page, err = p.need("Feed or web page URL"); err != nil {
				return err
			}
		}
		if !strings.Contains(page, "://") {
			page = "https://" + page
		}
		var err error
		alts, err = discoverFeeds(ctx, page)
		if err == nil && len(alts) == 0 {
			err = fmt.Errorf("%s is not a feed and advertises none; try the feed's own URL", page)
		}
		if err == nil {
			s.page = page
			break
		}
		if given != "" {
			return fmt.Errorf("finding a feed at %s: %w", page, err)
		}
		fmt.Fprintf(p.out, "  %v\n", err)
	}
	s.feed, s.others = alts[0], len(alts)-1
	if len(alts) == 1 {
		return nil
	}
	if given != "" || !p.tty {
		fmt.Fprintf(p.out, "%s advertises %d feeds; taking the first, %s (crier discover lists them all)\n", s.page, len(alts), alts[0].URL)
		return nil
	}
	fmt.Fprintf(p.out, "%s advertises %d feeds:\n", s.page, len(alts))
	for i, a := range alts {
		fmt.Fprintf(p.out, "  %d) %s  %s\n", i+1, printable(a.Title), a.URL)
	}
	for {
		a, err := p.ask("Which one", "1")
		if err != nil {
			return err
		}
		if i, err := strconv.Atoi(a); err == nil && i >= 1 && i <= len(alts) {
			s.feed = alts[i-1]
			return nil
		}
	}
}

type notifierFlags struct {
	poToken, poUser, poAPI        string
	ntfyTopic, ntfyURL, ntfyToken string
	ntfyTokenGiven                bool
}

// chooseNotifier asks for what the flags do not say.
func (s *initSetup) chooseNotifier(p *prompter, typ string, fl notifierFlags) error {
	for typ == "" {
		a, err := p.ask("Notifier: pushover, ntfy (no account needed on ntfy.sh), console or jsonl", "ntfy")
		if err != nil {
			return err
		}
		if slices.Contains(initNotifierTypes, a) {
			typ = a
		}
	}
	s.notifier = typ
	var err error
	orAsk := func(v, question string) string {
		if v == "" && err == nil {
			v, err = p.need(question)
		}
		return v
	}
	switch typ {
	case "pushover":
		s.comment = "Pushover: your application's API token and your user key."
		token := orAsk(fl.poToken, "Pushover application API token (make one at https://pushover.net/apps/build)")
		user := orAsk(fl.poUser, "Pushover user key (shown at https://pushover.net once logged in)")
		s.secrets = [][2]string{{"token", token}, {"user", user}}
		if fl.poAPI != "" {
			s.options = append(s.options, [2]string{"api_url", fl.poAPI})
		}
	case "ntfy":
		s.comment = "ntfy: subscribe to the topic in the ntfy app. Anyone who knows the topic can read it."
		server := fl.ntfyURL
		if server == "" && p.tty {
			server, err = p.ask("ntfy server", "https://ntfy.sh")
		}
		topic := fl.ntfyTopic
		if topic == "" && err == nil {
			// Suggest a topic nobody will guess.
			topic, err = p.ask("ntfy topic", "crier-"+randomWord())
		}
		if server != "" && server != "https://ntfy.sh" {
			s.options = append(s.options, [2]string{"url", server})
		}
		s.options = append(s.options, [2]string{"topic", topic})
		token := fl.ntfyToken
		if !fl.ntfyTokenGiven && p.tty && err == nil {
			token, err = p.ask("ntfy access token (empty: none)", "")
		}
		if token != "" {
			s.secrets = append(s.secrets, [2]string{"token", token})
		}
	case "console":
		s.comment = "Prints every notification here, on standard output."
	case "jsonl":
		s.comment = "Appends every notification as one JSON line to a file in state_dir."
		s.options = append(s.options, [2]string{"path", "notifications.jsonl"})
	}
	return err
}

// randomWord is 10 random lower-case letters and digits.
func randomWord() string {
	const alphabet = "abcdefghijkmnopqrstuvwxyz23456789"
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// configString quotes s for the config. The loader expands ${VAR}, and
// feed titles and URLs come from the web: a literal "${" is written "$${".
func configString(s string) string {
	return yamlString(strings.ReplaceAll(s, "${", "$${"))
}

// printable drops control characters, for text put in a comment or on
// the terminal.
func printable(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsControl(r) {
			return -1
		}
		return r
	}, s)
}

// configText is the config crier init writes.
func (s *initSetup) configText() string {
	var b strings.Builder
	b.WriteString(`# crier config, written by "crier init". "crier check" validates it; every
# option is described in config.example.yaml in crier's source.
# Any string may use ${VAR}, an environment variable; $${ is a literal ${.

notifiers:
`)
	fmt.Fprintf(&b, "  # %s\n", s.comment)
	switch {
	case len(s.secrets) == 0:
	case s.service:
		b.WriteString("  # Its secrets are systemd credentials (LoadCredential= in crier.service).\n")
	case s.inFiles:
		b.WriteString("  # Its secrets are in files next to this one, readable only by you.\n")
	}
	fmt.Fprintf(&b, "  - name: %s\n    type: %s\n", s.notifier, s.notifier)
	for _, o := range s.options {
		fmt.Fprintf(&b, "    %s: %s\n", o[0], configString(o[1]))
	}
	for _, o := range s.secrets {
		switch {
		case s.service:
			fmt.Fprintf(&b, "    %s_file: ${CREDENTIALS_DIRECTORY}/%s\n", o[0], s.secretFile(o[0]))
		case s.inFiles:
			fmt.Fprintf(&b, "    %s_file: %s\n", o[0], s.secretFile(o[0]))
		default:
			fmt.Fprintf(&b, "    %s: %s\n", o[0], configString(o[1]))
		}
	}
	b.WriteString("\nfeeds:\n")
	if s.page != s.feed.URL {
		fmt.Fprintf(&b, "  # Found on %s", printable(s.page))
		if s.others > 0 {
			fmt.Fprintf(&b, ", with %d more: crier discover %s", s.others, printable(s.page))
		}
		b.WriteString(".\n")
	}
	if title := strings.TrimSpace(s.feed.Title); title != "" {
		fmt.Fprintf(&b, "  - name: %s\n    url: %s\n", configString(title), configString(s.feed.URL))
	} else {
		fmt.Fprintf(&b, "  - url: %s\n", configString(s.feed.URL))
	}
	b.WriteString(`    # When to poll: a cron spec ("*/15 * * * *") or @every.
    schedule: "@every 10m"
    # Announce the newest item on the first poll, so you see it work;
    # the rest are only remembered.
    backfill: 1
`)
	return b.String()
}

// secretFile names the file holding a secret option.
func (s *initSetup) secretFile(key string) string { return s.notifier + "-" + key }

// write writes the secret files and the config, refusing to replace any
// existing file unless force. It returns the paths written.
func (s *initSetup) write(path string, force bool) ([]string, error) {
	type file struct {
		path string
		text string
		mode os.FileMode
	}
	var files []file
	if s.inFiles {
		for _, o := range s.secrets {
			files = append(files, file{filepath.Join(s.credsDir, s.secretFile(o[0])), o[1] + "\n", 0o600})
		}
	}
	files = append(files, file{path, s.configText(), s.writeMode})
	if !force {
		for _, f := range files {
			if _, err := os.Stat(f.path); err == nil {
				return nil, &exitError{1, fmt.Sprintf("crier init: %s exists; pass --force to overwrite it", f.path)}
			}
		}
	}
	// The config's directory first: the service's own user must reach a
	// readable config; the secrets' directory is private.
	configDir := os.FileMode(0o700)
	if s.writeMode&0o044 != 0 {
		configDir = 0o755
	}
	if err := os.MkdirAll(filepath.Dir(path), configDir); err != nil {
		return nil, err
	}
	var written []string
	for _, f := range files {
		if err := os.MkdirAll(filepath.Dir(f.path), 0o700); err != nil {
			return written, err
		}
		if err := writeFileMode(f.path, f.text, f.mode); err != nil {
			return written, err
		}
		written = append(written, f.path)
	}
	return written, nil
}

// writeFileMode writes text to path with exactly mode, also when the file
// exists with another one.
func writeFileMode(path, text string, mode os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, mode)
	if err != nil {
		return err
	}
	if err := f.Chmod(mode); err != nil {
		f.Close()
		return err
	}
	if _, err := io.WriteString(f, text); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
