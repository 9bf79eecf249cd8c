package servicefake

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// Telegram credentials the fake accepts.
const (
	TelegramToken  = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw0"
	TelegramChatID = "-1001234567890"
)

// TelegramMaxText is sendMessage's limit on text after entity parsing, in
// UTF-16 code units; TelegramMaxCaption is sendPhoto's on its caption.
const (
	TelegramMaxText    = 4096
	TelegramMaxCaption = 1024
)

// TelegramMessage is one accepted sendMessage.
type TelegramMessage struct {
	ChatID              string
	Text                string // as sent (HTML when ParseMode is "HTML")
	Plain               string // the visible text after entity parsing
	Links               []string
	Bold                []string // text inside <b>/<strong>
	ParseMode           string
	LinkPreviewDisabled bool
	// Photo is the picture URL of a sendPhoto, whose caption is Text;
	// "" for a sendMessage.
	Photo string
}

// Telegram is a fake Bot API server (POST /bot<token>/sendMessage).
type Telegram struct {
	base
	mu   sync.Mutex
	msgs []TelegramMessage
}

// NewTelegram starts a fake Bot API server.
func NewTelegram() *Telegram {
	f := &Telegram{}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// Messages returns the accepted messages.
func (f *Telegram) Messages() []TelegramMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]TelegramMessage(nil), f.msgs...)
}

// telegramError writes the Bot API's error form; retryAfter > 0 adds
// parameters.retry_after as a 429 does.
func telegramError(w http.ResponseWriter, status int, desc string, retryAfter time.Duration) {
	out := map[string]any{"ok": false, "error_code": status, "description": desc}
	if retryAfter > 0 {
		out["parameters"] = map[string]any{"retry_after": int(retryAfter.Seconds() + 0.999)}
	}
	b, _ := json.Marshal(out)
	writeJSONBytes(w, status, b)
}

func (f *Telegram) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		msg := fault.Message
		switch {
		case msg != "":
		case fault.Status == http.StatusTooManyRequests:
			msg = fmt.Sprintf("Too Many Requests: retry after %s", retrySeconds(fault.RetryAfter))
		case fault.Status == http.StatusForbidden:
			msg = "Forbidden: bot was kicked from the group chat"
		default:
			msg = http.StatusText(fault.Status)
		}
		telegramError(w, fault.Status, msg, fault.RetryAfter)
		return
	}
	token, method, ok := strings.Cut(strings.TrimPrefix(r.URL.Path, "/bot"), "/")
	photo := strings.EqualFold(method, "sendPhoto")
	if !ok || !strings.HasPrefix(r.URL.Path, "/bot") || !strings.EqualFold(method, "sendMessage") && !photo {
		telegramError(w, http.StatusNotFound, f.reject("Not Found: %s", r.URL.Path), 0)
		return
	}
	if token != TelegramToken {
		telegramError(w, http.StatusUnauthorized, f.reject("Unauthorized"), 0)
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: the fake takes JSON only, got %q", mt), 0)
		return
	}
	var in struct {
		ChatID             json.RawMessage `json:"chat_id"`
		Text               string          `json:"text"`
		Photo              string          `json:"photo"`
		Caption            string          `json:"caption"`
		ParseMode          string          `json:"parse_mode"`
		LinkPreviewOptions *struct {
			IsDisabled bool `json:"is_disabled"`
		} `json:"link_preview_options"`
	}
	body, err := readBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: %v", err), 0)
		return
	}
	chat := strings.Trim(string(bytes.TrimSpace(in.ChatID)), `"`)
	if chat != TelegramChatID {
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: chat not found (%s)", chat), 0)
		return
	}
	limit, what := TelegramMaxText, "message text"
	if photo {
		if in.Photo == "" {
			telegramError(w, http.StatusBadRequest, f.reject("Bad Request: there is no photo in the request"), 0)
			return
		}
		if problem := telegramFetchPhoto(r, in.Photo); problem != "" {
			// Telegram downloads the URL itself before it answers.
			telegramError(w, http.StatusBadRequest, f.reject("Bad Request: %s", problem), 0)
			return
		}
		in.Text, limit, what = in.Caption, TelegramMaxCaption, "caption"
	}
	m := TelegramMessage{ChatID: chat, Text: in.Text, Plain: in.Text, ParseMode: in.ParseMode, Photo: in.Photo}
	if in.LinkPreviewOptions != nil {
		m.LinkPreviewDisabled = in.LinkPreviewOptions.IsDisabled
	}
	switch in.ParseMode {
	case "":
	case "HTML":
		if m.Plain, m.Links, m.Bold, err = parseTelegramHTML(in.Text); err != nil {
			telegramError(w, http.StatusBadRequest, f.reject("Bad Request: can't parse entities: %v", err), 0)
			return
		}
	default:
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: the fake only parses HTML, not %q", in.ParseMode), 0)
		return
	}
	switch n := UTF16Len(strings.TrimSpace(m.Plain)); {
	case n == 0 && !photo:
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: %s is empty", what), 0)
		return
	case n > limit:
		telegramError(w, http.StatusBadRequest, f.reject("Bad Request: %s is too long (%d)", what, n), 0)
		return
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	id := len(f.msgs)
	f.mu.Unlock()
	chatID, _ := strconv.ParseInt(chat, 10, 64)
	b, _ := json.Marshal(map[string]any{"ok": true, "result": map[string]any{
		"message_id": id, "date": time.Now().Unix(), "chat": map[string]any{"id": chatID, "type": "supergroup"}, "text": m.Plain,
	}})
	writeJSONBytes(w, http.StatusOK, b)
}

