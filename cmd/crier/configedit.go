package main

// Adding feeds to a config file the user wrote by hand must leave the file
// theirs: every comment, blank line, quote style and alignment where it
// was. yaml.v3 can decode a document to nodes and encode it back with its
// comments, but it drops every blank line and re-aligns trailing comments,
// so a round trip through it rewrites the whole file. AppendFeedsReport
// therefore edits the text: yaml.v3 only finds where the feeds: list is and
// how its entries are indented, and the new entries go in as lines right
// after the last one. The edited text is decoded again and must equal the
// old document plus the new entries; a shape the text edit cannot handle (a
// non-empty flow list `feeds: [{url: …}]`, a flow-style document) falls back
// to a node edit, which keeps comments but not blank lines, checked the
// same way.

import (
	"github.com/crierd/crier"

	"bytes"
	"errors"
	"fmt"
	"io"
	"net/url"
	"reflect"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
)

// FeedSpec is a feed to add to a config: a name and a URL.
type FeedSpec struct{ Name, URL string }

// AppendReport says what AppendFeedsReport did.
type AppendReport struct {
	Added   []FeedSpec // as Load will read them: trimmed, names made unique
	Present []FeedSpec // left out: the URL is configured already or was given twice
}

// AppendFeeds adds feeds to the `feeds:` list of a YAML config, creating the
// list when the config has none, and leaves everything else in the file as
// it was. Feeds whose URL is already in the list are skipped (see
// AppendFeedsReport to learn which). It does not validate the result as a
// crier config: run Load on it before writing it anywhere.
func AppendFeeds(config []byte, feeds []FeedSpec) ([]byte, error) {
	out, _, err := AppendFeedsReport(config, feeds)
	return out, err
}

// AppendFeedsReport is AppendFeeds, also saying which feeds were added and
// which were already present. URLs are compared exactly, after trimming
// space, as Load does when it looks for duplicates. A name that is empty
// becomes the one Load would derive from the URL; a name that is taken
// (Load rejects duplicate names) gets " (2)", " (3)"… appended. Names and
// URLs are taken literally: they are written with EscapeVars, so a "${" in
// them (from an OPML file, say) reads back as "${", never as a variable.
// When nothing is added the config is returned unchanged.
func AppendFeedsReport(config []byte, feeds []FeedSpec) ([]byte, AppendReport, error) {
	var rep AppendReport
	doc, err := decodeOneDoc(config)
	if err != nil {
		return nil, rep, err
	}
	root, key, val, err := feedsNodes(doc)
	if err != nil {
		return nil, rep, err
	}
	if val != nil && val.Kind == yaml.AliasNode {
		return nil, rep, fmt.Errorf("config: feeds: is an alias (line %d); add the feeds by hand", val.Line)
	}
	urls, names := configuredFeeds(val)
	for _, f := range feeds {
		u := strings.TrimSpace(f.URL)
		if u == "" {
			return nil, rep, fmt.Errorf("feed %q: empty url", f.Name)
		}
		if urls[u] {
			rep.Present = append(rep.Present, f)
			continue
		}
		urls[u] = true
		rep.Added = append(rep.Added, FeedSpec{Name: uniqueName(names, specName(f.Name, u)), URL: u})
	}
	if len(rep.Added) == 0 {
		return config, rep, nil
	}

	out, err := textAppend(config, root, key, val, rep.Added)
	if err == nil {
		err = checkAppend(config, out, rep.Added)
	}
	if err != nil {
		var nerr error
		out, nerr = nodeAppend(config, rep.Added)
		if nerr == nil {
			nerr = checkAppend(config, out, rep.Added)
		}
		if nerr != nil {
			return nil, rep, fmt.Errorf("config: cannot add feeds to this file (%v; %v); add them by hand", err, nerr)
		}
	}
	return out, rep, nil
}

// decodeOneDoc decodes config, which must hold at most one document (Load
// refuses more, and an edit must not lose the others).
func decodeOneDoc(config []byte) (*yaml.Node, error) {
	dec := yaml.NewDecoder(bytes.NewReader(config))
	var doc yaml.Node
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("config: %w", err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return nil, errors.New("config: holds more than one YAML document")
	}
	return &doc, nil
}

// feedsNodes finds the root mapping and its feeds: entry; any of them may
// be nil when absent.
func feedsNodes(doc *yaml.Node) (root, key, val *yaml.Node, err error) {
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		return nil, nil, nil, nil
	}
	root = doc.Content[0]
	if root.Kind != yaml.MappingNode {
		return nil, nil, nil, fmt.Errorf("config: line %d: the top level must be a mapping (key: value)", root.Line)
	}
	for i := 0; i+1 < len(root.Content); i += 2 {
		if k := root.Content[i]; k.Kind == yaml.ScalarNode && k.Value == "feeds" {
			return root, k, root.Content[i+1], nil
		}
	}
	return root, nil, nil, nil
}

