package servicefake

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Discord's limits on an executed webhook message. The fake counts
// characters as UTF-16 code units, the stricter reading.
const (
	DiscordMaxContent     = 2000
	DiscordMaxEmbeds      = 10
	DiscordMaxTitle       = 256
	DiscordMaxDescription = 4096
	DiscordMaxEmbedTotal  = 6000
)

// DiscordEmbed is the part of an embed crier uses.
type DiscordEmbed struct {
	Title       string             `json:"title"`
	URL         string             `json:"url"`
	Description string             `json:"description"`
	Timestamp   string             `json:"timestamp"`
	Image       *DiscordEmbedImage `json:"image,omitempty"`
}

// DiscordEmbedImage is an embed's picture, given by URL.
type DiscordEmbedImage struct {
	URL string `json:"url"`
}

// DiscordMessage is one accepted webhook execution.
type DiscordMessage struct {
	Content string
	Embeds  []DiscordEmbed
	Wait    bool // ?wait=true: the fake answered with the message
	// AllowedMentions is the parse list sent; nil when the field was
	// missing, which means Discord parses every mention in content.
	AllowedMentions []string
	// Pings lists the mentions that would notify someone (@everyone,
	// @here, <@id>, <@&id>) given content and allowed_mentions. Mentions
	// inside embeds never ping.
	Pings []string
}

var discordMentionRe = regexp.MustCompile(`@everyone|@here|<@!?\d+>|<@&\d+>`)

// Discord is a fake Discord webhook (POST /api/webhooks/{id}/{token}).
type Discord struct {
	base
	mu   sync.Mutex
	msgs []DiscordMessage
}

const (
	discordWebhookID    = "1234567890123456789"
	discordWebhookToken = "Zx9yW8vU7tS6rQ5pO4nM3lK2jI1hG0fE_dC-bA"
)

// NewDiscord starts a fake Discord webhook.
func NewDiscord() *Discord {
	f := &Discord{}
	f.start(http.HandlerFunc(f.serve))
	return f
}

// WebhookURL is the URL to configure as webhook_url.
func (f *Discord) WebhookURL() string {
	return f.URL() + "/api/webhooks/" + discordWebhookID + "/" + discordWebhookToken
}

// Messages returns the accepted messages.
func (f *Discord) Messages() []DiscordMessage {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]DiscordMessage(nil), f.msgs...)
}

func discordError(w http.ResponseWriter, status, code int, msg string) {
	b, _ := json.Marshal(map[string]any{"message": msg, "code": code})
	writeJSONBytes(w, status, b)
}

