package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/crierd/crier/notify/pushoverfake"
	"github.com/crierd/crier/notify/servicefake"
)

// TestTestNotifyEveryType: `crier test-notify NAME` reaches each kind of
// service through its fake, and a failing one reports the failure.
func TestTestNotifyEveryType(t *testing.T) {
	t.Parallel()
	push := pushoverfake.New()
	defer push.Close()
	ntfy, gotify, telegram := servicefake.NewNtfy(true), servicefake.NewGotify(), servicefake.NewTelegram()
	discord, slack, hook := servicefake.NewDiscord(), servicefake.NewSlack(), servicefake.NewWebhook()
	for _, f := range []interface{ Close() }{ntfy, gotify, telegram, discord, slack, hook} {
		defer f.Close()
	}
	dir := t.TempDir()
	script := filepath.Join(dir, "hook.sh")
	got := filepath.Join(dir, "exec-got.json")
	if err := os.WriteFile(script, []byte("#!/bin/sh\ncat > "+got+"\n"), 0o700); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`state_dir: %s
notifiers:
  - {name: phone, type: pushover, token: %s, user: %s, api_url: %s}
  - {name: ntfy, type: ntfy, url: %s, topic: news, token: %s}
  - {name: gotify, type: gotify, url: %s, token: %s}
  - {name: telegram, type: telegram, api_url: %s, token: "%s", chat_id: "%s"}
  - {name: discord, type: discord, webhook_url: "%s"}
  - {name: slack, type: slack, webhook_url: "%s"}
  - {name: hook, type: webhook, url: "%s"}
  - {name: script, type: exec, command: [%s]}
  - {name: log, type: jsonl, path: log.jsonl}
  - {name: screen, type: console}
feeds:
  - url: https://example.org/feed
`, filepath.Join(dir, "state"), pushoverfake.Token, pushoverfake.User, push.Endpoint(),
		ntfy.URL(), servicefake.NtfyToken, gotify.URL(), servicefake.GotifyToken,
		telegram.URL(), servicefake.TelegramToken, servicefake.TelegramChatID,
		discord.WebhookURL(), slack.WebhookURL(), hook.URL(), script)
	h := &harness{t: t, dir: dir, config: filepath.Join(dir, "config.yaml"), env: map[string]string{}}
	writeConfig(t, h.config, cfg)

	for _, name := range []string{"phone", "ntfy", "gotify", "telegram", "discord", "slack", "hook", "script", "log", "screen"} {
		code, out, errOut := h.crier("test-notify", name)
		if code != 0 || !strings.Contains(out, name+" (") || !strings.Contains(out, "sent") {
			t.Errorf("test-notify %s: exit %d\n%s%s", name, code, out, errOut)
		}
	}
	counts := map[string]int{
		"pushover": len(push.Messages()), "ntfy": len(ntfy.Messages()), "gotify": len(gotify.Messages()),
		"telegram": len(telegram.Messages()), "discord": len(discord.Messages()), "slack": len(slack.Messages()),
		"webhook": len(hook.Received()),
	}
	for svc, n := range counts {
		if n != 1 {
			t.Errorf("%s received %d messages, want 1", svc, n)
		}
	}
	if b, err := os.ReadFile(got); err != nil || !strings.Contains(string(b), `"kind":"test"`) {
		t.Errorf("exec script got %q (%v)", b, err)
	}
	if b, err := os.ReadFile(filepath.Join(dir, "state", "log.jsonl")); err != nil || !strings.Contains(string(b), "crier test notification") {
		t.Errorf("jsonl got %q (%v)", b, err)
	}

	// A failure is reported with its class and a non-zero exit.
	gotify.Fail(servicefake.Fault{Status: 401})
	code, _, errOut := h.crier("test-notify", "gotify")
	if code != 1 || !strings.Contains(errOut, "permanent failure") {
		t.Errorf("failing gotify: exit %d, %q", code, errOut)
	}
	if code, _, errOut := h.crier("test-notify", "nope"); code != 1 || !strings.Contains(errOut, `no notifier named "nope"`) {
		t.Errorf("unknown notifier: exit %d, %q", code, errOut)
	}

	// Email goes to a real SMTP server, in a subtest of its own so that
	// where mailpit is not installed only this part is skipped.
	t.Run("email", func(t *testing.T) {
		m := servicefake.StartMailpit(t)
		dir := t.TempDir()
		h := &harness{t: t, dir: dir, config: filepath.Join(dir, "config.yaml"), env: map[string]string{}}
		writeConfig(t, h.config, fmt.Sprintf(`state_dir: %s
notifiers:
  - {name: mail, type: email, host: %s, port: %s, tls: none, from: "crier <crier@example.com>", to: ["Ann <ann@example.org>"]}
feeds:
  - url: https://example.org/feed
`, filepath.Join(dir, "state"), m.Host, m.SMTPPort))

		code, out, errOut := h.crier("test-notify", "mail")
		if code != 0 || !strings.Contains(out, "mail (email): sent") {
			t.Fatalf("test-notify mail: exit %d\n%s%s", code, out, errOut)
		}
		msg := m.Only(t, "crier test")
		if msg.Subject != "crier test" || len(msg.To) != 1 || msg.To[0].Address != "ann@example.org" ||
			!strings.Contains(msg.Text, "notifier mail works") {
			t.Errorf("subject %q to %+v text %q", msg.Subject, msg.To, msg.Text)
		}

		// A refusal by the server is reported as retryable, and nothing
		// more is stored.
		m.Chaos(t, `{"Recipient":{"ErrorCode":451,"Probability":100}}`)
		code, _, errOut = h.crier("test-notify", "mail")
		if code != 1 || !strings.Contains(errOut, "temporary failure") {
			t.Errorf("refused mail: exit %d, %q", code, errOut)
		}
		m.Only(t, "crier test")
	})
}
