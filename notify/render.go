package notify

import (
	"fmt"
	"net/url"
	"strings"
	"text/template"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/crierd/crier"
)

// Rendered is the text of a notification for one notifier, before the
// service's own limits and escaping are applied.
type Rendered struct {
	Title   string
	Message string
}

// renderer turns notifications into text for one notifier.
//
// Without templates the text is:
//
//	item:    title = feed name; message = headline, a newline, a summary excerpt
//	summary: title = "N new headlines from FEED"; message = the first titles,
//	         one per line, then "and N more" when Count exceeds the list
//	test:    title = "crier test"; message = the notification's title/summary
//	alert:   title = "crier: FEED" (or "crier"); message = title, newline, summary
//
// An item without a title is announced by a summary excerpt, else its link.
//
// title_template and message_template are text/template templates (with
// crier.TemplateFuncs: lower, upper, trim, truncate, join, date, html,
// json) executed over the crier.Notification. The fields are:
//
//	.Kind        "item", "summary", "test" or "alert"
//	.Feed        feed name          .FeedURL  feed URL (credentials as ***)
//	.FeedLink    the feed's site    .ItemID   the item's key
//	.Title       headline           .Link     the item's link
//	.Summary     plain-text summary .Published  time.Time (zero when unknown)
//	.Categories  []string           .Priority *int (-2..2), nil when unset
//	.Image       the item's picture URL, "" for none
//	.Count       items in a summary .Items    []{.Title, .Link} of a summary
//	.QueuedAt    time.Time
//
// A template that fails to execute makes the send fail permanently (it
// would fail the same way on every retry). A template whose output is
// blank falls back to the default text, so that a conditional template
// never sends an empty message. Control characters (except newline and
// tab), bidirectional overrides and invalid UTF-8 are removed from the
// result: they spoof or break lock screens and some services reject them.
type renderer struct {
	name    string
	title   *template.Template // nil: default text
	message *template.Template
}

// excerptRunes is how much of an item's summary the default message shows.
const excerptRunes = 300

// summaryListMax is how many headlines a default summary message lists.
const summaryListMax = 20

func newRenderer(cfg crier.NotifierConfig) (*renderer, error) {
	r := &renderer{name: cfg.Name}
	var err error
	if r.title, err = parseNotifierTemplate("title_template", cfg.TitleTemplate); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", cfg.Name, err)
	}
	if r.message, err = parseNotifierTemplate("message_template", cfg.MessageTemplate); err != nil {
		return nil, fmt.Errorf("notifier %s: %w", cfg.Name, err)
	}
	return r, nil
}

