package feeds

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/crierd/crier"
	"github.com/crierd/crier/store/bolt"
)

func TestParseGUIDAsLink(t *testing.T) {
	t.Parallel()
	const head = `<rss version="2.0"><channel><title>c</title><link>https://e.example/</link><item><title>t</title>`
	for _, tc := range []struct{ name, item, want string }{
		{"permalink guid, attribute absent", `<guid>https://e.example/p/1</guid>`, "https://e.example/p/1"},
		{"permalink guid, attribute true", `<guid isPermaLink="true"> http://e.example/p/2 </guid>`, "http://e.example/p/2"},
		{"not a permalink", `<guid isPermaLink="false">https://e.example/p/3</guid>`, ""},
		{"not a permalink, other case", `<guid isPermaLink="FALSE">https://e.example/p/3</guid>`, ""},
		{"not a URL", `<guid>1234@e.example</guid>`, ""},
		{"tag URI", `<guid>tag:e.example,2024:1</guid>`, ""},
		{"relative", `<guid>/p/4</guid>`, ""},
		{"not http", `<guid>javascript:alert(1)</guid>`, ""},
		{"link wins", `<link>https://e.example/real</link><guid>https://e.example/p/5</guid>`, "https://e.example/real"},
	} {
		p, err := Parse([]byte(head+tc.item+`</item></channel></rss>`), "", "https://e.example/feed", 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := p.Items[0].Link; got != tc.want {
			t.Errorf("%s: link %q, want %q", tc.name, got, tc.want)
		}
	}
}

const rdfDoc = `<?xml version="1.0"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns="http://purl.org/rss/1.0/">
<channel rdf:about="https://e.example/index.rdf"><title>r</title><link>https://e.example/</link>
<items><rdf:Seq><rdf:li resource="https://e.example/1"/><rdf:li resource="https://e.example/2"/></rdf:Seq></items></channel>
<item rdf:about="https://e.example/1?a=1&amp;b=2"><title>one</title><link>https://e.example/1?a=1&amp;b=2</link></item>
<item rdf:about='urn:x:2'><title>two</title></item>
<item><title>three</title><link>https://e.example/3</link></item>
</rdf:RDF>`

func TestParseRDFAbout(t *testing.T) {
	t.Parallel()
	p, err := Parse([]byte(rdfDoc), "", "https://e.example/index.rdf", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"g:https://e.example/1?a=1&b=2", "l:https://e.example/1?a=1&b=2"},
		{"g:urn:x:2", "h:" + shortHash("two\x00")}, // the key it had before rdf:about was read
		{"l:https://e.example/3"},
	}
	if len(p.Items) != len(want) {
		t.Fatalf("%d items", len(p.Items))
	}
	for i, it := range p.Items {
		if !slices.Equal(it.Keys, want[i]) {
			t.Errorf("item %d (%s): keys %q, want %q", i, it.Title, it.Keys, want[i])
		}
	}
	// Cut at maxItems: the ids stay with their items.
	p, err = Parse([]byte(rdfDoc), "", "https://e.example/index.rdf", 2)
	if err != nil || len(p.Items) != 2 || p.Items[1].ID() != "g:urn:x:2" {
		t.Errorf("cut at 2: %+v, %v", p, err)
	}
}

// TestNewIDsDoNotReannounce: an item seen under the keys an earlier crier
// gave it is still seen after its GUID became its link and its rdf:about
// its id: a GUID shown as link adds no key, rdf:about adds one in front of
// the old ones, and an item is new only when none of its keys was seen.
func TestNewIDsDoNotReannounce(t *testing.T) {
	t.Parallel()
	st, err := bolt.Open(filepath.Join(t.TempDir(), "state.db"), bolt.Options{NoSync: true})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, tc := range []struct {
		name    string
		doc     string
		oldKeys [][]string // what the previous version stored per item
		keys    [][]string // what this one gives
	}{
		{"guid-only RSS",
			`<rss version="2.0"><channel><title>c</title><item><title>a</title><guid>https://e.example/p/1</guid></item>` +
				`<item><title>b</title><guid>https://e.example/p/2</guid><enclosure url="https://cdn.example/2.mp3"/></item></channel></rss>`,
			[][]string{{"g:https://e.example/p/1"}, {"g:https://e.example/p/2", "l:https://cdn.example/2.mp3"}},
			[][]string{{"g:https://e.example/p/1"}, {"g:https://e.example/p/2", "l:https://cdn.example/2.mp3"}}},
		{"RSS 1.0", rdfDoc,
			[][]string{{"l:https://e.example/1?a=1&b=2"}, {"h:" + shortHash("two\x00")}, {"l:https://e.example/3"}},
			[][]string{{"g:https://e.example/1?a=1&b=2", "l:https://e.example/1?a=1&b=2"}, {"g:urn:x:2", "h:" + shortHash("two\x00")}, {"l:https://e.example/3"}}},
	} {
		feedID := tc.name
		old := make([]crier.Item, len(tc.oldKeys))
		for i, k := range tc.oldKeys {
			old[i] = crier.Item{Keys: k}
		}
		if _, err := st.Ingest(feedID, crier.FeedState{}, old, nil); err != nil {
			t.Fatal(err)
		}
		p, err := Parse([]byte(tc.doc), "", "https://e.example/feed", 0)
		if err != nil {
			t.Fatal(err)
		}
		for i, it := range p.Items {
			if !slices.Equal(it.Keys, tc.keys[i]) {
				t.Errorf("%s: item %d keys %q, want %q", tc.name, i, it.Keys, tc.keys[i])
			}
		}
		res, err := st.Ingest(feedID, crier.FeedState{}, p.Items, nil)
		if err != nil {
			t.Fatal(err)
		}
		if res.New != 0 {
			t.Errorf("%s: %d of %d seen items announced again after the upgrade", tc.name, res.New, res.Items)
		}
	}
}
