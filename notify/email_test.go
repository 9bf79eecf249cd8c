package notify

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/mail"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
)

// mailpit is a real SMTP server for the email tests: the mailpit binary
// (github.com/axllent/mailpit), found on PATH or at $MAILPIT, run on free
// loopback ports and read back through its HTTP API.
type mailpit struct {
	smtpPort string
	api      string
	client   *http.Client
}

const mailpitInstall = "GOFLAGS= go install github.com/axllent/mailpit@v1.33.1 (then put $(go env GOPATH)/bin on PATH, or set MAILPIT to the binary)"

func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// startMailpit runs mailpit for the test; extra are additional flags.
func startMailpit(t *testing.T, extra ...string) *mailpit {
	t.Helper()
	bin := os.Getenv("MAILPIT")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("mailpit"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("mailpit not found (CI must install it): %s", mailpitInstall)
			}
			t.Skipf("mailpit not found; to run the email tests install it: %s", mailpitInstall)
		}
	}
	// The ports are free when picked; another process could take one
	// before mailpit binds it, so try a few times.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m := &mailpit{smtpPort: freePort(t), client: &http.Client{Timeout: 5 * time.Second}}
		httpPort := freePort(t)
		m.api = "http://127.0.0.1:" + httpPort
		args := append([]string{
			"--smtp", "127.0.0.1:" + m.smtpPort, "--listen", "127.0.0.1:" + httpPort,
			"--database", filepath.Join(t.TempDir(), "mailpit.db"),
			"--disable-version-check", "--smtp-disable-rdns", "--enable-chaos", "--quiet",
		}, extra...)
		var out bytes.Buffer
		cmd := exec.Command(bin, args...)
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatalf("starting %s: %v", bin, err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		ready := false
		deadline := time.Now().Add(15 * time.Second)
	wait:
		for time.Now().Before(deadline) {
			select {
			case err := <-exited:
				lastErr = fmt.Errorf("mailpit exited: %v: %s", err, out.String())
				break wait
			case <-time.After(50 * time.Millisecond):
			}
			if resp, err := m.client.Get(m.api + "/readyz"); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ready = true
					break
				}
			}
		}
		if ready {
			t.Cleanup(func() {
				_ = cmd.Process.Kill()
				<-exited
			})
			return m
		}
		_ = cmd.Process.Kill()
		if lastErr == nil {
			lastErr = fmt.Errorf("mailpit not ready after 15s: %s", out.String())
			<-exited
		}
	}
	t.Fatal(lastErr)
	return nil
}

func (m *mailpit) get(t *testing.T, path string, v any) []byte {
	t.Helper()
	resp, err := m.client.Get(m.api + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d %s", path, resp.StatusCode, body)
	}
	if v != nil {
		if err := json.Unmarshal(body, v); err != nil {
			t.Fatalf("GET %s: %v", path, err)
		}
	}
	return body
}

func (m *mailpit) chaos(t *testing.T, triggers string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, m.api+"/api/v1/chaos", strings.NewReader(triggers))
	req.Header.Set("Content-Type", "application/json")
	resp, err := m.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("setting chaos: %d", resp.StatusCode)
	}
}

// mailpitMessage is what the API tells about one message.
type mailpitMessage struct {
	ID        string
	MessageID string
	Subject   string
	From      struct{ Name, Address string }
	To        []struct{ Name, Address string }
	Text      string
	HTML      string
	Headers   map[string][]string
	Raw       []byte
}

