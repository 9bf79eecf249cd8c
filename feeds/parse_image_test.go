package feeds

import (
	"testing"
)

// Each item of testdata/images/ names the image source it exercises; the
// table says which picture a push of it should carry.
func TestParseItemImage(t *testing.T) {
	t.Parallel()

	for _, tc := range []struct {
		file string
		want map[string]string // item title -> image
	}{
		{"images/images.rss", map[string]string{
			"thumbnail":                     "https://blog.example/img/thumb.jpg",
			"media content image by medium": "https://cdn.example/photo",
			"media content image by type":   "https://cdn.example/photo.png",
			"media group":                   "https://cdn.example/in-group.webp",
			"enclosure":                     "https://cdn.example/cover.jpeg",
			"itunes image":                  "https://cdn.example/episode2.jpg",
			"first img of the content, relative to the item": "https://blog.example/posts/2026/pics/lead.jpg?w=800&h=600",
			"first img of the description":                   "https://cdn.example/desc.gif",
			"not http":                                       "",
			"no image":                                       "",
		}},
		{"images/images.atom", map[string]string{
			"atom thumbnail":      "https://blog.example/feeds/thumbs/a1.jpg",
			"atom enclosure link": "https://atom.example/a2.jpg",
			"atom content img":    "https://atom.example/posts/a3.png",
		}},
		{"images/images.json", map[string]string{
			"image":   "https://blog.example/j1.jpg",
			"banner":  "https://json.example/j2-banner.jpg",
			"content": "https://json.example/posts/j3.jpg",
			"none":    "",
		}},
		{"images/images-lenient.json", map[string]string{
			"image":   "https://blog.example/feeds/l1.jpg",
			"banner":  "https://json.example/l2-banner.jpg",
			"content": "https://json.example/posts/l3.jpg",
		}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			p := parseTestdata(t, tc.file, "", 0)
			if len(p.Items) != len(tc.want) {
				t.Fatalf("%d items, want %d", len(p.Items), len(tc.want))
			}
			for _, it := range p.Items {
				want, ok := tc.want[it.Title]
				if !ok {
					t.Errorf("unexpected item %q", it.Title)
					continue
				}
				if it.Image != want {
					t.Errorf("item %q: image %q, want %q", it.Title, it.Image, want)
				}
			}
			if tc.file == "images/images-lenient.json" && !p.Lenient {
				t.Error("the lenient feed decoded strictly: it no longer tests the lenient path")
			}
		})
	}

}

func TestFirstImgSrc(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`<img src="a.jpg">`, "a.jpg"},
		{`<img src=a.jpg>`, "a.jpg"},
		{`<img/src="a.jpg">`, "a.jpg"},
		{`<IMG SRC='a.jpg' />`, "a.jpg"},
		{`<img data-src="lazy.jpg" src="a.jpg">`, "a.jpg"},
		{`<img src="a.jpg?x=1&amp;y=2">`, "a.jpg?x=1&y=2"},
		{`<img alt="no source"><img src="b.jpg">`, "b.jpg"},
		{`<img src="p.gif" width="1" height="1"><img src="b.jpg">`, "b.jpg"},
		{`<imgur src="x.jpg">`, ""},
		{`<img src="cut.jpg"`, ""},
		{`1 < 2 and <i>img</i>`, ""},
		{``, ""},
	} {
		if got := firstImgSrc(tc.in); got != tc.want {
			t.Errorf("firstImgSrc(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
