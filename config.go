package crier

import (
	"regexp"
	"strings"
	"time"
)

// Config is a loaded, validated configuration with every default applied.
// Load produces it; nothing else should build one except tests.
type Config struct {
	Path      string // the file it came from, for messages
	StateDir  string
	Defaults  Defaults
	Retention time.Duration
	HTTP      HTTPConfig
	Store     StoreConfig
	Alerts    Alerts
	Notifiers []NotifierConfig
	Feeds     []Feed
}

// Defaults apply to every feed that does not say otherwise. Load has
// already copied them into each Feed; they are kept for `check` and reload.
type Defaults struct {
	Schedule   string
	Backfill   int
	Notify     []string // empty: every notifier
	Timeout    time.Duration
	Burst      int // more new items than this in one poll become one summary; 0 = never
	Include    Matcher
	Exclude    Matcher
	MaxItems   int           // only the first MaxItems of a feed are considered
	MaxBackoff time.Duration // failing feeds back off up to this
	RespectTTL bool
	AlertAfter time.Duration // a feed failing this long raises one alert
	StaleAfter time.Duration // 0: never
	WebSub     string        // WebSubAuto or WebSubOff
	SameStory  SameStory     // how its items are matched to other feeds' stories
	// WebSubFallback is how often a feed whose hub pushes is still polled.
	WebSubFallback time.Duration
}

// Per-feed WebSub modes.
const (
	// WebSubAuto subscribes to the hub a feed names, when http.public_url is set.
	WebSubAuto = "auto"
	// WebSubOff only ever polls.
	WebSubOff = "off"
)

// HTTPConfig tunes the fetcher and the optional status listener.
type HTTPConfig struct {
	Concurrency int   // fetches in flight across all feeds
	PerHost     int   // fetches in flight per host
	MaxBody     int64 // bytes
	UserAgent   string
	Listen      string // address of the status/metrics/API listener; empty = off
	Token       string // bearer token for state-changing API calls (from token_file)
	// PublicURL is where WebSub hubs reach the listener (crier's own
	// address or a reverse proxy's), without a trailing slash; empty: no
	// WebSub subscriptions.
	PublicURL string
}

// Alerts says where feed-health alerts go.
type Alerts struct {
	Notify []string // empty: no alerts
}

// NotifierConfig is one entry of `notifiers:`. Settings common to every
// type are fields; the rest are type-specific options, with ${VAR} expanded
// and any X_file already read into X.
type NotifierConfig struct {
	Name     string
	Type     string
	Priority int  // -2..2
	Burst    *int // nil: the feed's burst applies (jsonl defaults to 0)

	QuietHours      *QuietHours
	TitleTemplate   string
	MessageTemplate string
	Digest          string // cron spec; empty = send immediately

	// SameStory, Window and Escalate: see story.go. jsonl defaults to
	// off, as its log keeps every item.
	SameStory SameStory
	Window    time.Duration // 0: DefaultStoryWindow
	Escalate  *Escalate

	Options map[string]string   // scalar type-specific options
	Lists   map[string][]string // list options (email `to`, exec `command`)
	Maps    map[string]map[string]string
	Line    int // where the entry starts in the config file
}

// Option returns a type-specific option, or def when it is unset.
func (n NotifierConfig) Option(key, def string) string {
	if v, ok := n.Options[key]; ok && v != "" {
		return v
	}
	return def
}

// QuietHours is a daily window in which non-urgent notifications wait.
type QuietHours struct {
	From, To time.Duration // offsets from local midnight
	Location *time.Location
}

// Feed is one entry of `feeds:` with the defaults applied.
type Feed struct {
	Name       string
	URL        string
	Schedule   string   // a robfig/cron spec, validated
	Notify     []string // notifier names, never empty after Load
	Priority   *int     // overrides the notifier's priority
	Backfill   int      // newest items to announce on the first poll
	Timeout    time.Duration
	Burst      int
	Include    Matcher
	Exclude    Matcher
	Rules      []Rule
	MaxItems   int
	MaxBackoff time.Duration
	RespectTTL bool
	AlertAfter time.Duration
	StaleAfter time.Duration
	WebSub     string // WebSubAuto or WebSubOff
	// WebSubFallback is the polling interval while a hub pushes the feed.
	WebSubFallback time.Duration
	SameStory      SameStory
	Line           int
}

// FeedID is the key under which a feed's state and seen items are stored.
// It is the URL, not the name, so renaming a feed keeps its history.
func (f Feed) FeedID() string { return f.URL }

// Rule overrides priority and/or routing of the items it matches.
type Rule struct {
	Match    Matcher
	Priority *int
	Notify   []string // nil: the feed's routing
}

// Matcher matches text against case-insensitive words and /regex/ patterns.
// The zero Matcher is empty and matches nothing.
type Matcher struct {
	Patterns []string // as written, for messages
	words    []string // lower-cased
	res      []*regexp.Regexp
}

// NewMatcher compiles patterns: "/re/" is a case-insensitive regular
// expression, anything else a case-insensitive substring.
func NewMatcher(patterns []string) (Matcher, error) {
	m := Matcher{Patterns: patterns}
	for _, p := range patterns {
		if len(p) >= 2 && strings.HasPrefix(p, "/") && strings.HasSuffix(p, "/") {
			re, err := regexp.Compile("(?i)" + p[1:len(p)-1])
			if err != nil {
				return Matcher{}, err
			}
			m.res = append(m.res, re)
			continue
		}
		m.words = append(m.words, strings.ToLower(p))
	}
	return m, nil
}

// Empty reports whether the matcher has no patterns.
func (m Matcher) Empty() bool { return len(m.Patterns) == 0 }

// Match reports whether any pattern matches any of the texts.
func (m Matcher) Match(texts ...string) bool {
	for _, t := range texts {
		if t == "" {
			continue
		}
		for _, re := range m.res {
			if re.MatchString(t) {
				return true
			}
		}
		if len(m.words) > 0 {
			lt := strings.ToLower(t)
			for _, w := range m.words {
				if strings.Contains(lt, w) {
					return true
				}
			}
		}
	}
	return false
}

// Notifier returns the notifier config with the given name.
func (c *Config) Notifier(name string) (NotifierConfig, bool) {
	for _, n := range c.Notifiers {
		if n.Name == name {
			return n, true
		}
	}
	return NotifierConfig{}, false
}
