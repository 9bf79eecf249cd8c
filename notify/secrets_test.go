package notify

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/notify/servicefake"
)

// TestServicesErrorsHideSecrets: when a service's error reply echoes the
// request URL, the token or a credential header, the error crier keeps
// (logged, stored as the dead letter's reason, shown on the status page)
// has them masked.
func TestServicesErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const hookSecret = "hooksecret-3f9a1c7e5b2d4068"
	type setup struct {
		nt      Notifier
		fake    faker
		secrets []string
	}
	cases := []struct {
		name  string
		setup func(t *testing.T) setup
	}{
		{"ntfy token", func(t *testing.T) setup {
			f := servicefake.NewNtfy(true)
			t.Cleanup(f.Close)
			nt := must(NewNtfy(svcConfig("s", "ntfy", "url", f.URL(), "topic", "news", "token", servicefake.NtfyToken), f.Client()))
			return setup{nt, f, []string{servicefake.NtfyToken}}
		}},
		{"ntfy password", func(t *testing.T) setup {
			f := servicefake.NewNtfy(true)
			t.Cleanup(f.Close)
			nt := must(NewNtfy(svcConfig("s", "ntfy", "url", f.URL(), "topic", "news",
				"user", servicefake.NtfyUser, "password", "pw-0123456789"), f.Client()))
			basic := base64.StdEncoding.EncodeToString([]byte(servicefake.NtfyUser + ":pw-0123456789"))
			return setup{nt, f, []string{"pw-0123456789", basic}}
		}},
		{"gotify", func(t *testing.T) setup {
			f := servicefake.NewGotify()
			t.Cleanup(f.Close)
			nt := must(NewGotify(svcConfig("s", "gotify", "url", f.URL(), "token", servicefake.GotifyToken), f.Client()))
			return setup{nt, f, []string{servicefake.GotifyToken}}
		}},
		{"telegram", func(t *testing.T) setup {
			f := servicefake.NewTelegram()
			t.Cleanup(f.Close)
			nt := must(NewTelegram(svcConfig("s", "telegram", "api_url", f.URL(), "token", servicefake.TelegramToken,
				"chat_id", servicefake.TelegramChatID), f.Client()))
			_, key, _ := strings.Cut(servicefake.TelegramToken, ":")
			return setup{nt, f, []string{servicefake.TelegramToken, key}}
		}},
		{"discord", func(t *testing.T) setup {
			f := servicefake.NewDiscord()
			t.Cleanup(f.Close)
			nt := must(NewDiscord(svcConfig("s", "discord", "webhook_url", f.WebhookURL()), f.Client()))
			u, _ := url.Parse(f.WebhookURL())
			return setup{nt, f, []string{f.WebhookURL(), u.Path, path.Base(u.Path)}}
		}},
		{"slack", func(t *testing.T) setup {
			f := servicefake.NewSlack()
			t.Cleanup(f.Close)
			nt := must(NewSlack(svcConfig("s", "slack", "webhook_url", f.WebhookURL()), f.Client()))
			u, _ := url.Parse(f.WebhookURL())
			return setup{nt, f, []string{f.WebhookURL(), u.Path, path.Base(u.Path)}}
		}},
		{"webhook", func(t *testing.T) setup {
			f := servicefake.NewWebhook()
			t.Cleanup(f.Close)
			cfg := svcConfig("s", "webhook", "url", f.URL()+"/hook/"+hookSecret+"?key=querysecret-77")
			cfg.Maps["headers"] = map[string]string{"X-Api-Key": "headersecret-0042", "Authorization": "Bearer bearersecret-19"}
			nt := must(NewWebhook(cfg, f.Client()))
			return setup{nt, f, []string{hookSecret, "querysecret-77", "headersecret-0042", "bearersecret-19"}}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, status := range []int{400, 500} {
				s := tc.setup(t)
				// The echo as a careless service writes it: raw, and
				// percent-encoded as it was in the request line.
				var echo []string
				for _, v := range s.secrets {
					echo = append(echo, v, url.PathEscape(v))
				}
				s.fake.Fail(servicefake.Fault{Status: status, Message: "you sent " + strings.Join(echo, " and ")})
				err := s.nt.Send(context.Background(), svcItem())
				if err == nil {
					t.Fatal("send succeeded, want the fault")
				}
				for _, v := range s.secrets {
					if strings.Contains(err.Error(), v) {
						t.Errorf("HTTP %d: error quotes the secret %q: %v", status, v, err)
					}
				}
				if !strings.Contains(err.Error(), "you sent ***") {
					t.Errorf("HTTP %d: the reply is no longer quoted: %v", status, err)
				}
				if want := status == 400; Classify(err).Permanent != want {
					t.Errorf("HTTP %d: permanent = %v after masking (%v)", status, !want, err)
				}
			}
		})
	}
}

