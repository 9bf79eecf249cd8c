package notify

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/notify/servicefake"
)

// Secrets the redirect tests configure; none may reach another server or
// an error message.
const (
	redirDiscordToken = "Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE_dC-bAredirect"
	redirSlackToken   = "xoxbSlackWebhookSecret0123456789"
	redirHookSecret   = "hookpathsecret-0123456789abcdef"
	redirHookBearer   = "Bearer hookbearer-secret"
)

// redirectCase builds one HTTP notifier against base, a server that answers
// every request with a redirect.
type redirectCase struct {
	name    string
	build   func(base string, client *http.Client) (Notifier, error)
	secrets []string
}

func redirectCases() []redirectCase {
	return []redirectCase{
		{"webhook", func(base string, c *http.Client) (Notifier, error) {
			cfg := svcConfig("r", "webhook", "url", base+"/hook/"+redirHookSecret)
			cfg.Maps["headers"] = map[string]string{"Authorization": redirHookBearer}
			return NewWebhook(cfg, c)
		}, []string{redirHookSecret, redirHookBearer}},
		{"ntfy", func(base string, c *http.Client) (Notifier, error) {
			return NewNtfy(svcConfig("r", "ntfy", "url", base, "topic", "news", "token", servicefake.NtfyToken), c)
		}, []string{servicefake.NtfyToken}},
		{"gotify", func(base string, c *http.Client) (Notifier, error) {
			return NewGotify(svcConfig("r", "gotify", "url", base, "token", servicefake.GotifyToken), c)
		}, []string{servicefake.GotifyToken}},
		{"telegram", func(base string, c *http.Client) (Notifier, error) {
			return NewTelegram(svcConfig("r", "telegram", "api_url", base, "token", servicefake.TelegramToken,
				"chat_id", servicefake.TelegramChatID), c)
		}, []string{servicefake.TelegramToken}},
		{"discord", func(base string, c *http.Client) (Notifier, error) {
			return NewDiscord(svcConfig("r", "discord", "webhook_url", base+"/api/webhooks/1/"+redirDiscordToken), c)
		}, []string{redirDiscordToken}},
		{"slack", func(base string, c *http.Client) (Notifier, error) {
			return NewSlack(svcConfig("r", "slack", "webhook_url", base+"/services/T1/B1/"+redirSlackToken), c)
		}, []string{redirSlackToken}},
		{"pushover", func(base string, c *http.Client) (Notifier, error) {
			cfg := crier.NotifierConfig{Name: "r", Type: "pushover", Options: map[string]string{
				"token": pushoverfake.Token, "user": pushoverfake.User, "api_url": base + "/1"}}
			return NewPushover(cfg, c, nil)
		}, []string{pushoverfake.Token, pushoverfake.User}},
	}
}

// redirector answers every request with status and a Location on target,
// keeping the path (and so any secret in it) as a moved service would.
func redirector(t *testing.T, status int, target string) *httptest.Server {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Location", target+r.URL.RequestURI())
		w.WriteHeader(status)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestServicesRefuseRedirects: a notifier whose URL answers 3xx fails the
// send permanently with an error that says so, and nothing (no body, no
// secret header) reaches the server the redirect points to. Followed, a
// 302 turns the POST into a GET whose 200 would count as delivered.
func TestServicesRefuseRedirects(t *testing.T) {
	t.Parallel()
	clients := map[string]func() *http.Client{
		"own client": func() *http.Client { return nil },
		// Its own transport: httptest servers closing in parallel tests close
		// http.DefaultTransport's connections under a request in flight.
		"following client": func() *http.Client { return &http.Client{Transport: &http.Transport{}} },
	}
	for _, tc := range redirectCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, status := range []int{301, 302, 303, 307, 308} {
				for cname, client := range clients {
					t.Run(fmt.Sprintf("%d %s", status, cname), func(t *testing.T) {
						other := servicefake.NewWebhook()
						defer other.Close()
						other.Status = http.StatusOK
						srv := redirector(t, status, other.URL())
						c := client()
						nt, err := tc.build(srv.URL, c)
						if err != nil {
							t.Fatal(err)
						}
						err = nt.Send(context.Background(), svcItem())
						if err == nil {
							t.Fatal("a redirected send counted as delivered")
						}
						if !Classify(err).Permanent {
							t.Errorf("want a permanent error (the URL is wrong): %v", err)
						}
						host := strings.TrimPrefix(other.URL(), "http://")
						msg := err.Error()
						if !strings.Contains(msg, "notifier r") || !strings.Contains(msg, "redirected to http://"+host) ||
							!strings.Contains(msg, "fix the URL") {
							t.Errorf("error does not say where it was redirected: %v", err)
						}
						for _, s := range tc.secrets {
							if strings.Contains(msg, s) {
								t.Errorf("error quotes the secret %q: %v", s, err)
							}
						}
						if got := other.Received(); len(got) != 0 {
							t.Errorf("the redirect target got %d requests: %s %s %v", len(got), got[0].Method, got[0].Path, got[0].Header)
						}
						if c != nil && c.CheckRedirect != nil {
							t.Error("the caller's client was changed")
						}
					})
				}
			}
		})
	}
}

// TestRedirectIsDeadLettered: through the dispatcher, a redirected send is
// not delivered but buried with its reason, and the queue moves on.
func TestRedirectIsDeadLettered(t *testing.T) {
	t.Parallel()
	other := servicefake.NewWebhook()
	defer other.Close()
	other.Status = http.StatusOK
	srv := redirector(t, http.StatusFound, other.URL())
	nt := must(NewWebhook(svcConfig("hook", "webhook", "url", srv.URL+"/hook"), nil))
	s := openTestStore(t, filepath.Join(t.TempDir(), "state.db"), nil)
	enqueueAll(t, s, "hook", feedNews("x", "moved")...)
	d := NewDispatcher(s, map[string]Notifier{"hook": nt}, DispatcherOptions{})
	if res, err := d.Drain(context.Background()); err != nil || res != (DrainResult{}) {
		t.Fatalf("drain: %+v, %v; want nothing delivered or pending", res, err)
	}
	dead, err := s.DeadLetters()
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || !strings.Contains(dead[0].Reason, "redirected to") {
		t.Fatalf("dead letters %+v", dead)
	}
	if n := len(other.Received()); n != 0 {
		t.Errorf("the redirect target got %d requests", n)
	}
}
