package feeds

import (
	"hash/fnv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Near-duplicate headlines are found in two steps: MinHash LSH over the
// headline's word features picks candidates from the store's band index
// (a few lookups per item whatever the number of feeds or stories), and
// headlineScore decides. The constants were tuned on
// testdata/story_pairs.tsv (see TestSimilarPrecisionRecall).
const (
	// lshBands × lshRows min-hashes. Two rows per band keep a band's
	// bucket to headlines sharing two features, not one common word. Each
	// band is one random insert into the store's band index, which is most
	// of similar's cost: 10 bands keep it within budget (20 doubled it) and
	// lose no pair of the labelled set.
	lshBands = 10
	lshRows  = 2
	// similarThreshold is the least headlineScore that makes two
	// headlines one story.
	similarThreshold = 0.35
	// minFeatures: a headline with fewer features ("Daily briefing",
	// "Live") says too little to be matched by similarity at all.
	minFeatures = 3
	// stemLen cuts words to their first runes, a language-agnostic stand-in
	// for stemming: strikes/strike, southern/south, Japan's/Japan.
	stemLen = 5
	// summaryWords of the summary's start count when the title alone
	// has fewer than minFeatures features.
	summaryWords = 12
)

// storyFeatures returns the normalised word features of a headline: words
// lower-cased and cut to stemLen runes, stop-words of the common languages
// dropped, numbers kept whole ("7.1", "2024"). The summary's start is used
// only for a title too short to say anything.
func storyFeatures(title, summary string) []string {
	fs := words(title, nil)
	if len(fs) < minFeatures && summary != "" {
		fs = words(firstWords(summary, summaryWords), fs)
	}
	return append(fs, nameFeatures(title)...)
}

func firstWords(s string, n int) string {
	f := strings.Fields(s)
	if len(f) > n {
		f = f[:n]
	}
	return strings.Join(f, " ")
}

// words appends the distinct features of s to fs.
func words(s string, fs []string) []string {
	for _, t := range tokens(s) {
		if f := feature(t.text); f != "" && !contains(fs, f) {
			fs = append(fs, f)
		}
	}
	return fs
}

// feature normalises one token: numbers whole, number words as digits,
// other words lower-cased, cut to stemLen runes; "" for a stop-word.
func feature(t string) string {
	if isNumber(t) {
		return t
	}
	t = strings.ToLower(t)
	if d, ok := numberWords[t]; ok {
		return d
	}
	if stopWords[t] {
		return ""
	}
	n := 0
	for i := range t {
		if n == stemLen {
			return t[:i]
		}
		n++
	}
	return t
}

type token struct {
	text    string
	initial bool // first word of the title or of a clause
}

// tokens splits a headline into words and numbers. A number keeps its
// decimal point, thousands separators and the dashes and slashes of a
// date or score ("7.1", "20,000", "01-08-2013", "2-0"); "44bn" is 44 and
// bn; an elision or possessive keeps the word (Japan's, l'élection).
func tokens(s string) []token {
	var out []token
	initial := true
	rs := []rune(s)
	for i := 0; i < len(rs); {
		r := rs[i]
		switch {
		case unicode.IsDigit(r):
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) ||
				(strings.ContainsRune(".,-/", rs[j]) && j+1 < len(rs) && unicode.IsDigit(rs[j+1]))) {
				j++
			}
			out = append(out, token{string(rs[i:j]), initial})
			initial = false
			i = j
		case unicode.IsLetter(r):
			j := i + 1
			for j < len(rs) && (unicode.IsLetter(rs[j]) || unicode.IsDigit(rs[j]) ||
				(rs[j] == '.' && j+1 < len(rs) && unicode.IsLetter(rs[j+1]) && j-i == 1)) {
				j++
			}
			w := strings.ReplaceAll(string(rs[i:j]), ".", "") // U.S. -> US
			if j+1 < len(rs) && (rs[j] == '\'' || rs[j] == '’') && unicode.IsLetter(rs[j+1]) {
				k := j + 1
				for k < len(rs) && unicode.IsLetter(rs[k]) {
					k++
				}
				if utf8.RuneCountInString(w) <= 2 && k-j-1 > 2 {
					w = string(rs[j+1 : k]) // l'élection, d'Italie
				}
				j = k // Japan's, don't
			}
			out = append(out, token{w, initial})
			initial = false
			i = j
		default:
			if strings.ContainsRune(":|–—-?!.;", r) && (r != '-' || i+1 < len(rs) && unicode.IsSpace(rs[i+1])) {
				initial = true
			}
			i++
		}
	}
	return out
}

// nameFeatures returns the features of the words a headline capitalises
// mid-clause (names: Ian, Helene, Sunak), marked with a leading "^", or
// none for a headline in Title Case, where capitals say nothing.
func nameFeatures(title string) []string {
	var names []string
	mid, capital := 0, 0
	for _, t := range tokens(title) {
		r, _ := utf8.DecodeRuneInString(t.text)
		if t.initial || !unicode.IsLetter(r) || stopWords[strings.ToLower(t.text)] {
			continue
		}
		mid++
		if unicode.IsUpper(r) {
			capital++
			if f := feature(t.text); f != "" && !contains(names, "^"+f) {
				names = append(names, "^"+f)
			}
		}
	}
	if mid >= 3 && capital*10 >= mid*9 {
		return nil
	}
	return names
}

