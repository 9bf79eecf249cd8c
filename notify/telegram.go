package notify

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/crierd/crier"
)

// DefaultTelegramAPI is the Bot API server.
const DefaultTelegramAPI = "https://api.telegram.org"

// telegramMaxText is sendMessage's limit on text after entity parsing,
// counted (like every Bot API length) in UTF-16 code units.
const (
	telegramMaxText     = 4096
	telegramMaxCaption  = 1024 // sendPhoto's caption
	telegramMaxTitle    = 256
	telegramMaxLinkText = 80
)

// Telegram sends messages through a bot (Bot API sendMessage, HTML parse
// mode: the title in bold, the link as an anchor). An item with a picture
// goes as sendPhoto with the same text as its caption, cut to the
// caption's shorter limit; Telegram fetches the picture itself, and when
// it cannot (a 400 about the photo) the text goes as sendMessage.
type Telegram struct {
	service
	endpoint    string // …/bot<token>/sendMessage: holds the token, never log it
	photoURL    string // …/bot<token>/sendPhoto
	chatID      string
	linkPreview bool
}

// NewTelegram builds a Telegram notifier. client may be nil.
func NewTelegram(cfg crier.NotifierConfig, client *http.Client) (*Telegram, error) {
	root, err := svcURL(cfg, "api_url", DefaultTelegramAPI)
	if err != nil {
		return nil, err
	}
	token, err := svcRequired(cfg, "token")
	if err != nil {
		return nil, err
	}
	if strings.ContainsAny(token, "/?# ") {
		return nil, fmt.Errorf("notifier %s: option token does not look like a bot token", cfg.Name)
	}
	chatID, err := svcRequired(cfg, "chat_id")
	if err != nil {
		return nil, err
	}
	preview, err := svcBool(cfg, "link_preview", false)
	if err != nil {
		return nil, err
	}
	svc, err := newService(cfg, client, "telegram", 10*time.Second)
	if err != nil {
		return nil, err
	}
	bot := strings.TrimRight(root, "/") + "/bot" + token
	return &Telegram{
		service:     svc,
		endpoint:    bot + "/sendMessage",
		photoURL:    bot + "/sendPhoto",
		chatID:      chatID,
		linkPreview: preview,
	}, nil
}

type telegramPhoto struct {
	ChatID    string `json:"chat_id"`
	Photo     string `json:"photo"` // a URL Telegram downloads
	Caption   string `json:"caption"`
	ParseMode string `json:"parse_mode"`
}

type telegramMessage struct {
	ChatID             string `json:"chat_id"`
	Text               string `json:"text"`
	ParseMode          string `json:"parse_mode"`
	LinkPreviewOptions struct {
		IsDisabled bool `json:"is_disabled"`
	} `json:"link_preview_options"`
}

// telegramReply is every Bot API answer; parameters explain some errors.
type telegramReply struct {
	OK          bool   `json:"ok"`
	ErrorCode   int    `json:"error_code"`
	Description string `json:"description"`
	Parameters  struct {
		RetryAfter      int   `json:"retry_after"`
		MigrateToChatID int64 `json:"migrate_to_chat_id"`
	} `json:"parameters"`
}

// telegramEscape escapes what the HTML parse mode requires (&, <, >) and
// the quote, so the same function serves attribute values.
var telegramEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;", `"`, "&quot;").Replace

// telegramText builds the HTML text. The plain pieces are cut to size
// before escaping, so the visible text (what Telegram counts) stays within
// the limit however many entities the escaping adds.
func telegramText(r Rendered, link string, limit int) string {
	budget := limit
	title := truncateUTF16(strings.TrimSpace(r.Title), telegramMaxTitle)
	var linkText string
	if link != "" {
		linkText = truncateUTF16(link, telegramMaxLinkText)
		budget -= utf16Len(linkText) + 1
	}
	if title != "" {
		budget -= utf16Len(title) + 1
	}
	msg := truncateUTF16(strings.TrimSpace(r.Message), max(budget, 0))
	var parts []string
	if title != "" {
		parts = append(parts, "<b>"+telegramEscape(title)+"</b>")
	}
	if msg != "" {
		parts = append(parts, telegramEscape(msg))
	}
	if link != "" {
		parts = append(parts, `<a href="`+telegramEscape(link)+`">`+telegramEscape(linkText)+"</a>")
	}
	return strings.Join(parts, "\n")
}

// Send posts n to the chat.
func (t *Telegram) Send(ctx context.Context, n crier.Notification) error {
	text, err := t.render.render(n)
	if err != nil {
		return err
	}
	if img := t.image(n); img != "" {
		photo := telegramPhoto{ChatID: t.chatID, Photo: img, ParseMode: "HTML",
			Caption: telegramText(text, webLink(n.Link), telegramMaxCaption)}
		err := t.call(ctx, t.photoURL, photo)
		var se *SendError
		if err == nil || !errors.As(err, &se) || !se.Permanent || !strings.Contains(err.Error(), "HTTP 400") {
			return err
		}
		// A 400 to sendPhoto is about the picture (Telegram could not
		// fetch it, or it is no picture): the text must still arrive.
	}
	msg := telegramMessage{ChatID: t.chatID, Text: telegramText(text, webLink(n.Link), telegramMaxText), ParseMode: "HTML"}
	msg.LinkPreviewOptions.IsDisabled = !t.linkPreview
	if msg.Text == "" {
		msg.Text = "(empty)" // the API refuses empty text
	}
	return t.call(ctx, t.endpoint, msg)
}

// call posts v to a Bot API method and judges the answer.
func (t *Telegram) call(ctx context.Context, method string, v any) error {
	body, err := t.marshal(v)
	if err != nil {
		return err
	}
	// Not post: the Bot API can refuse under a 200 (ok:false).
	reply, err := t.exchange(ctx, http.MethodPost, method, nil, body)
	if err != nil {
		return err
	}
	var tr telegramReply
	jerr := json.Unmarshal(reply.Body, &tr)
	if reply.Status >= 200 && reply.Status < 300 && (jerr != nil || tr.OK) {
		return nil
	}
	detail := t.snippet(reply.Body)
	retry := RetryAfter(reply.Header, time.Now())
	if jerr == nil && tr.Description != "" {
		detail = t.secrets.scrub(tr.Description)
		if tr.Parameters.RetryAfter > 0 {
			retry = time.Duration(tr.Parameters.RetryAfter) * time.Second
		}
		if tr.Parameters.MigrateToChatID != 0 {
			detail += fmt.Sprintf(" (the group is now a supergroup: set chat_id to %d)", tr.Parameters.MigrateToChatID)
		}
	}
	status := reply.Status
	if status >= 200 && status < 300 {
		status = tr.ErrorCode // ok:false under a 200: trust error_code
	}
	return HTTPStatusError(t.what, status, detail, retry)
}