// configuredFeeds returns the URLs and names (given or derived) of the
// feeds already in the list.
func configuredFeeds(list *yaml.Node) (urls, names map[string]bool) {
	urls, names = map[string]bool{}, map[string]bool{}
	if list == nil || list.Kind != yaml.SequenceNode {
		return urls, names
	}
	for _, item := range list.Content {
		if item.Kind == yaml.AliasNode {
			item = item.Alias
		}
		if item == nil || item.Kind != yaml.MappingNode {
			continue
		}
		var u, name string
		for i := 0; i+1 < len(item.Content); i += 2 {
			switch k, v := item.Content[i].Value, item.Content[i+1]; k {
			case "url":
				u = crier.UnescapeVars(strings.TrimSpace(v.Value))
			case "name":
				name = crier.UnescapeVars(strings.TrimSpace(v.Value))
			}
		}
		if u == "" {
			continue
		}
		urls[u] = true
		names[specName(name, u)] = true
	}
	return urls, names
}

// specName is the name a feed ends up with: the given one with white space
// collapsed, else the host and path as Load derives it.
func specName(name, u string) string {
	if n := strings.Join(strings.Fields(name), " "); n != "" {
		return n
	}
	if p, err := url.Parse(u); err == nil && p.Host != "" {
		return p.Host + strings.TrimRight(p.Path, "/")
	}
	return u
}

func uniqueName(taken map[string]bool, name string) string {
	n := name
	for i := 2; taken[n]; i++ {
		n = fmt.Sprintf("%s (%d)", name, i)
	}
	taken[n] = true
	return n
}

var errNoTextEdit = errors.New("no text edit for this shape")

// textAppend inserts the entries as lines. Columns from yaml.v3 count
// characters, so a line is only cut where the bytes before the cut are
// checked to be what the node says.
func textAppend(config []byte, root, key, val *yaml.Node, added []FeedSpec) ([]byte, error) {
	nl := "\n"
	if bytes.Contains(config, []byte("\r\n")) {
		nl = "\r\n"
	}
	if key == nil {
		col := 0
		if root != nil {
			if root.Style&yaml.FlowStyle != 0 {
				return nil, errNoTextEdit
			}
			col = root.Column - 1
		}
		text := string(config)
		if text != "" && !strings.HasSuffix(text, "\n") {
			text += nl
		}
		if lines := strings.SplitAfter(text, "\n"); len(lines) >= 2 && strings.TrimSpace(lines[len(lines)-2]) != "" {
			text += nl // a blank line before the new section
		}
		text += strings.Repeat(" ", col) + "feeds:" + nl + entryLines(added, col+2, col+4, nl)
		return []byte(text), nil
	}

	lines := strings.SplitAfter(string(config), "\n")
	keyCol := key.Column - 1
	var at, dash, keyIndent int // insert after line index at
	switch {
	case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
		// feeds:, feeds: ~ or feeds: null
		if val.Value != "" && !cutToken(lines, val, val.Value) {
			return nil, errNoTextEdit
		}
		at, dash = afterComments(lines, key.Line-1, keyCol), keyCol+2
		keyIndent = dash + 2
	case val.Kind == yaml.SequenceNode && val.Style&yaml.FlowStyle != 0:
		if len(val.Content) > 0 || val.Line != key.Line {
			return nil, errNoTextEdit
		}
		line := lines[val.Line-1]
		c := val.Column - 1
		if c >= len(line) || line[c] != '[' {
			return nil, errNoTextEdit
		}
		closing := strings.IndexByte(line[c:], ']')
		if closing < 0 {
			return nil, errNoTextEdit
		}
		if !cutToken(lines, val, line[c:c+closing+1]) {
			return nil, errNoTextEdit
		}
		at, dash = afterComments(lines, key.Line-1, keyCol), keyCol+2
		keyIndent = dash + 2
	case val.Kind == yaml.SequenceNode && len(val.Content) > 0:
		dash = val.Column - 1
		last := val.Content[len(val.Content)-1]
		keyIndent = dash + 2
		if last.Kind == yaml.MappingNode && last.Column-1 > dash {
			keyIndent = last.Column - 1
		}
		at = entryEnd(lines, last.Line-1, dash)
	default:
		return nil, errNoTextEdit
	}
	if !strings.HasSuffix(lines[at], "\n") {
		lines[at] += nl
	}
	var b strings.Builder
	for _, l := range lines[:at+1] {
		b.WriteString(l)
	}
	b.WriteString(entryLines(added, dash, keyIndent, nl))
	for _, l := range lines[at+1:] {
		b.WriteString(l)
	}
	return []byte(b.String()), nil
}

// cutToken removes tok (a `~` or `[]` value) where n starts, keeping what
// follows it on the line, such as a comment.
func cutToken(lines []string, n *yaml.Node, tok string) bool {
	i, c := n.Line-1, n.Column-1
	if i < 0 || i >= len(lines) {
		return false
	}
	line := lines[i]
	if c > len(line) || !strings.HasPrefix(line[c:], tok) {
		return false
	}
	lines[i] = strings.TrimRight(line[:c], " \t") + line[c+len(tok):]
	return true
}

