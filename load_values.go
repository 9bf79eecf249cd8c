package crier

import (
	"fmt"
	"html"
	"io"
	"math"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/robfig/cron/v3"
)

// ParseDuration is time.ParseDuration plus a "d" unit of 24 hours, because
// retention and alert windows are naturally written in days ("90d",
// "1d12h"). A bare number other than 0 is rejected: "30" could mean anything.
func ParseDuration(s string) (time.Duration, error) {
	in := strings.TrimSpace(s)
	if in == "" {
		return 0, fmt.Errorf("invalid duration %q: empty", s)
	}
	rest, sign := in, ""
	if rest[0] == '-' || rest[0] == '+' {
		sign, rest = rest[:1], rest[1:]
	}
	var days float64
	var goPart strings.Builder
	for rest != "" {
		i := 0
		for i < len(rest) && (rest[i] == '.' || (rest[i] >= '0' && rest[i] <= '9')) {
			i++
		}
		j := i
		for j < len(rest) && rest[j] != '.' && (rest[j] < '0' || rest[j] > '9') {
			j++
		}
		num, unit := rest[:i], rest[i:j]
		rest = rest[j:]
		if num == "" {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 1h30m, 90d)", s)
		}
		if unit == "d" {
			n, err := strconv.ParseFloat(num, 64)
			if err != nil {
				return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 1h30m, 90d)", s)
			}
			days += n
			continue
		}
		goPart.WriteString(num + unit)
	}
	var d time.Duration
	if goPart.Len() > 0 {
		var err error
		if d, err = time.ParseDuration(goPart.String()); err != nil {
			return 0, fmt.Errorf("invalid duration %q (use e.g. 30s, 10m, 1h30m, 90d)", s)
		}
	}
	dayDur := days * float64(24*time.Hour)
	if dayDur+float64(d) > math.MaxInt64 {
		return 0, fmt.Errorf("invalid duration %q: too long", s)
	}
	d += time.Duration(dayDur)
	if sign == "-" {
		d = -d
	}
	return d, nil
}

var sizeUnits = map[string]float64{
	"": 1, "b": 1,
	"kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12,
	"kib": 1 << 10, "mib": 1 << 20, "gib": 1 << 30, "tib": 1 << 40,
}

// ParseSize reads a byte count: "1000", "10MB" (powers of 1000), "10MiB"
// (powers of 1024), fractions allowed ("1.5MiB"), units case-insensitive.
func ParseSize(s string) (int64, error) {
	in := strings.TrimSpace(s)
	i := 0
	for i < len(in) && (in[i] == '.' || (in[i] >= '0' && in[i] <= '9')) {
		i++
	}
	num, unit := in[:i], strings.ToLower(strings.TrimSpace(in[i:]))
	mult, ok := sizeUnits[unit]
	n, err := strconv.ParseFloat(num, 64)
	if !ok || err != nil || num == "" {
		return 0, fmt.Errorf("invalid size %q (use e.g. 1000, 512KiB, 10MiB, 10MB)", s)
	}
	v := n * mult
	if v >= math.MaxInt64 {
		return 0, fmt.Errorf("invalid size %q: too large", s)
	}
	return int64(v), nil
}

// cronParser is the standard 5-field parser robfig/cron's ParseStandard
// uses, so a schedule valid here is valid for the scheduler.
func cronParser() cron.Parser {
	return cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)
}

// ValidSchedule checks a robfig/cron standard spec: 5 fields, descriptors
// (@hourly, @every 10m), optionally prefixed by CRON_TZ=Zone or TZ=Zone.
func ValidSchedule(spec string) (err error) {
	// robfig/cron v3 slices past the end on "TZ=Zone" with nothing after it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("invalid schedule %q: a time zone prefix needs a schedule after it", spec)
		}
	}()
	s := strings.TrimSpace(spec)
	if s == "" {
		return fmt.Errorf("empty schedule")
	}
	rest := s
	if strings.HasPrefix(s, "TZ=") || strings.HasPrefix(s, "CRON_TZ=") {
		i := strings.Index(s, " ")
		if i < 0 || strings.TrimSpace(s[i:]) == "" {
			return fmt.Errorf("invalid schedule %q: a time zone prefix needs a schedule after it", spec)
		}
		if _, zone, _ := strings.Cut(s[:i], "="); zone == "" {
			return fmt.Errorf("invalid schedule %q: empty time zone", spec)
		}
		rest = strings.TrimSpace(s[i:])
	}
	if after, ok := strings.CutPrefix(rest, "@every"); ok {
		d, derr := time.ParseDuration(strings.TrimSpace(after))
		if derr == nil && d < time.Second {
			return fmt.Errorf("invalid schedule %q: @every needs at least 1s", spec)
		}
	}
	if _, err := cronParser().Parse(s); err != nil {
		return fmt.Errorf("invalid schedule %q: %w", spec, err)
	}
	return nil
}

// TemplateFuncs are the functions notifier templates may use. Argument
// order suits pipelines: {{.Title | truncate 80}}, {{.Categories | join ", "}},
// {{.Published | date "2006-01-02"}}, {"text": {{json .Title}}}.
func TemplateFuncs() template.FuncMap {
	return template.FuncMap{
		"lower":    strings.ToLower,
		"upper":    strings.ToUpper,
		"trim":     strings.TrimSpace,
		"truncate": func(max int, s string) string { return Truncate(s, max) },
		"join":     func(sep string, list []string) string { return strings.Join(list, sep) },
		"date": func(layout string, t time.Time) string {
			if t.IsZero() {
				return ""
			}
			return t.Format(layout)
		},
		"html": html.EscapeString,
		"json": templateJSON,
	}
}

// parseTemplate checks a template the way notifiers will parse it.
func parseTemplate(name, text string) error {
	_, err := template.New(name).Funcs(TemplateFuncs()).Option("missingkey=error").Parse(text)
	return err
}

// checkNotificationTemplate parses a title or message template and runs it
// once over a sample notification (what notifiers execute it over), so a
// misspelt field such as {{.Titel}} fails at load, not at the first send.
// Branches the sample does not take are only parsed.
func checkNotificationTemplate(name, text string) error {
	t, err := template.New(name).Funcs(TemplateFuncs()).Option("missingkey=error").Parse(text)
	if err != nil {
		return err
	}
	prio := 1
	now := time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)
	sample := Notification{
		Kind: KindItem, Feed: "Example", FeedURL: "https://example.org/feed", FeedLink: "https://example.org/",
		ItemID: "g:1", Title: "Title", Link: "https://example.org/1", Summary: "Summary",
		Published: now, Categories: []string{"news"}, Priority: &prio,
		Count: 1, Items: []Headline{{Title: "Title", Link: "https://example.org/1"}}, QueuedAt: now,
	}
	return t.Execute(io.Discard, sample)
}