func (f *Discord) serve(w http.ResponseWriter, r *http.Request) {
	if fault, ok := f.next(r); ok {
		if fault.Status == http.StatusTooManyRequests {
			// Discord sends both: a whole-second header and a precise body.
			secs := fault.RetryAfter.Seconds()
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
			w.Header().Set("X-RateLimit-Limit", "5")
			w.Header().Set("X-RateLimit-Remaining", "0")
			w.Header().Set("X-RateLimit-Reset-After", strconv.FormatFloat(secs, 'f', 3, 64))
			w.Header().Set("X-RateLimit-Scope", "shared")
			b, _ := json.Marshal(map[string]any{"message": "You are being rate limited.", "retry_after": secs, "global": false})
			writeJSONBytes(w, fault.Status, b)
			return
		}
		msg := fault.Message
		if msg == "" {
			msg = http.StatusText(fault.Status)
		}
		if fault.RetryAfter > 0 {
			w.Header().Set("Retry-After", retrySeconds(fault.RetryAfter))
		}
		discordError(w, fault.Status, 0, msg)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != "/api/webhooks/"+discordWebhookID+"/"+discordWebhookToken {
		f.reject("unknown webhook %s %s", r.Method, r.URL.Path)
		discordError(w, http.StatusNotFound, 10015, "Unknown Webhook")
		return
	}
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt != "application/json" {
		f.reject("content type %q", mt)
		discordError(w, http.StatusBadRequest, 50006, "Cannot send an empty message")
		return
	}
	var in struct {
		Content         string         `json:"content"`
		Embeds          []DiscordEmbed `json:"embeds"`
		AllowedMentions *struct {
			Parse *[]string `json:"parse"`
		} `json:"allowed_mentions"`
	}
	body, err := readBody(w, r)
	if err == nil {
		err = json.Unmarshal(body, &in)
	}
	if err != nil {
		f.reject("invalid JSON: %v", err)
		discordError(w, http.StatusBadRequest, 50109, "The request body contains invalid JSON.")
		return
	}
	if problem := discordValidate(in.Content, in.Embeds); problem != "" {
		f.reject("%s", problem)
		b, _ := json.Marshal(map[string]any{"code": 50035, "message": "Invalid Form Body", "errors": map[string]any{"_errors": []map[string]string{{"code": "BASE_TYPE_INVALID", "message": problem}}}})
		writeJSONBytes(w, http.StatusBadRequest, b)
		return
	}
	m := DiscordMessage{Content: in.Content, Embeds: in.Embeds, Wait: r.URL.Query().Get("wait") == "true"}
	parse := []string{"users", "roles", "everyone"} // the default when allowed_mentions is absent
	if in.AllowedMentions != nil && in.AllowedMentions.Parse != nil {
		parse = *in.AllowedMentions.Parse
		m.AllowedMentions = append([]string{}, parse...)
	}
	for _, mention := range discordMentionRe.FindAllString(in.Content, -1) {
		kind := "users"
		switch {
		case mention == "@everyone" || mention == "@here":
			kind = "everyone"
		case strings.HasPrefix(mention, "<@&"):
			kind = "roles"
		}
		for _, p := range parse {
			if p == kind {
				m.Pings = append(m.Pings, mention)
			}
		}
	}
	f.mu.Lock()
	f.msgs = append(f.msgs, m)
	id := len(f.msgs)
	f.mu.Unlock()
	if !m.Wait {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	b, _ := json.Marshal(map[string]any{
		"id": fmt.Sprint(1100000000000000000 + id), "type": 0, "content": m.Content, "embeds": m.Embeds,
		"channel_id": "1000000000000000001", "webhook_id": discordWebhookID, "timestamp": time.Now().UTC().Format(time.RFC3339Nano),
	})
	writeJSONBytes(w, http.StatusOK, b)
}

// discordValidate applies Discord's documented message and embed limits.
func discordValidate(content string, embeds []DiscordEmbed) string {
	if strings.TrimSpace(content) == "" && len(embeds) == 0 {
		return "Cannot send an empty message"
	}
	if n := UTF16Len(content); n > DiscordMaxContent {
		return fmt.Sprintf("content: Must be %d or fewer in length (%d)", DiscordMaxContent, n)
	}
	if len(embeds) > DiscordMaxEmbeds {
		return fmt.Sprintf("embeds: Must be %d or fewer in length", DiscordMaxEmbeds)
	}
	total := 0
	for i, e := range embeds {
		if n := UTF16Len(e.Title); n > DiscordMaxTitle {
			return fmt.Sprintf("embeds.%d.title: Must be %d or fewer in length (%d)", i, DiscordMaxTitle, n)
		}
		if n := UTF16Len(e.Description); n > DiscordMaxDescription {
			return fmt.Sprintf("embeds.%d.description: Must be %d or fewer in length (%d)", i, DiscordMaxDescription, n)
		}
		if e.Title == "" && e.Description == "" && e.URL == "" {
			return fmt.Sprintf("embeds.%d: Cannot send an empty embed", i)
		}
		if e.URL != "" {
			u, err := url.Parse(e.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return fmt.Sprintf("embeds.%d.url: Not a well formed URL", i)
			}
		}
		if e.Image != nil {
			// Discord takes http(s) and attachment:// for an embed image.
			u, err := url.Parse(e.Image.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "attachment") || u.Host == "" {
				return fmt.Sprintf("embeds.%d.image.url: Not a well formed URL", i)
			}
		}
		if e.Timestamp != "" {
			if _, err := time.Parse(time.RFC3339, e.Timestamp); err != nil {
				return fmt.Sprintf("embeds.%d.timestamp: Could not parse %s", i, e.Timestamp)
			}
		}
		total += UTF16Len(e.Title) + UTF16Len(e.Description)
	}
	if total > DiscordMaxEmbedTotal {
		return fmt.Sprintf("embeds: Embed size exceeds maximum size of %d", DiscordMaxEmbedTotal)
	}
	return ""
}