func contains(fs []string, t string) bool {
	for _, f := range fs {
		if f == t {
			return true
		}
	}
	return false
}

func isNumber(t string) bool {
	if t == "" || !unicode.IsDigit(rune(t[0])) {
		return false
	}
	for _, r := range t {
		if !unicode.IsDigit(r) && !strings.ContainsRune(".,-/", r) {
			return false
		}
	}
	return true
}

// numberWords are the small numbers headlines spell out ("Day Four",
// "all five aboard"), so that they count as numbers.
var numberWords = map[string]string{
	"one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7", "eight": "8", "nine": "9", "ten": "10",
	"deux": "2", "trois": "3", "quatre": "4", "cinq": "5",
	"zwei": "2", "drei": "3", "vier": "4", "fünf": "5",
	"dos": "2", "tres": "3", "cuatro": "4", "cinco": "5",
}

// headlineScore says how alike two headlines' features are: the weighted
// Jaccard similarity of their words, or zero when they disagree on a fact:
//   - either says too little (fewer than minFeatures words);
//   - both carry numbers and neither's are a subset of the other's (a
//     magnitude 6.2 quake is not the 7.1 one, Day Two is not Day Four);
//   - each names someone or somewhere the other does not mention
//     (Hurricane Ian / Helene, Sunak / Starmer).
func headlineScore(a, b []string) float64 {
	wa, na := splitNames(a)
	wb, nb := splitNames(b)
	if len(wa) < minFeatures || len(wb) < minFeatures {
		return 0
	}
	if !subsetEither(numbers(wa), numbers(wb)) {
		return 0
	}
	if !covered(na, wb) && !covered(nb, wa) {
		return 0
	}
	// Numbers weigh double: a shared 7.1 or 20,000 says more than a
	// shared verb.
	shared, n, total := 0, 0, 0
	for _, f := range wa {
		w := weight(f)
		total += w
		if contains(wb, f) {
			shared += w
			n++
		}
	}
	for _, f := range wb {
		total += weight(f)
	}
	if n < 2 {
		return 0
	}
	return float64(shared) / float64(total-shared)
}

func weight(f string) int {
	if isNumber(f) {
		return 2
	}
	return 1
}

// splitNames separates the "^" name markers from the words.
func splitNames(fs []string) (words, names []string) {
	for i, f := range fs {
		if strings.HasPrefix(f, "^") {
			return fs[:i], fs[i:]
		}
	}
	return fs, nil
}

func numbers(fs []string) []string {
	var out []string
	for _, f := range fs {
		if isNumber(f) {
			out = append(out, f)
		}
	}
	return out
}

func subsetEither(a, b []string) bool {
	return covered(a, b) || covered(b, a)
}

// covered reports whether every element of a is in b; names are compared
// without their marker.
func covered(a, b []string) bool {
	for _, f := range a {
		if !contains(b, strings.TrimPrefix(f, "^")) {
			return false
		}
	}
	return true
}

// storyBands returns the LSH band keys of a feature set: lshBands hashes,
// each of lshRows min-hashes and the band's index. Headlines with Jaccard
// similarity J share at least one band with probability
// 1-(1-J^lshRows)^lshBands: 0.73 at 0.35, 0.83 at 0.4, 0.94 at 0.5, 0.98
// at 0.6 (headlines of one story usually share more than half their words).
func storyBands(fs []string) []uint64 {
	fs, _ = splitNames(fs)
	if len(fs) < minFeatures {
		return nil
	}
	hs := make([]uint64, len(fs))
	for i, f := range fs {
		h := fnv.New64a()
		h.Write([]byte(f))
		hs[i] = h.Sum64()
	}
	bands := make([]uint64, lshBands)
	for b := range lshBands {
		key := uint64(b+1) * 0x9e3779b97f4a7c15
		for r := range lshRows {
			seed := uint64(b*lshRows+r+1) * 0xbf58476d1ce4e5b9
			lo := ^uint64(0)
			for _, h := range hs {
				lo = min(lo, mix64(h^seed))
			}
			key = mix64(key ^ lo)
		}
		bands[b] = key
	}
	return bands
}

// mix64 is splitmix64's finaliser: a cheap, well-spread permutation.
func mix64(x uint64) uint64 {
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return x
}

// stopWords are the function words of English, French, German, Spanish,
// Italian and Portuguese that carry no story, plus headline filler ("live",
// "update", "breaking") that every outlet puts on everything.
var stopWords = func() map[string]bool {
	m := map[string]bool{}
	for _, w := range strings.Fields(`
a an the and or but if of to in on at by for from with without into onto over under after before about as is are was were be been being
has have had do does did not no its it this that these those he she they we you i his her their our your who whom what which when where why how
will would can could should may might must says said say than then there here up down out off new more most after amid vs via
live update updates latest breaking watch video photos exclusive opinion analysis explainer
le la les un une des du de et ou au aux en dans sur pour par avec sans est sont ce cette ces qui que quoi il elle ils elles nous vous pas plus
der die das ein eine einer eines dem den des und oder im in am zum zur mit von für auf ist sind nicht auch wie bei nach aus
el los las una unos unas del y o en por para con sin es son al lo se que su sus
il lo gli uno della delle dei di da e è per con non che nel nella
o os as um uma do da dos das em no na nos nas por para com sem é
`) {
		m[w] = true
	}
	return m
}()

// defaultStoryWindow is how long a story stays open for later reports.
const defaultStoryWindow = 12 * time.Hour
