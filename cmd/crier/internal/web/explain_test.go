package web

import (
	"net/url"
	"testing"
)

// GET /api/explain hands the link to the daemon's explain and answers its
// text; a non-link is the caller's mistake, and a daemon without explain
// says so.
func TestAPIExplain(t *testing.T) {
	t.Parallel()
	var asked []string
	explain := func(link string) (string, error) {
		asked = append(asked, link)
		return "item " + link + "\nseen:\n", nil
	}
	for _, tc := range []struct {
		name    string
		explain func(string) (string, error)
		link    string
		code    int
		text    string
		error   string
	}{
		{"a link", explain, "https://news.example/quake?utm_source=x", 200, "item https://news.example/quake?utm_source=x\nseen:\n", ""},
		{"not a link", explain, "%zz", 400, "", `"%zz" is not a link`},
		{"no link", explain, "", 400, "", "give the item's link"},
		{"no explain", nil, "https://news.example/quake", 404, "", "explain is not available"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := openStore(t, nil)
			srv := serve(t, NewHandler(Options{Store: s, Daemon: &fakeDaemon{healthy: true}, Explain: tc.explain}), listenerRemote)
			r := do(t, "GET", srv.URL+"/api/explain?link="+url.QueryEscape(tc.link), "", nil)
			got := decode[struct {
				Link  string `json:"link"`
				Text  string `json:"text"`
				Error string `json:"error"`
			}](t, r)
			if r.code != tc.code || got.Text != tc.text || got.Error != tc.error {
				t.Errorf("GET /api/explain?link=%s: %d %+v, want %d text %q error %q", tc.link, r.code, got, tc.code, tc.text, tc.error)
			}
		})
	}
	if len(asked) != 1 {
		t.Errorf("explain asked for %q, want only the link", asked)
	}
}