// afterComments returns the last of the comment lines indented under the
// key at line i (an empty list's "# add feeds here"), or i.
func afterComments(lines []string, i, keyCol int) int {
	end := i
	for j := i + 1; j < len(lines); j++ {
		l := strings.TrimRight(lines[j], "\r\n")
		t := strings.TrimLeft(l, " \t")
		if t == "" || !strings.HasPrefix(t, "#") || len(l)-len(t) <= keyCol {
			break
		}
		end = j
	}
	return end
}

// entryEnd returns the last line of the list entry that starts at line i
// with its dash at column dash: the last line indented deeper than the
// dash that holds content, or a comment that follows such a line without
// a blank line between them (it annotates the entry). Comments at the
// dash's level, such as a commented-out feed, stay after the new entries.
func entryEnd(lines []string, i, dash int) int {
	end, blank := i, false
	for j := i + 1; j < len(lines); j++ {
		l := strings.TrimRight(lines[j], "\r\n")
		t := strings.TrimLeft(l, " \t")
		indent := len(l) - len(t)
		switch {
		case t == "":
			blank = true
		case strings.HasPrefix(t, "#"):
			if indent > dash && !blank {
				end = j
			}
		case indent <= dash:
			return end
		default:
			end, blank = j, false
		}
	}
	return end
}

func entryLines(added []FeedSpec, dash, keyIndent int, nl string) string {
	var b strings.Builder
	gap := strings.Repeat(" ", max(keyIndent-dash-1, 1))
	for _, f := range added {
		b.WriteString(strings.Repeat(" ", dash) + "-" + gap + "name: " + yamlScalar(crier.EscapeVars(f.Name)) + nl)
		b.WriteString(strings.Repeat(" ", keyIndent) + "url: " + yamlScalar(crier.EscapeVars(f.URL)) + nl)
	}
	return b.String()
}

// yamlScalar renders s as a one-line YAML string, quoted only when needed.
func yamlScalar(s string) string {
	out, err := yaml.Marshal(s)
	if r := strings.TrimSuffix(string(out), "\n"); err == nil && !strings.Contains(r, "\n") {
		return r
	}
	return strconv.Quote(s) // a valid YAML double-quoted string
}

// nodeAppend adds the feeds through yaml.v3's node API.
func nodeAppend(config []byte, added []FeedSpec) ([]byte, error) {
	doc, err := decodeOneDoc(config)
	if err != nil {
		return nil, err
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) == 0 {
		doc = &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{{Kind: yaml.MappingNode}}}
	}
	root, key, val, err := feedsNodes(doc)
	if err != nil {
		return nil, err
	}
	var list *yaml.Node
	switch {
	case key == nil:
		list = &yaml.Node{Kind: yaml.SequenceNode}
		root.Content = append(root.Content, &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: "feeds"}, list)
	case val.Kind == yaml.SequenceNode:
		list = val
	case val.Kind == yaml.ScalarNode && val.Tag == "!!null":
		list = val
		*list = yaml.Node{Kind: yaml.SequenceNode, HeadComment: val.HeadComment, LineComment: val.LineComment, FootComment: val.FootComment}
	default:
		return nil, fmt.Errorf("config: line %d: feeds: is not a list", val.Line)
	}
	str := func(v string) *yaml.Node { return &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: v} }
	for _, f := range added {
		list.Content = append(list.Content, &yaml.Node{Kind: yaml.MappingNode, Content: []*yaml.Node{
			str("name"), str(crier.EscapeVars(f.Name)), str("url"), str(crier.EscapeVars(f.URL)),
		}})
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	return b.Bytes(), nil
}

// checkAppend decodes both versions and requires the edited one to be the
// old one with exactly the new entries at the end of feeds:.
func checkAppend(orig, edited []byte, added []FeedSpec) error {
	var before, after any
	if err := yaml.Unmarshal(orig, &before); err != nil {
		return err
	}
	if err := yaml.Unmarshal(edited, &after); err != nil {
		return fmt.Errorf("edited config does not parse: %w", err)
	}
	if before == nil {
		before = map[string]any{}
	}
	m, ok := before.(map[string]any)
	if !ok {
		return errors.New("the top level is not a mapping of names")
	}
	var list []any
	if v := m["feeds"]; v != nil {
		if list, ok = v.([]any); !ok {
			return errors.New("feeds: is not a list")
		}
	}
	for _, f := range added {
		list = append(list, map[string]any{"name": crier.EscapeVars(f.Name), "url": crier.EscapeVars(f.URL)})
	}
	m["feeds"] = list
	if !reflect.DeepEqual(before, after) {
		return errors.New("the edited config does not read back as the old one plus the new feeds")
	}
	return nil
}
