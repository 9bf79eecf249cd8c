package notify

import (
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/url"
	"slices"
	"strings"

	"github.com/crierd/crier"
)

// secretMask replaces a secret in text crier shows.
const secretMask = "***"

// minSecretLen is the shortest value treated as a secret: masking every
// "ab" would garble messages without hiding anything worth hiding.
const minSecretLen = 4

// minEnvSecretLen is the shortest environment value taken for a secret.
const minEnvSecretLen = 8

// secrets masks one notifier's credentials in text that crier logs,
// stores (a dead letter's reason, an entry's last error) or shows on the
// status page. Services quote requests back in their error replies, and a
// bot token or a webhook URL quoted there is as good as leaked. The zero
// value masks nothing.
type secrets struct {
	r *strings.Replacer
}

// newSecrets masks each value, also in the encoded forms a service may
// echo it in (percent-encoded as in its request line, JSON-escaped).
func newSecrets(values ...string) secrets {
	var all []string
	for _, v := range values {
		if len(v) < minSecretLen {
			continue
		}
		quoted, _ := json.Marshal(v)
		inJSON := string(quoted[1 : len(quoted)-1])
		all = append(all, v, url.PathEscape(v), url.QueryEscape(v), inJSON, strings.ReplaceAll(inJSON, "/", `\/`))
	}
	if len(all) == 0 {
		return secrets{}
	}
	// Longest first: the replacer tries its pairs in order at each
	// position, so a whole URL is masked before its path is.
	slices.SortFunc(all, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	all = slices.Compact(all)
	pairs := make([]string, 0, 2*len(all))
	for _, v := range all {
		pairs = append(pairs, v, secretMask)
	}
	return secrets{r: strings.NewReplacer(pairs...)}
}

// scrub returns text with every secret masked. Mask before cutting text
// to length: a cut could leave half a token that no longer matches.
func (s secrets) scrub(text string) string {
	if s.r == nil {
		return text
	}
	return s.r.Replace(text)
}

// scrubErr returns err with its message masked. The class (permanent,
// retry after, parked) and the chain (a timeout stays a timeout for
// errors.Is) are kept.
func (s secrets) scrubErr(err error) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	clean := s.scrub(msg)
	if clean == msg {
		return err
	}
	masked := &scrubbedError{msg: clean, err: err}
	if se := (*SendError)(nil); errors.As(err, &se) {
		out := *se
		out.Err = masked
		return &out
	}
	return masked
}

// scrubbedError shows a masked message and unwraps to the original.
type scrubbedError struct {
	msg string
	err error
}

func (e *scrubbedError) Error() string { return e.msg }
func (e *scrubbedError) Unwrap() error { return e.err }

// configSecrets collects what in a notifier's config is a credential:
// tokens, passwords (and the Basic header or AUTH PLAIN they make), Pushover's user
// key, header values, webhook URLs (a Discord or Slack webhook URL is
// itself the key, and a generic webhook's path or query often holds one)
// and the userinfo and query values of server URLs.
func configSecrets(cfg crier.NotifierConfig) secrets {
	opt := func(k string) string { return strings.TrimSpace(cfg.Option(k, "")) }
	vals := []string{opt("token"), opt("password")}
	if _, key, ok := strings.Cut(opt("token"), ":"); ok { // a bot token is ID:KEY
		vals = append(vals, key)
	}
	if cfg.Type == "pushover" {
		vals = append(vals, opt("user"))
	}
	if pass := cfg.Option("password", ""); pass != "" {
		vals = append(vals, base64.StdEncoding.EncodeToString([]byte(cfg.Option("user", "")+":"+pass)))
	}
	if cfg.Type == "email" && opt("password") != "" {
		// What AUTH PLAIN sends, which a server may quote back.
		plain := "\x00" + cfg.Option("username", "") + "\x00" + cfg.Option("password", "")
		vals = append(vals, base64.StdEncoding.EncodeToString([]byte(plain)))
	}
	vals = append(vals, credentialURL(opt("webhook_url"))...)
	if cfg.Type == "webhook" {
		vals = append(vals, credentialURL(opt("url"))...)
	} else {
		vals = append(vals, urlCredentials(opt("url"))...)
	}
	vals = append(vals, urlCredentials(opt("api_url"))...)
	for _, v := range cfg.Maps["headers"] {
		v = strings.TrimSpace(v)
		vals = append(vals, v)
		if _, cred, ok := strings.Cut(v, " "); ok { // "Bearer X", "Basic X"
			vals = append(vals, strings.TrimSpace(cred))
		}
	}
	return newSecrets(vals...)
}

// credentialURL lists the secret parts of a URL that is a key: all of
// it, its path, path segments long enough to be tokens, and what
// urlCredentials finds.
func credentialURL(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil || raw == "" {
		return []string{raw}
	}
	vals := []string{raw, u.Path, u.EscapedPath()}
	if u.Path == "/" {
		vals = vals[:1]
	}
	for _, seg := range strings.Split(u.Path, "/") {
		if len(seg) >= 12 {
			vals = append(vals, seg)
		}
	}
	return append(vals, urlCredentials(raw)...)
}

// urlCredentials lists a server URL's userinfo and query values.
func urlCredentials(raw string) []string {
	u, err := url.Parse(raw)
	if err != nil {
		return nil
	}
	var vals []string
	if u.User != nil {
		pass, _ := u.User.Password()
		vals = append(vals, u.User.String(), pass)
	}
	for _, vs := range u.Query() {
		vals = append(vals, vs...)
	}
	return vals
}

// execSecrets collects what an exec command may print back that is a
// credential: the values of environment variables named like one (the
// command inherits crier's environment, where ${VAR} in its arguments
// came from), and in its arguments the userinfo and query values of URLs
// and the values of NAME=VALUE, --NAME VALUE and "Header: value" whose
// name looks secret (crier.SecretName).
func execSecrets(argv, environ []string) secrets {
	var vals []string
	for _, kv := range environ {
		// Names are only a guess here: short values (XDG_SESSION_CLASS=user)
		// would garble the error, and a credential is rarely that short.
		if k, v, ok := strings.Cut(kv, "="); ok && len(v) >= minEnvSecretLen && crier.SecretName(k) {
			vals = append(vals, v)
		}
	}
	flagName := func(s string) string { return strings.TrimLeft(strings.TrimSpace(s), "-") }
	for i, arg := range argv {
		if strings.Contains(arg, "://") {
			vals = append(vals, urlCredentials(arg)...)
			continue
		}
		if k, v, ok := strings.Cut(arg, "="); ok && crier.SecretName(flagName(k)) {
			vals = append(vals, v)
		}
		if k, v, ok := strings.Cut(arg, ":"); ok && crier.SecretName(flagName(k)) {
			v = strings.TrimSpace(v)
			vals = append(vals, v)
			if _, cred, ok := strings.Cut(v, " "); ok { // "Bearer X", "Basic X"
				vals = append(vals, strings.TrimSpace(cred))
			}
		}
		if strings.HasPrefix(arg, "-") && !strings.ContainsAny(arg, "=:") && i+1 < len(argv) && crier.SecretName(flagName(arg)) {
			vals = append(vals, argv[i+1])
		}
	}
	return newSecrets(vals...)
}
