package feeds

import (
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"

	"github.com/crierd/crier"
)

// maxKeyValue is the longest GUID or link kept verbatim in a key; longer
// ones are hashed so that stored keys stay small.
const maxKeyValue = 200

// ItemIDs is what identity needs to know about an item beyond crier.Item:
// its raw GUID (RSS guid, Atom id, JSON Feed id) and its first enclosure.
type ItemIDs struct {
	GUID      string
	Enclosure string
	// About is an RSS 1.0 item's rdf:about, its id. It adds a "g:" key in
	// front of the keys the item would have without it, never replacing
	// them: versions before it was read keyed these items by link or
	// text hash, and those stored keys must keep matching.
	About string
	// LinkIsGUID says the item's Link is a copy of its permalink GUID. It
	// is not keyed a second time: the enclosure keeps its place as the
	// l: key, and every item keeps exactly the keys it had before GUIDs
	// were shown as links.
	LinkIsGUID bool
}

// CanonicalLink normalises a link for use as a key: scheme and host
// lower-cased, default port, fragment and tracking parameters (utm_*,
// fbclid, gclid) dropped, an empty path made "/", the other query
// parameters kept in their original order. It returns "" for an empty or
// unparseable link.
func CanonicalLink(raw string) string {
	raw = strings.TrimSpace(raw)
	if raw == "" {
		return ""
	}
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	u.Scheme = strings.ToLower(u.Scheme)
	u.Host = strings.ToLower(u.Host)
	if p := u.Port(); (p == "80" && u.Scheme == "http") || (p == "443" && u.Scheme == "https") {
		u.Host = strings.TrimSuffix(u.Host, ":"+p)
	}
	u.Fragment, u.RawFragment = "", ""
	if u.Host != "" && u.Path == "" && u.Opaque == "" {
		u.Path = "/"
	}
	if u.RawQuery != "" {
		kept := make([]string, 0, 4)
		for _, p := range strings.Split(u.RawQuery, "&") {
			name, _, _ := strings.Cut(p, "=")
			name = strings.ToLower(name)
			if p == "" || strings.HasPrefix(name, "utm_") || name == "fbclid" || name == "gclid" {
				continue
			}
			kept = append(kept, p)
		}
		u.RawQuery = strings.Join(kept, "&")
	}
	u.ForceQuery = false
	return u.String()
}

// Identify sets Keys and AltKeys on every item of one fetch. ids[i] belongs
// to items[i] (ids may be shorter). siteLinks are links that name the feed
// or its site rather than an item (the feed URL, the channel <link>): an
// item whose link is one of them gets no link key.
//
// Keys, strongest first:
//   - "g:"+GUID (or rdf:about, see ItemIDs.About), unless that GUID is
//     shared in this fetch by items that differ in link or title (a feed
//     bug that would otherwise merge them);
//   - "l:"+CanonicalLink(link) (the first enclosure when there is no link),
//     unless the link is shared by several distinct items (status pages,
//     changelogs) or is one of siteLinks;
//   - "h:"+hash(title, summary) when neither of the above applies.
//
// Dates are never part of a key, so an edited item keeps its identity.
func Identify(items []crier.Item, ids []ItemIDs, siteLinks ...string) {
	type cand struct{ guid, link, about string }
	cands := make([]cand, len(items))
	guidFP := map[string]string{} // guid -> fingerprint of its first item; "" once it conflicts
	linkFP := map[string]string{}
	site := map[string]bool{}
	for _, s := range siteLinks {
		if c := CanonicalLink(s); c != "" {
			site[c] = true
		}
	}
	for i, it := range items {
		var id ItemIDs
		if i < len(ids) {
			id = ids[i]
		}
		c := cand{guid: strings.TrimSpace(id.GUID)}
		if c.guid == "" {
			c.about = strings.TrimSpace(id.About)
		}
		if !id.LinkIsGUID {
			c.link = CanonicalLink(it.Link)
		}
		if c.link == "" {
			c.link = CanonicalLink(id.Enclosure)
		}
		if site[c.link] {
			c.link = ""
		}
		// A repeated GUID is harmless on the same story (same title and
		// link); a repeated link only on the same story (same GUID, title
		// and text): status pages reuse one link for every incident.
		noteShared(guidFP, c.guid, shortHash(it.Title+"\x00"+c.link))
		noteShared(guidFP, c.about, shortHash(it.Title+"\x00"+c.link))
		noteShared(linkFP, c.link, shortHash(it.Title+"\x00"+it.Summary+"\x00"+c.guid))
		cands[i] = c
	}
	for i := range items {
		c := cands[i]
		var keys []string
		if c.guid != "" && guidFP[c.guid] != "" {
			keys = append(keys, keyOf("g:", c.guid))
		}
		if c.link != "" && linkFP[c.link] != "" {
			keys = append(keys, keyOf("l:", c.link))
		}
		if len(keys) == 0 {
			keys = append(keys, "h:"+shortHash(items[i].Title+"\x00"+items[i].Summary))
		}
		if c.about != "" && guidFP[c.about] != "" {
			keys = append([]string{keyOf("g:", c.about)}, keys...)
		}
		items[i].Keys = keys
		items[i].AltKeys = nil
		if t := normTitle(items[i].Title); t != "" {
			items[i].AltKeys = []string{"t:" + shortHash(t)[:16]}
		}
	}
}

// noteShared records that value v was seen on an item with fingerprint fp,
// and marks v as shared ("") when a different item carries it too. Items
// with identical fingerprints are true duplicates and may share a key.
func noteShared(m map[string]string, v, fp string) {
	if v == "" {
		return
	}
	prev, seen := m[v]
	switch {
	case !seen:
		m[v] = fp
	case prev != fp:
		m[v] = ""
	}
}

// keyOf prefixes v, hashing it when it is long.
func keyOf(prefix, v string) string {
	if len(v) <= maxKeyValue {
		return prefix + v
	}
	return prefix + "sha256:" + shortHash(v)
}

// shortHash is the first 128 bits of SHA-256, hex: collision-free for any
// realistic feed and half the size of the full digest.
func shortHash(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:16])
}

func normTitle(t string) string {
	return strings.Join(strings.Fields(strings.ToLower(t)), " ")
}
