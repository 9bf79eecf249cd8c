package notify

import (
	"bufio"
	"context"
	"encoding/base64"
	"net"
	"strings"
	"sync"
	"testing"
)

// fakeSMTPAuthFailure is an SMTP server on loopback that offers AUTH and
// refuses every login with a reply quoting what it was sent, as some
// servers do in their diagnostics. It returns the server's port.
func fakeSMTPAuthFailure(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer c.Close()
				r := bufio.NewReader(c)
				reply := func(s string) { _, _ = c.Write([]byte(s + "\r\n")) }
				reply("220 fake ESMTP")
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					line = strings.TrimRight(line, "\r\n")
					verb, arg, _ := strings.Cut(line, " ")
					switch strings.ToUpper(verb) {
					case "EHLO", "HELO":
						reply("250-fake\r\n250 AUTH PLAIN LOGIN")
					case "AUTH":
						_, blob, _ := strings.Cut(arg, " ")
						plain, _ := base64.StdEncoding.DecodeString(blob)
						reply("535 5.7.8 authentication failed for " + strings.ReplaceAll(string(plain), "\x00", " ") + " (" + blob + ")")
					case "QUIT":
						reply("221 bye")
						return
					default:
						reply("502 5.5.2 not here")
					}
				}
			}()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// An SMTP server that echoes the login in its AUTH failure does not get
// the password into crier's error (logged, stored as the dead letter's
// reason, shown on the status page).
func TestEmailAuthErrorHidesPassword(t *testing.T) {
	t.Parallel()
	const password = "hunter2-smtp-secret"
	port := fakeSMTPAuthFailure(t)
	cfg := svcConfig("mail", "email", "host", "127.0.0.1", "port", port, "tls", "none",
		"from", "crier@example.com", "username", "ann@example.org", "password", password)
	cfg.Lists["to"] = []string{"ann@example.org"}
	e := must(NewEmail(cfg))
	err := e.Send(context.Background(), svcItem())
	if err == nil || !Classify(err).Permanent || !strings.Contains(err.Error(), "535") {
		t.Fatalf("err = %v, want the permanent 535 AUTH failure", err)
	}
	blob := base64.StdEncoding.EncodeToString([]byte("\x00ann@example.org\x00" + password))
	for _, secret := range []string{password, blob} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
}

// A command whose stderr prints its arguments or its environment does not
// get the credentials among them into crier's error.
func TestExecErrorHidesSecrets(t *testing.T) {
	// Not parallel: it sets an environment variable the command inherits.
	t.Setenv("CRIER_TEST_API_TOKEN", "env-token-7c1f93")
	t.Setenv("CRIER_TEST_HOME", "/srv/crier-home")
	path := script(t, t.TempDir(), "loud", `echo "args: $*" >&2; echo "env: $CRIER_TEST_API_TOKEN in $CRIER_TEST_HOME" >&2; exit 1`+"\n")
	e := must(NewExec(execConfig([]string{path,
		"--token=flag-secret-1234", "--password", "separate-secret-5678",
		"Authorization: Bearer header-secret-9012",
		"https://hookuser:url-pass-3456@example.com/hook?key=query-secret-7890&page=2",
	})))
	err := e.Send(context.Background(), svcItem())
	if err == nil || !Classify(err).Permanent {
		t.Fatalf("err = %v, want a permanent failure", err)
	}
	for _, secret := range []string{"env-token-7c1f93", "flag-secret-1234", "separate-secret-5678",
		"header-secret-9012", "url-pass-3456", "query-secret-7890"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
	// What is not a credential stays, so the error still explains itself.
	for _, kept := range []string{"args: --token=", "--password", "example.com/hook", "page=2", "in /srv/crier-home"} {
		if !strings.Contains(err.Error(), kept) {
			t.Errorf("error lost %q: %v", kept, err)
		}
	}
}

// The stderr tail is cut after masking: a cut through a token would leave
// a piece that no longer matches it.
func TestExecErrorTailCutAfterMasking(t *testing.T) {
	t.Parallel()
	const token = "abcdefgh-straddle1"
	filler := strings.Repeat("y", execStderrTail-10) // the tail starts inside the token
	path := script(t, t.TempDir(), "cut", `printf '%s%s\n' "$1" "`+filler+`" >&2; exit 1`+"\n")
	e := must(NewExec(execConfig([]string{path, "--token=" + token})))
	err := e.Send(context.Background(), svcItem())
	if err == nil || !strings.Contains(err.Error(), "yyyy") {
		t.Fatalf("err = %v, want the stderr tail", err)
	}
	if strings.Contains(err.Error(), "straddle") {
		t.Errorf("error shows a piece of the token: %.120s…", err)
	}
}
