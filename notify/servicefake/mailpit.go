package servicefake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// Mail is not faked: an SMTP stand-in that only pretends would miss what
// matters (dot-stuffing, line lengths, AUTH and STARTTLS rules), so the
// email tests talk to a real server, mailpit (github.com/axllent/mailpit),
// run on free loopback ports and read back through its HTTP API.

// MailpitInstall says how to get the mailpit binary.
const MailpitInstall = "GOFLAGS= go install github.com/axllent/mailpit@v1.33.1 (then put $(go env GOPATH)/bin on PATH, or set MAILPIT to the binary)"

// Mailpit is a running mailpit server owned by one test.
type Mailpit struct {
	Host     string // SMTP host: always 127.0.0.1
	SMTPPort string // SMTP port, in decimal as a config option takes it
	API      string // base URL of the HTTP API (http://127.0.0.1:port)
	client   *http.Client
}

func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// StartMailpit runs mailpit, found at $MAILPIT or on PATH, until the test
// ends; extra are additional flags (e.g. --smtp-auth-accept-any). Chaos
// triggers are enabled. Without the binary the test is skipped, unless
// the environment variable CI is set: there it fails, so that a CI
// runner lacking mailpit cannot pass by skipping every email test.
func StartMailpit(t testing.TB, extra ...string) *Mailpit {
	t.Helper()
	bin := os.Getenv("MAILPIT")
	if bin == "" {
		var err error
		if bin, err = exec.LookPath("mailpit"); err != nil {
			if os.Getenv("CI") != "" {
				t.Fatalf("mailpit not found (CI must install it): %s", MailpitInstall)
			}
			t.Skipf("mailpit not found; to run the email tests install it: %s", MailpitInstall)
		}
	}
	// The ports are free when picked; another process could take one
	// before mailpit binds it, so try a few times.
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		m := &Mailpit{Host: "127.0.0.1", SMTPPort: freePort(t), client: &http.Client{Timeout: 5 * time.Second}}
		httpPort := freePort(t)
		m.API = "http://127.0.0.1:" + httpPort
		args := append([]string{
			"--smtp", "127.0.0.1:" + m.SMTPPort, "--listen", "127.0.0.1:" + httpPort,
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
			if resp, err := m.client.Get(m.API + "/readyz"); err == nil {
				resp.Body.Close()
				// The API can answer before the SMTP listener is bound
				// (seen under load): wait for both.
				if resp.StatusCode == http.StatusOK && m.smtpUp() {
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

// smtpUp says whether the SMTP port accepts connections.
func (m *Mailpit) smtpUp() bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort(m.Host, m.SMTPPort), time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// Get fetches an API path, fails the test unless it answers 200, decodes
// the JSON body into v when v is not nil, and returns the body.
func (m *Mailpit) Get(t testing.TB, path string, v any) []byte {
	t.Helper()
	resp, err := m.client.Get(m.API + path)
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

// Chaos sets mailpit's SMTP chaos triggers (JSON, as its API takes them,
// e.g. `{"Recipient":{"ErrorCode":451,"Probability":100}}`); `{}` clears
// them.
func (m *Mailpit) Chaos(t testing.TB, triggers string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPut, m.API+"/api/v1/chaos", strings.NewReader(triggers))
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

// MailpitMessage is what the API tells about one message.
type MailpitMessage struct {
	ID        string
	MessageID string
	Subject   string
	From      struct{ Name, Address string }
	To        []struct{ Name, Address string }
	Text      string
	HTML      string
	// Inline are the parts shown inside the HTML (cid: images),
	// Attachments the others.
	Inline      []MailpitPart
	Attachments []MailpitPart
	Headers     map[string][]string
	Raw         []byte
}

// MailpitPart is a non-text MIME part of a message.
type MailpitPart struct {
	PartID      string
	FileName    string
	ContentType string
	ContentID   string
	Size        int
}

// Only returns the single stored message whose Subject contains marker,
// and fails the test when there are none or several.
func (m *Mailpit) Only(t testing.TB, marker string) MailpitMessage {
	t.Helper()
	var list struct {
		Messages []struct{ ID, Subject string }
	}
	m.Get(t, "/api/v1/messages", &list)
	var found []string
	for _, s := range list.Messages {
		if strings.Contains(s.Subject, marker) {
			found = append(found, s.ID)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d messages with %q in the subject (of %d)", len(found), marker, len(list.Messages))
	}
	var msg MailpitMessage
	m.Get(t, "/api/v1/message/"+found[0], &msg)
	m.Get(t, "/api/v1/message/"+found[0]+"/headers", &msg.Headers)
	msg.Raw = m.Get(t, "/api/v1/message/"+found[0]+"/raw", nil)
	return msg
}
