package crier

import (
	"strings"
	"testing"
	"text/template"
	"time"
)

func TestTemplateJSON(t *testing.T) {
	t.Parallel()
	prio := 2
	n := Notification{
		Title:     `Say "hi"\ <b>` + "\n\xff",
		Published: time.Date(2026, 2, 10, 17, 0, 0, 0, time.UTC),
		Priority:  &prio,
		Items:     []Headline{{Title: "a", Link: "https://x/1"}},
	}
	tests := []struct{ tpl, want string }{
		{`{{json .Title}}`, `"Say \"hi\"\\ <b>\n\ufffd"`},
		{`{{.Title | json}}`, `"Say \"hi\"\\ <b>\n\ufffd"`},
		{`{{json .Published}}`, `"2026-02-10T17:00:00Z"`},
		{`{{json .QueuedAt}}`, `null`}, // zero: unknown, not year 1
		{`{{json .Priority}}`, `2`},
		{`{{json .Count}}`, `0`},
		{`{{json .Categories}}`, `[]`},
		{`{{json .Items}}`, `[{"title":"a","link":"https://x/1"}]`},
	}
	for _, tt := range tests {
		tpl := template.Must(template.New("t").Funcs(TemplateFuncs()).Parse(tt.tpl))
		var b strings.Builder
		if err := tpl.Execute(&b, n); err != nil {
			t.Fatalf("%s: %v", tt.tpl, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s = %s, want %s", tt.tpl, b.String(), tt.want)
		}
	}
	var none *int
	if got, _ := templateJSON(none); got != "null" {
		t.Errorf("nil priority = %s", got)
	}
}