func parseNotifierTemplate(name, text string) (*template.Template, error) {
	if strings.TrimSpace(text) == "" {
		return nil, nil
	}
	t, err := template.New(name).Funcs(crier.TemplateFuncs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// shown is n as notifiers may show it: the feed URL with its credentials
// redacted (crier.RedactURL), as everywhere else crier shows it. Only
// fetching needs them, and what notifiers send (a message, a webhook body,
// a jsonl file) is read by more people than the config is.
func shown(n crier.Notification) crier.Notification {
	n.FeedURL = crier.RedactURL(n.FeedURL)
	return n
}

// render returns the notification's title and message for this notifier.
func (r *renderer) render(n crier.Notification) (Rendered, error) {
	n = shown(n)
	out := defaultText(n)
	for _, f := range []struct {
		t   *template.Template
		dst *string
	}{{r.title, &out.Title}, {r.message, &out.Message}} {
		if f.t == nil {
			continue
		}
		var b strings.Builder
		if err := f.t.Execute(&b, n); err != nil {
			return Rendered{}, Permanent(fmt.Errorf("notifier %s: template: %w", r.name, err))
		}
		if s := b.String(); strings.TrimSpace(s) != "" {
			*f.dst = s
		}
	}
	out.Title = sanitize(out.Title)
	out.Message = sanitize(out.Message)
	return out, nil
}

func defaultText(n crier.Notification) Rendered {
	switch n.Kind {
	case crier.KindSummary:
		return Rendered{Title: renderSummaryTitle(n), Message: strings.Join(renderSummaryLines(n, summaryListMax), "\n")}
	case crier.KindTest:
		msg := joinNonEmpty("\n", collapse(n.Title), excerpt(n.Summary))
		if msg == "" {
			msg = "This is a test notification from crier."
		}
		return Rendered{Title: "crier test", Message: msg}
	case crier.KindAlert:
		title := "crier"
		if n.Feed != "" {
			title = "crier: " + n.Feed
		}
		return Rendered{Title: title, Message: joinNonEmpty("\n", collapse(n.Title), strings.TrimSpace(n.Summary))}
	}
	head := renderHeadline(n)
	msg := head
	if collapse(n.Title) != "" {
		msg = joinNonEmpty("\n", head, excerpt(n.Summary))
	}
	return Rendered{Title: n.Feed, Message: msg}
}

// renderHeadline is what an item is about: its title, else a summary
// excerpt, else its link.
func renderHeadline(n crier.Notification) string {
	if t := collapse(n.Title); t != "" {
		return t
	}
	if s := excerpt(n.Summary); s != "" {
		return s
	}
	return strings.TrimSpace(n.Link)
}

func renderSummaryTitle(n crier.Notification) string {
	count := max(n.Count, len(n.Items))
	if count == 1 {
		return "1 new headline from " + n.Feed
	}
	return fmt.Sprintf("%d new headlines from %s", count, n.Feed)
}

// renderSummaryLines lists up to limit headlines, then "and N more" for
// the rest of Count.
func renderSummaryLines(n crier.Notification, limit int) []string {
	var lines []string
	shown := 0
	for _, h := range n.Items {
		if shown == limit {
			break
		}
		t := collapse(h.Title)
		if t == "" {
			t = strings.TrimSpace(h.Link)
		}
		if t == "" {
			continue
		}
		lines = append(lines, t)
		shown++
	}
	if rest := max(n.Count, len(n.Items)) - shown; rest > 0 && (shown > 0 || n.Count > 0) {
		lines = append(lines, fmt.Sprintf("and %d more", rest))
	}
	return lines
}

func excerpt(s string) string { return crier.Truncate(collapse(s), excerptRunes) }

// collapse turns every whitespace run into one space.
func collapse(s string) string { return strings.Join(strings.Fields(s), " ") }

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if p != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}

// sanitize makes text safe to hand to any service: valid UTF-8, no
// control characters but newline and tab, no bidirectional overrides or
// isolates (U+202A–U+202E, U+2066–U+2069) that can disguise a headline.
func sanitize(s string) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	return strings.Map(func(r rune) rune {
		switch {
		case r == '\n' || r == '\t':
			return r
		case r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			return -1
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, s)
}

// effectivePriority is the notification's priority, else the notifier's,
// clamped to crier's -2..2.
func effectivePriority(cfg crier.NotifierConfig, n crier.Notification) int {
	p := cfg.Priority
	if n.Priority != nil {
		p = *n.Priority
	}
	return min(max(p, -2), 2)
}

// truncateUTF16 shortens s to at most max UTF-16 code units, ending with an
// ellipsis when it cut something. Discord and Telegram count lengths the
// way JavaScript does, so an emoji costs two.
func truncateUTF16(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if utf16Len(s) <= max {
		return s
	}
	if max <= 0 {
		return ""
	}
	used := 0
	for i, r := range s {
		w := utf16.RuneLen(r)
		if used+w > max-1 {
			return strings.TrimRight(s[:i], " \t\n") + "…"
		}
		used += w
	}
	return s
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

// truncateBytes shortens s to at most max bytes without splitting a
// character, ending with an ellipsis when it cut something.
func truncateBytes(s string, max int) string {
	s = strings.ToValidUTF8(s, "\uFFFD")
	if len(s) <= max {
		return s
	}
	const ell = "…"
	if max < len(ell) {
		return ""
	}
	cut := max - len(ell)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return strings.TrimRight(s[:cut], " \t\n") + ell
}

// webLink returns link when it is an absolute http(s) URL (what the
// services accept as a click target), else "". Bytes that are not valid
// UTF-8, control characters, spaces and bidirectional controls are
// percent-encoded: a feed's broken link must not break the message.
func webLink(link string) string {
	link = strings.TrimSpace(link)
	var b strings.Builder
	for i := 0; i < len(link); {
		r, size := utf8.DecodeRuneInString(link[i:])
		if (r == utf8.RuneError && size == 1) || r <= ' ' || r == 0x7f || unicode.IsControl(r) ||
			(r >= 0x202A && r <= 0x202E) || (r >= 0x2066 && r <= 0x2069) {
			for _, c := range []byte(link[i : i+size]) {
				fmt.Fprintf(&b, "%%%02X", c)
			}
		} else {
			b.WriteString(link[i : i+size])
		}
		i += size
	}
	link = b.String()
	u, err := url.Parse(link)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return ""
	}
	return link
}
