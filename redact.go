package crier

import (
	"net/url"
	"regexp"
	"strings"
)

// redacted stands in for whatever was hidden.
const redacted = "***"

// RedactURL is rawURL fit to be shown (logs, API, status page, alerts):
// the userinfo becomes "***" whole, since the user name is often the
// secret itself (https://TOKEN@host/), and so does the value of every
// query or fragment parameter whose name looks like a secret (token, key,
// apikey, secret, password, auth, sig, signature, credential, session, …).
// Everything else is kept byte for byte, so the user still recognises the
// feed. A secret in the path cannot be told apart and is shown. Fetch with
// the original, never with this.
func RedactURL(rawURL string) string {
	s := rawURL
	if i := strings.Index(s, "://"); i > 0 && isScheme(s[:i]) {
		start := i + len("://")
		end := len(s)
		if j := strings.IndexAny(s[start:], "/?#"); j >= 0 {
			end = start + j
		}
		if at := strings.LastIndexByte(s[start:end], '@'); at > 0 {
			s = s[:start] + redacted + s[start+at:]
		}
	}
	q := strings.IndexAny(s, "?#")
	if q < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	b.WriteString(s[:q])
	// Every parameter, after its delimiter; a stray '?' or ';' inside a
	// value only makes the split finer, which can hide more, never less.
	for tail := s[q:]; tail != ""; {
		b.WriteByte(tail[0])
		tail = tail[1:]
		n := strings.IndexAny(tail, "?#&;")
		if n < 0 {
			n = len(tail)
		}
		b.WriteString(redactParam(tail[:n]))
		tail = tail[n:]
	}
	return b.String()
}

func redactParam(p string) string {
	k, v, ok := strings.Cut(p, "=")
	if !ok || v == "" {
		return p
	}
	name, err := url.QueryUnescape(k)
	if err != nil {
		name = k
	}
	if SecretName(name) {
		return k + "=" + redacted
	}
	return p
}

// SecretName reports whether a parameter, header, flag or environment
// variable named name probably carries a credential. It errs on the side
// of hiding: a hidden "monkey=" costs less than a shown "apikey=". Names
// such as author, keyword, page or q stay.
func SecretName(name string) bool {
	n := strings.NewReplacer("-", "", "_", "", ".", "", " ", "").Replace(strings.ToLower(name))
	switch n {
	case "key", "sig", "pass", "pwd", "pw", "auth", "jwt":
		return true
	}
	for _, w := range []string{"token", "secret", "passw", "passphrase", "credential", "signature",
		"session", "private", "apikey", "accesskey", "authorization"} {
		if strings.Contains(n, w) {
			return true
		}
	}
	return strings.HasSuffix(n, "key") || strings.HasSuffix(n, "sig") || strings.HasSuffix(n, "auth")
}

func isScheme(s string) bool {
	for i, c := range s {
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z':
		case i > 0 && ('0' <= c && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return s != ""
}

// urlInText finds URLs inside free text: Go's errors quote them ("Get
// \"https://…\": …"), crier's own name them bare, pages list them in <…>.
var urlInText = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.\-]*://[^\s"'<>` + "`" + `]+`)

// RedactURLs applies RedactURL to every URL inside text, such as an error
// message. Punctuation that ends a sentence or closes a parenthesis around
// the URL stays outside it.
func RedactURLs(text string) string {
	if !strings.Contains(text, "://") {
		return text
	}
	return urlInText.ReplaceAllStringFunc(text, func(u string) string {
		end := len(u)
		for end > 0 {
			c := u[end-1]
			if strings.IndexByte(".,;:!?]}", c) >= 0 ||
				c == ')' && strings.Count(u[:end], ")") > strings.Count(u[:end], "(") {
				end--
				continue
			}
			break
		}
		return RedactURL(u[:end]) + u[end:]
	})
}
