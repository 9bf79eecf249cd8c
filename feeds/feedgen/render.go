package feedgen

import (
	"encoding/json"
	"fmt"
	"html"
	"strings"
	"time"
)

var (
	subjects = []string{"Parliament", "Central bank", "Storm front", "Tech giant", "Striking workers", "Research team", "City council", "Football club", "Court", "Health agency"}
	verbs    = []string{"approves", "rejects", "delays", "announces", "investigates", "warns about", "celebrates", "questions", "expands", "cuts"}
	objects  = []string{"new budget", "rate decision", "coastal evacuation", "chip plant", "wage deal", "vaccine trial", "tram line", "transfer record", "privacy ruling", "water tariffs"}
)

// item describes the n-th item ever published by feed f.
type item struct {
	id, title, link, desc string
	published             time.Time
}

func (s *Server) item(f, n int) item {
	title := fmt.Sprintf("%s %s %s (%d)", subjects[(f+n)%len(subjects)], verbs[(f*3+n)%len(verbs)], objects[(n*7+f)%len(objects)], n)
	link := fmt.Sprintf("%s/news/%d/%d-%s", s.URL, f, n, strings.ReplaceAll(strings.ToLower(objects[(n*7+f)%len(objects)]), " ", "-"))
	return item{
		id:        fmt.Sprintf("urn:feedgen:%d:%d", f, n),
		title:     title,
		link:      link,
		desc:      s.description(title),
		published: s.epoch.Add(time.Duration(n) * 17 * time.Minute),
	}
}

// description is realistic article HTML: paragraphs, links, an image,
// entities, padded to the configured size.
func (s *Server) description(title string) string {
	var b strings.Builder
	b.WriteString(`<p><img src="https://img.example.org/lead.jpg" alt="" width="640" height="360"/></p>`)
	for b.Len() < s.opt.DescBytes {
		fmt.Fprintf(&b, `<p>%s &mdash; officials said on Tuesday that the plan &amp; its costs would be <a href="https://example.org/ctx?id=%d">reviewed</a> by a panel of &ldquo;independent experts&rdquo;, with <strong>results</strong> expected within weeks.</p>`, html.EscapeString(title), b.Len())
	}
	return b.String()
}

func (s *Server) rss(b *strings.Builder, f, total, shown int) {
	fmt.Fprintf(b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rss version=\"2.0\" xmlns:content=\"http://purl.org/rss/1.0/modules/content/\">\n<channel>\n<title>Generated News %d</title>\n<link>%s/site/%d</link>\n<description>News-like feed for tests</description>\n", f, s.URL, f)
	for n := total - 1; n >= total-shown; n-- {
		it := s.item(f, n)
		fmt.Fprintf(b, "<item>\n<title>%s</title>\n<link>%s</link>\n<guid isPermaLink=\"false\">%s</guid>\n<pubDate>%s</pubDate>\n<category>World</category>\n<description><![CDATA[%s]]></description>\n</item>\n",
			html.EscapeString(it.title), it.link, it.id, it.published.Format(time.RFC1123Z), it.desc)
	}
	b.WriteString("</channel>\n</rss>\n")
}

func (s *Server) atom(b *strings.Builder, f, total, shown int) {
	fmt.Fprintf(b, "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<feed xmlns=\"http://www.w3.org/2005/Atom\">\n<title>Generated News %d</title>\n<link href=\"%s/site/%d\"/>\n<id>urn:feedgen:%d</id>\n<updated>%s</updated>\n", f, s.URL, f, f, s.epoch.Format(time.RFC3339))
	for n := total - 1; n >= total-shown; n-- {
		it := s.item(f, n)
		fmt.Fprintf(b, "<entry>\n<title>%s</title>\n<link href=\"%s\"/>\n<id>%s</id>\n<updated>%s</updated>\n<category term=\"World\"/>\n<summary type=\"html\">%s</summary>\n</entry>\n",
			html.EscapeString(it.title), it.link, it.id, it.published.Format(time.RFC3339), html.EscapeString(it.desc))
	}
	b.WriteString("</feed>\n")
}

func (s *Server) json(b *strings.Builder, f, total, shown int) {
	type jitem struct {
		ID            string   `json:"id"`
		URL           string   `json:"url"`
		Title         string   `json:"title"`
		ContentHTML   string   `json:"content_html"`
		DatePublished string   `json:"date_published"`
		Tags          []string `json:"tags"`
	}
	doc := struct {
		Version     string  `json:"version"`
		Title       string  `json:"title"`
		HomePageURL string  `json:"home_page_url"`
		Items       []jitem `json:"items"`
	}{Version: "https://jsonfeed.org/version/1.1", Title: fmt.Sprintf("Generated News %d", f), HomePageURL: fmt.Sprintf("%s/site/%d", s.URL, f)}
	for n := total - 1; n >= total-shown; n-- {
		it := s.item(f, n)
		doc.Items = append(doc.Items, jitem{it.id, it.link, it.title, it.desc, it.published.Format(time.RFC3339), []string{"World"}})
	}
	out, _ := json.Marshal(doc)
	b.Write(out)
}
