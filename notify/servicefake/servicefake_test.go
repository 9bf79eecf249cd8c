package servicefake

import (
	"net/http"
	"strings"
	"testing"
)

func post(t *testing.T, client *http.Client, url, ctype, body string, header ...string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ctype)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestFakesRefuseWhatTheServicesRefuse: the fakes are only worth their
// checks, so each check must bite.
func TestFakesRefuseWhatTheServicesRefuse(t *testing.T) {
	t.Parallel()
	const js = "application/json"
	tg := NewTelegram()
	defer tg.Close()
	tgURL := tg.URL() + "/bot" + TelegramToken + "/sendMessage"
	tgMsg := func(text string) string {
		return `{"chat_id":"` + TelegramChatID + `","parse_mode":"HTML","text":` + quote(text) + `}`
	}
	dc := NewDiscord()
	defer dc.Close()
	sl := NewSlack()
	defer sl.Close()
	nt := NewNtfy(true)
	defer nt.Close()
	gt := NewGotify()
	defer gt.Close()

	tests := []struct {
		name   string
		send   func() int
		status int
	}{
		{"telegram ok", func() int {
			return post(t, tg.Client(), tgURL, js, tgMsg("<b>a &amp; b</b>\n<a href=\"https://x.test/?a=1&amp;b=2\">x</a>"))
		}, 200},
		{"telegram raw script", func() int { return post(t, tg.Client(), tgURL, js, tgMsg("<script>alert(1)</script>")) }, 400},
		{"telegram bare <", func() int { return post(t, tg.Client(), tgURL, js, tgMsg("1 < 2")) }, 400},
		{"telegram bare &", func() int { return post(t, tg.Client(), tgURL, js, tgMsg("a & b")) }, 400},
		{"telegram unclosed", func() int { return post(t, tg.Client(), tgURL, js, tgMsg("<b>a")) }, 400},
		{"telegram too long", func() int { return post(t, tg.Client(), tgURL, js, tgMsg(strings.Repeat("😀", 2049))) }, 400},
		{"telegram max", func() int { return post(t, tg.Client(), tgURL, js, tgMsg(strings.Repeat("😀", 2048))) }, 200},
		{"telegram wrong token", func() int { return post(t, tg.Client(), tg.URL()+"/bot1:x/sendMessage", js, tgMsg("a")) }, 401},
		{"discord ok", func() int {
			return post(t, dc.Client(), dc.WebhookURL(), js, `{"embeds":[{"title":"t"}],"allowed_mentions":{"parse":[]}}`)
		}, 204},
		{"discord long title", func() int {
			return post(t, dc.Client(), dc.WebhookURL(), js, `{"embeds":[{"title":"`+strings.Repeat("a", 257)+`"}]}`)
		}, 400},
		{"discord long content", func() int {
			return post(t, dc.Client(), dc.WebhookURL(), js, `{"content":"`+strings.Repeat("a", 2001)+`"}`)
		}, 400},
		{"discord bad url", func() int {
			return post(t, dc.Client(), dc.WebhookURL(), js, `{"embeds":[{"title":"t","url":"javascript:x"}]}`)
		}, 400},
		{"discord empty", func() int { return post(t, dc.Client(), dc.WebhookURL(), js, `{}`) }, 400},
		{"slack ok", func() int { return post(t, sl.Client(), sl.WebhookURL(), js, `{"text":"hi"}`) }, 200},
		{"slack no text", func() int { return post(t, sl.Client(), sl.WebhookURL(), js, `{"text":" "}`) }, 400},
		{"slack long block", func() int {
			return post(t, sl.Client(), sl.WebhookURL(), js, `{"text":"a","blocks":[{"type":"section","text":{"type":"mrkdwn","text":"`+strings.Repeat("a", 3001)+`"}}]}`)
		}, 400},
		{"ntfy no auth", func() int { return post(t, nt.Client(), nt.URL(), js, `{"topic":"t","message":"m"}`) }, 401},
		{"ntfy bad priority", func() int {
			return post(t, nt.Client(), nt.URL(), js, `{"topic":"t","message":"m","priority":6}`, "Authorization", "Bearer "+NtfyToken)
		}, 400},
		{"ntfy too big", func() int {
			return post(t, nt.Client(), nt.URL(), js, `{"topic":"t","message":"`+strings.Repeat("é", 2049)+`"}`, "Authorization", "Bearer "+NtfyToken)
		}, 413},
		{"ntfy invalid utf-8", func() int {
			return post(t, nt.Client(), nt.URL(), js, "{\"topic\":\"t\",\"message\":\"\xff\"}", "Authorization", "Bearer "+NtfyToken)
		}, 400},
		{"gotify no message", func() int {
			return post(t, gt.Client(), gt.URL()+"/message", js, `{"title":"t"}`, "X-Gotify-Key", GotifyToken)
		}, 400},
		{"gotify form", func() int {
			return post(t, gt.Client(), gt.URL()+"/message", "text/plain", `{"message":"m"}`, "X-Gotify-Key", GotifyToken)
		}, 400},
		{"gotify bad extras", func() int {
			return post(t, gt.Client(), gt.URL()+"/message", js, `{"message":"m","extras":{"nonamespace":{}}}`, "X-Gotify-Key", GotifyToken)
		}, 400},
	}
	for _, tt := range tests {
		if got := tt.send(); got != tt.status {
			t.Errorf("%s: status %d, want %d", tt.name, got, tt.status)
		}
	}
}

func TestDiscordPingsWithoutAllowedMentions(t *testing.T) {
	t.Parallel()
	dc := NewDiscord()
	defer dc.Close()
	post(t, dc.Client(), dc.WebhookURL(), "application/json", `{"content":"@everyone <@123>"}`)
	post(t, dc.Client(), dc.WebhookURL(), "application/json", `{"content":"@everyone <@123>","allowed_mentions":{"parse":[]}}`)
	msgs := dc.Messages()
	if len(msgs) != 2 || len(msgs[0].Pings) != 2 || len(msgs[1].Pings) != 0 {
		t.Fatalf("pings: %+v", msgs)
	}
}

func TestSlackParse(t *testing.T) {
	t.Parallel()
	display, links, mentions := parseSlackText("<https://x.test/?a=1&amp;b=2|see &lt;this&gt;> <!channel> &amp; <@U123>")
	if display != "see <this> @channel & @U123" || len(links) != 1 || links[0] != "https://x.test/?a=1&b=2" || len(mentions) != 2 {
		t.Errorf("display %q links %q mentions %q", display, links, mentions)
	}
}

func quote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}