// telegramFetchPhoto downloads a photo URL as the Bot API does, returning
// its complaint, "" when the photo would be sent.
func telegramFetchPhoto(r *http.Request, photo string) string {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, photo, nil)
	if err != nil {
		return "wrong file identifier/HTTP URL specified"
	}
	resp, err := fetchPicture(req)
	if err != nil {
		return "failed to get HTTP URL content"
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 5<<20))
	if resp.StatusCode != http.StatusOK {
		return "failed to get HTTP URL content"
	}
	if mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type")); !strings.HasPrefix(mt, "image/") {
		return "wrong type of the web page content"
	}
	return ""
}

// telegramTags are the tags the HTML parse mode supports.
var telegramTags = map[string]bool{
	"b": true, "strong": true, "i": true, "em": true, "u": true, "ins": true, "s": true, "strike": true,
	"del": true, "span": true, "tg-spoiler": true, "a": true, "code": true, "pre": true, "blockquote": true,
	"tg-emoji": true,
}

// parseTelegramHTML parses text as the Bot API does in HTML mode: only the
// supported tags, properly nested; & only as &lt; &gt; &amp; &quot; or a
// numeric entity; a bare < is an error. It returns the visible text, the
// hrefs of links and the texts of bold runs.
func parseTelegramHTML(s string) (plain string, links, bold []string, err error) {
	var out strings.Builder
	type open struct {
		name  string
		start int
	}
	var stack []open
	for i := 0; i < len(s); {
		switch c := s[i]; c {
		case '&':
			r, n, ok := decodeTelegramEntity(s[i:])
			if !ok {
				return "", nil, nil, fmt.Errorf("unsupported HTML entity at byte offset %d", i)
			}
			out.WriteRune(r)
			i += n
		case '<':
			end := strings.IndexByte(s[i:], '>')
			if end < 0 {
				return "", nil, nil, fmt.Errorf("can't find end of the tag at byte offset %d", i)
			}
			tag := s[i+1 : i+end]
			if name, ok := strings.CutPrefix(tag, "/"); ok {
				name = strings.ToLower(strings.TrimSpace(name))
				if len(stack) == 0 || stack[len(stack)-1].name != name {
					return "", nil, nil, fmt.Errorf("unexpected end tag %q at byte offset %d", name, i)
				}
				top := stack[len(stack)-1]
				stack = stack[:len(stack)-1]
				if name == "b" || name == "strong" {
					bold = append(bold, out.String()[top.start:])
				}
			} else {
				name, attrs, _ := strings.Cut(tag, " ")
				name = strings.ToLower(name)
				if !telegramTags[name] {
					return "", nil, nil, fmt.Errorf("unsupported start tag %q at byte offset %d", name, i)
				}
				if name == "a" {
					href, ok := telegramHref(attrs)
					if !ok {
						return "", nil, nil, fmt.Errorf("<a> without a well-formed href at byte offset %d", i)
					}
					links = append(links, href)
				}
				stack = append(stack, open{name, out.Len()})
			}
			i += end + 1
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			out.WriteRune(r)
			i += n
		}
	}
	if len(stack) > 0 {
		return "", nil, nil, fmt.Errorf("unclosed start tag %q", stack[len(stack)-1].name)
	}
	return out.String(), links, bold, nil
}

func decodeTelegramEntity(s string) (rune, int, bool) {
	semi := strings.IndexByte(s, ';')
	if semi < 0 || semi > 10 {
		return 0, 0, false
	}
	name := s[1:semi]
	switch name {
	case "lt":
		return '<', semi + 1, true
	case "gt":
		return '>', semi + 1, true
	case "amp":
		return '&', semi + 1, true
	case "quot":
		return '"', semi + 1, true
	}
	if num, ok := strings.CutPrefix(name, "#"); ok {
		base := 10
		if h, ok := strings.CutPrefix(strings.ToLower(num), "x"); ok {
			num, base = h, 16
		}
		v, err := strconv.ParseUint(num, base, 32)
		if err == nil && utf8.ValidRune(rune(v)) {
			return rune(v), semi + 1, true
		}
	}
	return 0, 0, false
}

// telegramHref reads href="…" from a tag's attributes and decodes it.
func telegramHref(attrs string) (string, bool) {
	attrs = strings.TrimSpace(attrs)
	v, ok := strings.CutPrefix(attrs, "href=")
	if !ok || len(v) < 2 || (v[0] != '"' && v[0] != '\'') || v[len(v)-1] != v[0] {
		return "", false
	}
	raw := v[1 : len(v)-1]
	if strings.ContainsAny(raw, `<>"`) {
		return "", false
	}
	var out strings.Builder
	for i := 0; i < len(raw); {
		if raw[i] == '&' {
			r, n, ok := decodeTelegramEntity(raw[i:])
			if !ok {
				return "", false
			}
			out.WriteRune(r)
			i += n
			continue
		}
		out.WriteByte(raw[i])
		i++
	}
	return out.String(), true
}
