package feeds

import (
	"strconv"
	"strings"
	"time"

	"github.com/mmcdole/gofeed"
)

// itemDate is an item's publication date: the first readable of its
// published, dcterms:issued, updated and dcterms:modified dates (RSS
// pubDate and dc:date, Atom published and updated, JSON Feed
// date_published and date_modified). Zero means unknown: a date is never
// guessed.
//
// parseDate reads the formats feeds use. gofeed knows more exotic layouts,
// and its reading is taken when parseDate has none, unless the text names
// a zone gofeed does not know: gofeed (time.Parse) gives those a zero
// offset, silently hours off.
func itemDate(gi *gofeed.Item) time.Time {
	ext := func(ns, name string) string {
		if v := gi.Extensions[ns][name]; len(v) > 0 {
			return v[0].Value
		}
		return ""
	}
	raws := []string{gi.Published, ext("dc", "date"), ext("dcterms", "issued"), gi.Updated, ext("dcterms", "modified")}
	for _, r := range raws {
		if t, ok := parseDate(r); ok {
			return t
		}
	}
	for _, r := range raws {
		if namesUnknownZone(r) {
			return time.Time{}
		}
	}
	switch {
	case gi.PublishedParsed != nil:
		return *gi.PublishedParsed
	case gi.UpdatedParsed != nil:
		return *gi.UpdatedParsed
	}
	return time.Time{}
}

// parseDate reads a feed date: W3C-DTF/RFC 3339 (also year-month and
// year alone), RFC 822/1123 and the variants feeds write (no weekday, no
// seconds, full month names, two-digit years, asctime order, "2006/01/02",
// "GMT+01:00", a zone glued to the time), with the zone names in zoneOffsets.
// A date without zone is UTC. ok is false for anything else, including an
// unknown zone name.
func parseDate(s string) (t time.Time, ok bool) {
	s = strings.TrimSpace(s)
	if s == "" {
		return time.Time{}, false
	}
	for _, layout := range isoLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return parseLooseDate(s)
}

var isoLayouts = []string{
	time.RFC3339, "2006-01-02T15:04Z07:00", "2006-01-02T15:04:05Z0700", "2006-01-02T15:04:05",
	"2006-01-02T15:04", "2006-01-02", "2006-01", "2006",
}

// parseLooseDate reads the date, time and zone of an RFC 822-like date
// token by token.
func parseLooseDate(s string) (time.Time, bool) {
	// A trailing comment, as in JavaScript's "GMT+0200 (Central European
	// Summer Time)", says nothing the offset does not.
	if k := strings.IndexByte(s, '('); k > 0 && strings.HasSuffix(s, ")") {
		s = s[:k]
	}
	fields := strings.Fields(strings.ReplaceAll(s, ",", " "))
	if len(fields) > 0 && isDayName(strings.TrimSuffix(fields[0], ".")) {
		fields = fields[1:]
	}
	var (
		nums              []string
		year, month, day  = -1, -1, -1
		hour, minute, sec int
		nsec              int
		haveTime, pm, am  bool
		offset, haveZone  = 0, false
	)
	zone := func(tok string) bool {
		off, ok := zoneOffset(tok)
		if !ok || haveZone {
			return false
		}
		offset, haveZone = off, true
		return true
	}
	for _, tok := range fields {
		c := tok[0]
		switch {
		case strings.EqualFold(tok, "am") || strings.EqualFold(tok, "pm"):
			am, pm = strings.EqualFold(tok, "am"), strings.EqualFold(tok, "pm")
		case isDigit(c) && strings.Contains(tok, ":"):
			end := 0
			for end < len(tok) && (isDigit(tok[end]) || tok[end] == ':' || tok[end] == '.') {
				end++
			}
			var ok bool
			if hour, minute, sec, nsec, ok = clockTime(tok[:end]); !ok || haveTime {
				return time.Time{}, false
			}
			haveTime = true
			if rest := tok[end:]; rest != "" {
				switch {
				case strings.EqualFold(rest, "am"):
					am = true
				case strings.EqualFold(rest, "pm"):
					pm = true
				case !zone(rest):
					return time.Time{}, false
				}
			}
		case isDigit(c) && len(tok) >= 8 && (strings.Count(tok, "-") == 2 || strings.Count(tok, "/") == 2):
			parts := strings.FieldsFunc(tok, func(r rune) bool { return r == '-' || r == '/' })
			if len(parts) != 3 || len(parts[0]) != 4 || year >= 0 {
				return time.Time{}, false
			}
			year, month, day = atoi(parts[0]), atoi(parts[1]), atoi(parts[2])
		case isDigit(c):
			if atoi(tok) < 0 {
				return time.Time{}, false
			}
			nums = append(nums, tok)
		case monthNumber(tok) > 0 && month < 0:
			month = monthNumber(tok)
		default:
			if !zone(tok) {
				return time.Time{}, false // an unknown zone or a word
			}
		}
	}
	switch {
	case year >= 0 && len(nums) == 0:
	case year < 0 && month > 0 && len(nums) == 2:
		d, y := nums[0], nums[1]
		if len(d) == 4 {
			d, y = y, d
		}
		day, year = atoi(d), atoi(y)
		switch len(y) {
		case 2: // RFC 822's two-digit years, read as Go reads them
			if year += 1900; year < 1969 {
				year += 100
			}
		case 4:
		default:
			return time.Time{}, false
		}
	default:
		return time.Time{}, false
	}
	if pm && hour < 12 {
		hour += 12
	} else if am && hour == 12 {
		hour = 0
	}
	if month < 1 || month > 12 || day < 1 || day > daysIn(time.Month(month), year) || hour > 23 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	return t.Add(-time.Duration(offset) * time.Second), true
}