// only returns the single stored message whose Subject contains marker.
func (m *mailpit) only(t *testing.T, marker string) mailpitMessage {
	t.Helper()
	var list struct {
		Messages []struct{ ID, Subject string }
	}
	m.get(t, "/api/v1/messages", &list)
	var found []string
	for _, s := range list.Messages {
		if strings.Contains(s.Subject, marker) {
			found = append(found, s.ID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d messages with %q in the subject (of %d)", len(found), marker, len(list.Messages))
	}
	var msg mailpitMessage
	m.get(t, "/api/v1/message/"+found[0], &msg)
	m.get(t, "/api/v1/message/"+found[0]+"/headers", &msg.Headers)
	msg.Raw = m.get(t, "/api/v1/message/"+found[0]+"/raw", nil)
	return msg
}

func emailConfig(m *mailpit, kv ...string) crier.NotifierConfig {
	cfg := svcConfig("mail", "email", append([]string{
		"host", "127.0.0.1", "port", m.smtpPort, "tls", "none", "from", "crier <crier@example.com>",
	}, kv...)...)
	cfg.Lists["to"] = []string{"Ann <ann@example.org>", "bob@example.net"}
	return cfg
}

func TestEmailItem(t *testing.T) {
	t.Parallel()
	m := startMailpit(t, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	n := svcItem()
	n.Title = "Grüße 1 <script>alert(1)</script> @everyone " + strings.Repeat("ü", 150)
	n.Summary = "Body with <b>tags</b> & \u202ereversed\n" + strings.Repeat("long line ", 200)
	e := must(NewEmail(emailConfig(m, "username", "u", "password", "p", "list_id", "news.example.com")))
	if err := e.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	msg := m.only(t, "Grüße 1")

	wantSubject := Truncate("Go Blog: "+collapse(n.Title), emailMaxSubject)
	if msg.Subject != wantSubject {
		t.Errorf("subject %q\nwant    %q", msg.Subject, wantSubject)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}@example\.com$`).MatchString(msg.MessageID) {
		t.Errorf("Message-ID %q", msg.MessageID)
	}
	h := func(k string) string { return strings.Join(msg.Headers[k], "|") }
	if _, err := mail.ParseDate(h("Date")); err != nil {
		t.Errorf("Date %q: %v", h("Date"), err)
	}
	if h("List-Id") != "<news.example.com>" || h("Mime-Version") != "1.0" || h("Auto-Submitted") != "auto-generated" {
		t.Errorf("headers %v", msg.Headers)
	}
	if !strings.HasPrefix(h("Content-Type"), "multipart/alternative") {
		t.Errorf("Content-Type %q", h("Content-Type"))
	}
	if msg.From.Address != "crier@example.com" || len(msg.To) != 2 || msg.To[0].Address != "ann@example.org" || msg.To[1].Address != "bob@example.net" {
		t.Errorf("from %+v to %+v", msg.From, msg.To)
	}
	if !strings.Contains(msg.Text, "<script>alert(1)</script>") || !strings.Contains(msg.Text, "https://go.dev/blog/go1.26") ||
		!strings.Contains(msg.Text, "Body with <b>tags</b> & reversed") {
		t.Errorf("text part:\n%s", msg.Text)
	}
	if strings.Contains(msg.HTML, "<script>") || strings.Contains(msg.HTML, "<b>tags") ||
		!strings.Contains(msg.HTML, "&lt;script&gt;") || !strings.Contains(msg.HTML, `<a href="https://go.dev/blog/go1.26">`) {
		t.Errorf("html part:\n%s", msg.HTML)
	}
	if strings.ContainsRune(msg.Text+msg.HTML+msg.Subject, '\u202e') {
		t.Error("a bidi override survived")
	}
	for _, line := range strings.Split(string(msg.Raw), "\r\n") {
		if len(line) > 998 {
			t.Errorf("raw line of %d bytes: %.80s…", len(line), line)
		}
	}
}

func TestEmailSummaryAndDefaultListID(t *testing.T) {
	t.Parallel()
	m := startMailpit(t)
	e := must(NewEmail(emailConfig(m)))
	if err := e.Send(context.Background(), svcSummary()); err != nil {
		t.Fatal(err)
	}
	msg := m.only(t, "7 new headlines")
	if got := strings.Join(msg.Headers["List-Id"], ""); got != "<crier.example.com>" {
		t.Errorf("List-Id %q", got)
	}
	for _, want := range []string{"- Show HN: crier\n  https://example.com/1", "- https://example.com/2", "and 4 more"} {
		if !strings.Contains(strings.ReplaceAll(msg.Text, "\r\n", "\n"), want) {
			t.Errorf("text lacks %q:\n%s", want, msg.Text)
		}
	}
	if !strings.Contains(msg.HTML, `<li><a href="https://example.com/3">Ask HN: feeds?</a></li>`) {
		t.Errorf("html:\n%s", msg.HTML)
	}
}

func TestEmailTemplates(t *testing.T) {
	t.Parallel()
	m := startMailpit(t)
	cfg := emailConfig(m)
	cfg.TitleTemplate = "[{{.Feed}}] tpl {{.Title}}"
	cfg.MessageTemplate = "Read: {{.Link}}"
	e := must(NewEmail(cfg))
	if err := e.Send(context.Background(), svcItem()); err != nil {
		t.Fatal(err)
	}
	msg := m.only(t, "tpl")
	if msg.Subject != "[Go Blog] tpl Go 1.26 is released" || !strings.Contains(msg.Text, "Read: https://go.dev/blog/go1.26") {
		t.Errorf("subject %q text %q", msg.Subject, msg.Text)
	}
	cfg.MessageTemplate = "{{.Nope}}"
	e = must(NewEmail(cfg))
	if err := e.Send(context.Background(), svcItem()); err == nil || !Classify(err).Permanent {
		t.Errorf("err = %v, want permanent", err)
	}
}

func TestEmailSMTPErrors(t *testing.T) {
	t.Parallel()
	m := startMailpit(t)
	tests := []struct {
		name      string
		chaos     string
		permanent bool
	}{
		{"451 on RCPT", `{"Recipient":{"ErrorCode":451,"Probability":100}}`, false},
		{"550 on MAIL FROM", `{"Sender":{"ErrorCode":550,"Probability":100}}`, true},
	}
	e := must(NewEmail(emailConfig(m)))
	for _, tt := range tests {
		m.chaos(t, tt.chaos)
		err := e.Send(context.Background(), svcItem())
		if err == nil || Classify(err).Permanent != tt.permanent {
			t.Errorf("%s: err = %v, want permanent=%v", tt.name, err, tt.permanent)
		}
	}
	m.chaos(t, `{}`)
	if err := e.Send(context.Background(), svcItem()); err != nil {
		t.Errorf("after the chaos: %v", err)
	}
}

func TestEmailRefusesToDowngrade(t *testing.T) {
	t.Parallel()
	m := startMailpit(t)
	e := must(NewEmail(emailConfig(m, "tls", "starttls")))
	err := e.Send(context.Background(), svcItem())
	if err == nil || !Classify(err).Permanent || !strings.Contains(err.Error(), "STARTTLS") {
		t.Fatalf("err = %v, want a permanent STARTTLS error", err)
	}
}

// selfSigned writes a certificate for 127.0.0.1 and returns its paths and pool.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, KeyUsage: x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kb, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

func TestEmailTLS(t *testing.T) {
	t.Parallel()
	for _, mode := range []string{"starttls", "tls"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			cert, key, pool := selfSigned(t)
			flag := "--smtp-require-starttls"
			if mode == "tls" {
				flag = "--smtp-require-tls"
			}
			m := startMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, flag, "--smtp-auth-accept-any")
			cfg := emailConfig(m, "tls", mode, "username", "u", "password", "p")
			cfg.TitleTemplate = "secure " + mode
			e := must(NewEmail(cfg))
			// An unknown certificate is refused…
			if err := e.Send(context.Background(), svcItem()); err == nil {
				t.Fatal("sent to a server with an untrusted certificate")
			}
			// …and a trusted one works.
			e.tlsConfig.RootCAs = pool
			if err := e.Send(context.Background(), svcItem()); err != nil {
				t.Fatal(err)
			}
			m.only(t, "secure "+mode)
		})
	}
}

// TestEmailTimeout: a server that accepts the connection and never
// greets fails the send temporarily at the timeout.
func TestEmailTimeout(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	cfg := svcConfig("mail", "email", "host", "127.0.0.1", "port", port, "tls", "none", "from", "c@example.com", "timeout", "300ms")
	cfg.Lists["to"] = []string{"a@example.com"}
	e := must(NewEmail(cfg))
	start := time.Now()
	err = e.Send(context.Background(), svcItem())
	if err == nil || Classify(err).Permanent || time.Since(start) > 3*time.Second {
		t.Fatalf("err = %v after %v, want a prompt temporary error", err, time.Since(start))
	}
}

func TestNewEmailRejectsBadConfig(t *testing.T) {
	t.Parallel()
	base := func(kv ...string) crier.NotifierConfig {
		c := svcConfig("m", "email", append([]string{"host", "h", "from", "a@b.c"}, kv...)...)
		c.Lists["to"] = []string{"x@y.z"}
		return c
	}
	noTo := base()
	noTo.Lists["to"] = nil
	badTo := base()
	badTo.Lists["to"] = []string{"not an address"}
	for name, cfg := range map[string]crier.NotifierConfig{
		"no host": svcConfig("m", "email", "from", "a@b.c"), "bad port": base("port", "99999"),
		"bad tls": base("tls", "ssl"), "bad from": base("from", "nope"), "no to": noTo, "bad to": badTo,
		"bad list id": base("list_id", "a b"),
	} {
		if _, err := NewEmail(cfg); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