// TestTelegramDeadLetterHidesToken: a refusal that echoes the bot token
// is buried with the token masked in its reason.
func TestTelegramDeadLetterHidesToken(t *testing.T) {
	t.Parallel()
	f := servicefake.NewTelegram()
	defer f.Close()
	f.Fail(servicefake.Fault{Status: 404, Message: "Not Found: method /bot" + servicefake.TelegramToken + "/sendMessage"})
	nt := must(NewTelegram(svcConfig("tg", "telegram", "api_url", f.URL(), "token", servicefake.TelegramToken,
		"chat_id", servicefake.TelegramChatID), f.Client()))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "tg", feedNews("x", "refused")...)
	d := NewDispatcher(s, map[string]Notifier{"tg": nt}, DispatcherOptions{})
	if _, err := d.Drain(context.Background()); err != nil {
		t.Fatal(err)
	}
	dead, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 {
		t.Fatalf("dead letters %+v", dead)
	}
	if r := dead[0].Reason; strings.Contains(r, servicefake.TelegramToken) || !strings.Contains(r, "/bot***/sendMessage") {
		t.Errorf("dead letter reason %q, want the token masked", r)
	}
}

// TestTransportErrorsHideSecrets: errors that never reached a service
// (refused connection, timeout, a URL Go cannot parse) do not quote the
// URL that carries the secret.
func TestTransportErrorsHideSecrets(t *testing.T) {
	t.Parallel()
	const secret = "pathsecret-5e8c2a9f0b1d"
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	hang := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer hang.Close()
	badToken := "123456:AAH%zz" + secret // % breaks the request URL
	cases := []struct {
		name string
		nt   Notifier
	}{
		{"refused webhook", must(NewWebhook(svcConfig("s", "webhook", "url", closed.URL+"/hook/"+secret), nil))},
		{"hanging webhook", must(NewWebhook(svcConfig("s", "webhook", "url", hang.URL+"/hook/"+secret, "timeout", "100ms"), nil))},
		{"refused discord", must(NewDiscord(svcConfig("s", "discord", "webhook_url", closed.URL+"/api/webhooks/1/"+secret), nil))},
		{"unparsable telegram URL", must(NewTelegram(svcConfig("s", "telegram", "api_url", closed.URL, "token", badToken,
			"chat_id", "1"), nil))},
		{"refused pushover", must(NewPushover(crier.NotifierConfig{Name: "s", Type: "pushover", Options: map[string]string{
			"token": pushoverfake.Token, "user": pushoverfake.User, "api_url": closed.URL + "/" + secret}}, nil, nil))},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			err := tc.nt.Send(context.Background(), svcItem())
			if err == nil {
				t.Fatal("send succeeded")
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("error quotes the secret: %v", err)
			}
			if !strings.Contains(err.Error(), "notifier s") {
				t.Errorf("error does not name the notifier: %v", err)
			}
		})
	}
}

// TestPushoverQuotaErrorHidesToken: Pushover's 429 names the application
// token ("application <token> has exceeded its monthly message limit").
func TestPushoverQuotaErrorHidesToken(t *testing.T) {
	t.Parallel()
	fake := pushoverfake.New()
	defer fake.Close()
	fake.SetRemaining(0, time.Now().Add(time.Hour))
	p := newTestPushover(t, fake, nil)
	err := p.Send(context.Background(), sampleItem())
	if err == nil || Classify(err).ParkUntil.IsZero() {
		t.Fatalf("err = %v, want the quota parked", err)
	}
	if strings.Contains(err.Error(), pushoverfake.Token) || !strings.Contains(err.Error(), "application ***") {
		t.Errorf("error %q, want the token masked", err)
	}
}

// TestScrubKeepsErrorChain: masking changes the text, not what the error
// is: the dispatcher still sees its class and a timeout stays a timeout.
func TestScrubKeepsErrorChain(t *testing.T) {
	t.Parallel()
	s := newSecrets("tok-123456")
	inner := Temporary(errors.Join(errors.New("sent tok-123456"), context.DeadlineExceeded), 7*time.Second)
	err := s.scrubErr(inner)
	if err.Error() != "sent ***\n"+context.DeadlineExceeded.Error() {
		t.Errorf("text %q", err)
	}
	if c := Classify(err); c.Permanent || c.RetryAfter != 7*time.Second || strings.Contains(c.Err.Error(), "tok-123456") {
		t.Errorf("class %+v", c)
	}
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Error("the timeout is lost")
	}
	if s.scrubErr(nil) != nil {
		t.Error("nil became an error")
	}
	if clean := errors.New("nothing to hide"); s.scrubErr(clean) != clean {
		t.Error("a clean error was rebuilt")
	}
	if got := newSecrets("", "ab").scrub("a b ab"); got != "a b ab" {
		t.Errorf("values too short to be secrets masked text: %q", got)
	}
}