// clockTime reads "15:04", "15:04:05" or "15:04:05.999".
func clockTime(s string) (hour, minute, sec, nsec int, ok bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, 0, 0, 0, false
	}
	if len(parts) == 3 {
		secs, frac, _ := strings.Cut(parts[2], ".")
		parts[2] = secs
		if frac != "" {
			f, err := strconv.ParseFloat("0."+frac, 64)
			if err != nil {
				return 0, 0, 0, 0, false
			}
			nsec = int(f * 1e9)
		}
	} else {
		parts = append(parts, "0")
	}
	for _, p := range parts {
		if len(p) == 0 || len(p) > 2 || atoi(p) < 0 {
			return 0, 0, 0, 0, false
		}
	}
	hour, minute, sec = atoi(parts[0]), atoi(parts[1]), atoi(parts[2])
	return hour, minute, sec, nsec, hour < 24 && minute < 60 && sec < 60
}

// zoneOffset reads a zone: a name from zoneOffsets, "+0100", "+01:00",
// "+01", and those after "GMT" or "UTC" ("GMT+01:00").
func zoneOffset(tok string) (int, bool) {
	// Names in capitals only: "at" in "2006-01-02 at 15:04" is no zone.
	if off, ok := zoneOffsets[strings.TrimPrefix(tok, "Etc/")]; ok {
		return off, true
	}
	up := strings.ToUpper(tok)
	if up == "GMT" || up == "UTC" {
		return 0, true
	}
	for _, p := range []string{"GMT", "UTC", "UT"} {
		if rest, ok := strings.CutPrefix(up, p); ok && rest != "" {
			up = rest
			break
		}
	}
	if up[0] != '+' && up[0] != '-' {
		return 0, false
	}
	digits := strings.ReplaceAll(up[1:], ":", "")
	if strings.Count(up, ":") > 1 || (len(digits) != 2 && len(digits) != 4) && !(len(digits) == 1 && !strings.Contains(up, ":")) {
		return 0, false
	}
	h, m := atoi(digits[:min(2, len(digits))]), 0
	if len(digits) == 4 {
		m = atoi(digits[2:])
	}
	if h < 0 || m < 0 || h > 14 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if up[0] == '-' {
		off = -off
	}
	return off, true
}

