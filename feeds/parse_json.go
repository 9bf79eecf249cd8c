package feeds

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/url"
	"strings"

	"github.com/crierd/crier"
)

// parseJSON reads a JSON Feed with gofeed, falling back to a field-by-field
// reading when gofeed rejects a valid JSON document: one optional field of
// the wrong type (say "tags": "x") makes encoding/json refuse the whole feed,
// and losing every item for a cosmetic field is the wrong trade.
func parseJSON(doc []byte, feedURL string, maxItems int) (*Parsed, error) {
	// The common case costs one decode: gofeed's json.Unmarshal validates
	// the whole document, and a JSON Feed version URL settles that it is
	// a feed. Everything else takes the careful path below.
	f, gerr := gofeedParse(doc, feedURL)
	if gerr == nil && strings.Contains(f.FeedVersion, "jsonfeed.org") {
		return fromGofeed(f, feedURL, maxItems, nil), nil
	}
	if !json.Valid(doc) {
		var v any
		err := json.Unmarshal(doc, &v) // for the position of the fault
		return nil, fmt.Errorf("%s: invalid JSON: %w", feedURL, err)
	}
	var top map[string]any
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber() // numeric ids keep their literal text, as gofeed keeps them
	if err := dec.Decode(&top); err != nil {
		return nil, &NotAFeedError{URL: feedURL, What: "a JSON document that is not an object"}
	}
	if !looksLikeJSONFeed(top) {
		return nil, &NotAFeedError{URL: feedURL, What: "a JSON document that is not a JSON Feed"}
	}
	if gerr == nil {
		return fromGofeed(f, feedURL, maxItems, nil), nil
	}
	return parseJSONLenient(top, feedURL, maxItems), nil
}

// looksLikeJSONFeed requires the JSON Feed version URL or an items array,
// so that an API error object or RSS-in-JSON is not taken for an empty feed.
func looksLikeJSONFeed(top map[string]any) bool {
	if v, ok := top["version"].(string); ok && strings.Contains(v, "jsonfeed.org") {
		return true
	}
	_, ok := top["items"].([]any)
	return ok
}

// parseJSONLenient builds the feed from generic JSON, taking each field
// only when it has a usable type.
func parseJSONLenient(top map[string]any, feedURL string, maxItems int) *Parsed {
	base, _ := url.Parse(feedURL)
	p := &Parsed{
		Title:   plainText(jsonString(top["title"]), 300),
		Link:    absURL(base, jsonString(top["home_page_url"])),
		Format:  "json",
		Lenient: true,
	}
	raw, _ := top["items"].([]any)
	if len(raw) > maxItems {
		raw = raw[:maxItems]
	}
	var ids []ItemIDs
	for _, r := range raw {
		m, ok := r.(map[string]any)
		if !ok {
			continue
		}
		it := crier.Item{
			Title: plainText(jsonString(m["title"]), summaryRunes),
			Link:  absURL(base, jsonString(m["url"])),
		}
		if it.Link == "" {
			it.Link = absURL(base, jsonString(m["external_url"]))
		}
		for _, k := range []string{"summary", "content_html", "content_text"} {
			if it.Summary = plainText(jsonString(m[k]), summaryRunes); it.Summary != "" {
				break
			}
		}
		for _, k := range []string{"date_published", "date_modified"} {
			if t, ok := parseDate(jsonString(m[k])); ok {
				it.Published = t
				break
			}
		}
		it.Categories = cleanCategories(jsonStrings(m["tags"]))
		for _, k := range []string{"image", "banner_image"} {
			if it.Image = imageURL(base, jsonString(m[k])); it.Image != "" {
				break
			}
		}
		if it.Image == "" {
			it.Image = contentImage(base, it.Link, jsonString(m["content_html"]))
		}
		id := ItemIDs{GUID: jsonString(m["id"])}
		if atts, ok := m["attachments"].([]any); ok && len(atts) > 0 {
			if a, ok := atts[0].(map[string]any); ok {
				id.Enclosure = absURL(base, jsonString(a["url"]))
			}
		}
		p.Items = append(p.Items, it)
		ids = append(ids, id)
	}
	Identify(p.Items, ids, feedURL, p.Link)
	return p
}

// jsonString accepts strings and numbers (JSON Feed ids are sometimes
// numeric); anything else is "".
func jsonString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case json.Number:
		return x.String()
	}
	return ""
}

// jsonStrings accepts an array of strings or a single string.
func jsonStrings(v any) []string {
	switch x := v.(type) {
	case string:
		return []string{x}
	case []any:
		var out []string
		for _, e := range x {
			if s := jsonString(e); s != "" {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
