package notify

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/mail"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/servicefake"
)

func emailConfig(m *servicefake.Mailpit, kv ...string) crier.NotifierConfig {
	cfg := svcConfig("mail", "email", append([]string{
		"host", m.Host, "port", m.SMTPPort, "tls", "none", "from", "crier <crier@example.com>",
	}, kv...)...)
	cfg.Lists["to"] = []string{"Ann <ann@example.org>", "bob@example.net"}
	return cfg
}

func TestEmailItem(t *testing.T) {
	t.Parallel()
	m := servicefake.StartMailpit(t, "--smtp-auth-accept-any", "--smtp-auth-allow-insecure")
	n := svcItem()
	n.Title = "Grüße 1 <script>alert(1)</script> @everyone " + strings.Repeat("ü", 150)
	n.Summary = "Body with <b>tags</b> & \u202ereversed\n" + strings.Repeat("long line ", 200)
	e := must(NewEmail(emailConfig(m, "username", "u", "password", "p", "list_id", "news.example.com")))
	if err := e.Send(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	msg := m.Only(t, "Grüße 1")

	wantSubject := crier.Truncate("Go Blog: "+collapse(n.Title), emailMaxSubject)
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
	m := servicefake.StartMailpit(t)
	e := must(NewEmail(emailConfig(m)))
	if err := e.Send(context.Background(), svcSummary()); err != nil {
		t.Fatal(err)
	}
	msg := m.Only(t, "7 new headlines")
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
	m := servicefake.StartMailpit(t)
	cfg := emailConfig(m)
	cfg.TitleTemplate = "[{{.Feed}}] tpl {{.Title}}"
	cfg.MessageTemplate = "Read: {{.Link}}"
	e := must(NewEmail(cfg))
	if err := e.Send(context.Background(), svcItem()); err != nil {
		t.Fatal(err)
	}
	msg := m.Only(t, "tpl")
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
	m := servicefake.StartMailpit(t)
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
		m.Chaos(t, tt.chaos)
		err := e.Send(context.Background(), svcItem())
		if err == nil || Classify(err).Permanent != tt.permanent {
			t.Errorf("%s: err = %v, want permanent=%v", tt.name, err, tt.permanent)
		}
	}
	m.Chaos(t, `{}`)
	if err := e.Send(context.Background(), svcItem()); err != nil {
		t.Errorf("after the chaos: %v", err)
	}
}

func TestEmailRefusesToDowngrade(t *testing.T) {
	t.Parallel()
	m := servicefake.StartMailpit(t)
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
			m := servicefake.StartMailpit(t, "--smtp-tls-cert", cert, "--smtp-tls-key", key, flag, "--smtp-auth-accept-any")
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
			m.Only(t, "secure "+mode)
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