// zoneOffsets are the zone names feeds use, in seconds east of UTC. The
// ambiguous ones take the reading feeds mean most: CST and the other
// North American names (as RFC 822 and gofeed have them), BST British
// Summer Time, IST India. ET/CT/MT/PT/AT are read as standard time.
var zoneOffsets = map[string]int{
	"Z": 0, "UT": 0, "UTC": 0, "GMT": 0, "WET": 0,
	"EST": -5 * 3600, "EDT": -4 * 3600, "ET": -5 * 3600,
	"CST": -6 * 3600, "CDT": -5 * 3600, "CT": -6 * 3600,
	"MST": -7 * 3600, "MDT": -6 * 3600, "MT": -7 * 3600,
	"PST": -8 * 3600, "PDT": -7 * 3600, "PT": -8 * 3600,
	"AST": -4 * 3600, "ADT": -3 * 3600, "AT": -4 * 3600,
	"NST": -(3*3600 + 1800), "NDT": -(2*3600 + 1800),
	"AKST": -9 * 3600, "AKDT": -8 * 3600, "HST": -10 * 3600,
	"WEST": 3600, "BST": 3600,
	"CET": 3600, "CEST": 2 * 3600, "MET": 3600, "MEST": 2 * 3600, "MEZ": 3600, "MESZ": 2 * 3600,
	"EET": 2 * 3600, "EEST": 3 * 3600, "MSK": 3 * 3600,
	"IST": 5*3600 + 1800, "PKT": 5 * 3600, "ICT": 7 * 3600, "WIB": 7 * 3600,
	"HKT": 8 * 3600, "SGT": 8 * 3600, "AWST": 8 * 3600, "PHT": 8 * 3600,
	"JST": 9 * 3600, "KST": 9 * 3600,
	"ACST": 9*3600 + 1800, "ACDT": 10*3600 + 1800, "AEST": 10 * 3600, "AEDT": 11 * 3600,
	"NZST": 12 * 3600, "NZDT": 13 * 3600,
}

// gofeedZones are the names gofeed resolves itself (its
// timezoneAbbreviations); any other name it parses with a zero offset.
var gofeedZones = map[string]bool{
	"UT": true, "GMT": true, "UTC": true, "EST": true, "EDT": true, "CST": true, "CDT": true,
	"MST": true, "MDT": true, "PST": true, "PDT": true, "WET": true, "WEST": true, "BST": true,
	"CET": true, "CEST": true, "EET": true, "EEST": true,
}

// namesUnknownZone reports a word in s that could be a zone name (two to
// five capitals) and that gofeed does not resolve.
func namesUnknownZone(s string) bool {
	for _, w := range strings.FieldsFunc(s, func(r rune) bool { return r < 'A' || r > 'Z' && r < 'a' || r > 'z' }) {
		if len(w) < 2 || len(w) > 5 || strings.ToUpper(w) != w || gofeedZones[w] ||
			monthNumber(w) > 0 || isDayName(w) || w == "AM" || w == "PM" {
			continue
		}
		return true
	}
	return false
}

var monthNames = []string{"january", "february", "march", "april", "may", "june", "july",
	"august", "september", "october", "november", "december"}

// monthNumber reads an English month name, full or abbreviated ("Sept"
// too); 0 when s is none.
func monthNumber(s string) int {
	l := strings.ToLower(strings.TrimSuffix(s, "."))
	if len(l) < 3 {
		return 0
	}
	for i, m := range monthNames {
		if l == m || l == m[:3] || (i == 8 && l == "sept") {
			return i + 1
		}
	}
	return 0
}

func isDayName(s string) bool {
	l := strings.ToLower(s)
	for _, d := range []string{"monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday"} {
		if l == d || l == d[:3] {
			return true
		}
	}
	return false
}

func daysIn(m time.Month, year int) int {
	return time.Date(year, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoi reads a run of ASCII digits; -1 for anything else.
func atoi(s string) int {
	if s == "" || len(s) > 9 {
		return -1
	}
	n := 0
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return -1
		}
		n = n*10 + int(s[i]-'0')
	}
	return n
}
