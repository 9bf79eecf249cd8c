package feeds

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// corpusDir is the shared real-world corpus, relative to this package.
const corpusDir = "../../shared/corpus"

type baselineRow struct {
	ok    bool
	items int
}

// readBaseline loads gofeed-baseline.tsv: what gofeed v1.4.2 alone makes of
// each corpus file.
func readBaseline(t *testing.T) map[string]baselineRow {
	t.Helper()
	f, err := os.Open(filepath.Join(corpusDir, "gofeed-baseline.tsv"))
	if err != nil {
		t.Fatalf("corpus present but baseline missing: %v", err)
	}
	defer f.Close()
	rows := map[string]baselineRow{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for first := true; sc.Scan(); first = false {
		cols := strings.Split(sc.Text(), "\t")
		if first || len(cols) < 5 {
			continue
		}
		n, _ := strconv.Atoi(cols[4])
		rows[cols[0]] = baselineRow{ok: cols[1] == "ok", items: n}
	}
	return rows
}

func readManifest(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(corpusDir, "real", "MANIFEST.tsv"))
	if err != nil {
		t.Fatalf("corpus present but manifest missing: %v", err)
	}
	var paths []string
	for i, line := range strings.Split(string(b), "\n") {
		cols := strings.Split(line, "\t")
		if i == 0 || len(cols) < 9 || cols[0] == "" {
			continue
		}
		paths = append(paths, cols[0])
	}
	return paths
}

// deliberateRejects are files gofeed accepts that Parse refuses on purpose.
var deliberateRejects = map[string]string{
	// gofeed reads any JSON object as a JSON Feed and reports 0 items; a
	// feed that "works" but never has items hides the real problem.
	"rsparser/ScriptingNews.json": "RSS-in-JSON is not a JSON Feed",
}

func TestCorpus(t *testing.T) {
	if _, err := os.Stat(filepath.Join(corpusDir, "real", "MANIFEST.tsv")); err != nil {
		t.Skipf("shared corpus not present: %v", err)
	}
	t.Parallel()
	base := readBaseline(t)
	paths := readManifest(t)
	const maxItems = 1000 // above the corpus's largest feed, so counts compare

	var (
		mu                                                            sync.Mutex
		parsedBoth, gainedFiles, failedCleanly, items, trunc, lenient int
	)
	t.Cleanup(func() {
		t.Logf("corpus: %d files parsed by gofeed and by Parse, %d more parsed only by Parse (%d of them truncated, %d lenient JSON), %d rejected with an error; %d items",
			parsedBoth, gainedFiles, trunc, lenient, failedCleanly, items)
	})
	for _, p := range paths {
		if strings.HasSuffix(p, ".txt") {
			continue // date strings, not a feed
		}
		t.Run(p, func(t *testing.T) {
			t.Parallel()
			body, err := os.ReadFile(filepath.Join(corpusDir, "real", p))
			if err != nil {
				t.Fatal(err)
			}
			// The gzip captures stand for a server that forgot
			// Content-Encoding; the Fetcher undoes that, Parse does not.
			if bytes.HasPrefix(body, []byte{0x1f, 0x8b}) {
				if body, err = gunzip(body); err != nil {
					t.Fatal(err)
				}
			}
			if (raceEnabled || testing.Short()) && len(body) > stabilityMax {
				t.Skipf("%d bytes: big files run without -race and -short", len(body))
			}
			b, known := base[p]
			if !known {
				t.Fatal("not in gofeed-baseline.tsv")
			}
			feedURL := "https://corpus.example/" + p
			res, err := Parse(body, "", feedURL, maxItems)
			if why, ok := deliberateRejects[p]; ok {
				var nf *NotAFeedError
				if !errors.As(err, &nf) {
					t.Errorf("want a NotAFeedError (%s), got %v", why, err)
				}
				err = errors.New(feedURL + ": rejected on purpose")
			}
			if err != nil {
				if b.ok && deliberateRejects[p] == "" {
					t.Fatalf("gofeed parses it (%d items) but Parse fails: %v", b.items, err)
				}
				if !strings.Contains(err.Error(), feedURL) {
					t.Errorf("error does not name the feed URL: %v", err)
				}
				mu.Lock()
				failedCleanly++
				mu.Unlock()
				return
			}
			if want := min(b.items, maxItems); b.ok && len(res.Items) < want {
				t.Errorf("%d items, gofeed alone finds %d", len(res.Items), want)
			}
			if !b.ok {
				t.Logf("gofeed alone fails; Parse: %s, %d items (truncated=%v)", res.Format, len(res.Items), res.Truncated)
			}
			checkKeys(t, body, feedURL, maxItems, res)
			mu.Lock()
			defer mu.Unlock()
			if b.ok {
				parsedBoth++
			} else {
				gainedFiles++
			}
			if res.Truncated {
				trunc++
			}
			if res.Lenient {
				lenient++
			}
			items += len(res.Items)
		})
	}
}

// stabilityMax bounds the files parsed a second time for the key-stability
// check: the big captures add time (much more under -race), not coverage.
const stabilityMax = 128 << 10

// checkKeys asserts what the store relies on: every item has keys, keys
// are stable across parses, and only true duplicates share an ID.
func checkKeys(t *testing.T, body []byte, feedURL string, maxItems int, res *Parsed) {
	t.Helper()
	again := res
	if len(body) <= stabilityMax {
		var err error
		if again, err = Parse(body, "", feedURL, maxItems); err != nil {
			t.Fatalf("second parse failed: %v", err)
		}
	}
	if len(again.Items) != len(res.Items) {
		t.Fatalf("second parse has %d items, first %d", len(again.Items), len(res.Items))
	}
	byID := map[string]int{}
	for i, it := range res.Items {
		if len(it.Keys) == 0 || it.Keys[0] == "" {
			t.Errorf("item %d (%q) has no keys", i, it.Title)
			continue
		}
		if !slices.Equal(it.Keys, again.Items[i].Keys) || !slices.Equal(it.AltKeys, again.Items[i].AltKeys) {
			t.Errorf("item %d keys differ between parses: %q vs %q", i, it.Keys, again.Items[i].Keys)
		}
		for _, k := range it.Keys {
			if len(k) > maxKeyValue+10 {
				t.Errorf("item %d key is %d bytes long", i, len(k))
			}
		}
		if j, dup := byID[it.Keys[0]]; dup {
			o := res.Items[j]
			if o.Title != it.Title || o.Link != it.Link {
				t.Errorf("items %d (%q %s) and %d (%q %s) share ID %q", j, o.Title, o.Link, i, it.Title, it.Link, it.Keys[0])
			}
			continue
		}
		byID[it.Keys[0]] = i
	}
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	out, err := io.ReadAll(io.LimitReader(zr, 50<<20))
	if errors.Is(err, io.ErrUnexpectedEOF) {
		return out, nil // the capture itself may be cut short
	}
	return out, err
}
