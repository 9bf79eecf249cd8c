package web

import (
	"fmt"
	"github.com/crierd/crier"
	"html/template"
	"math"
	"strconv"
	"strings"
	"time"
)

// The status page's charts are small inline SVGs rendered here: no script,
// no library, and they scale to whatever width their card has. Each
// carries its numbers in data-values (one per day, oldest first, stacked
// layers joined by "+"), which the tests read and which a curious user can
// see in the page source; hovering a day shows them too (<title>).

// chartDays is how many days the charts show.
const chartDays = 14

// layer is one stacked layer of a bar chart.
type layer struct {
	class  string // CSS class of its bars, i.e. its colour
	name   string // as the tooltip says it: "new", "failed"
	values []float64
}

// barChart draws one bar per day, layers stacked bottom up. label says
// what the chart is for screen readers.
func barChart(class, label string, days []crier.Day, layers ...layer) template.HTML {
	const barW, gap, height = 10.0, 2.0, 40.0
	n := len(days)
	top := 0.0
	for i := range n {
		sum := 0.0
		for _, l := range layers {
			sum += l.values[i]
		}
		top = max(top, sum)
	}
	var b strings.Builder
	vals := make([]string, n)
	for i := range n {
		parts := make([]string, len(layers))
		for j, l := range layers {
			parts[j] = num(l.values[i])
		}
		vals[i] = strings.Join(parts, "+")
	}
	fmt.Fprintf(&b, `<svg class="chart %s" role="img" aria-label="%s" data-values="%s" viewBox="0 0 %g %g" preserveAspectRatio="none" width="100%%" height="%g">`,
		esc(class), esc(label), esc(strings.Join(vals, ",")), float64(n)*(barW+gap), height, height)
	fmt.Fprintf(&b, `<rect class="baseline" x="0" y="%g" width="%g" height="1"/>`, height-1, float64(n)*(barW+gap))
	for i, d := range days {
		var tip []string
		for _, l := range layers {
			tip = append(tip, num(l.values[i])+" "+l.name)
		}
		fmt.Fprintf(&b, `<g><title>%s: %s</title>`, esc(d.Date), esc(strings.Join(tip, ", ")))
		y := height - 1
		for _, l := range layers {
			v := l.values[i]
			if v <= 0 || top <= 0 {
				continue
			}
			h := max(v/top*(height-2), 1.5)
			y -= h
			fmt.Fprintf(&b, `<rect class="bar %s" x="%g" y="%.2f" width="%g" height="%.2f"/>`,
				esc(l.class), float64(i)*(barW+gap)+gap/2, y, barW, h)
		}
		b.WriteString(`</g>`)
	}
	b.WriteString(`</svg>`)
	// Every value interpolated above went through esc.
	return template.HTML(b.String())
}

func esc(s string) string { return template.HTMLEscapeString(s) }

// num prints a count as an integer and anything else with two decimals at
// most.
func num(v float64) string {
	return strconv.FormatFloat(math.Round(v*100)/100, 'f', -1, 64)
}

// series picks one number per day.
func series(days []crier.Day, pick func(crier.Day) float64) []float64 {
	out := make([]float64, len(days))
	for i, d := range days {
		out[i] = pick(d)
	}
	return out
}

func newItemsChart(days []crier.Day, feedID string) template.HTML {
	v := series(days, func(d crier.Day) float64 { return float64(d.New[feedID]) })
	return barChart("chart-new", fmt.Sprintf("new items per day, last %d days: %s", len(days), total(v)), days,
		layer{"bar-new", "new", v})
}

func sentChart(days []crier.Day, notifier string) template.HTML {
	v := series(days, func(d crier.Day) float64 { return float64(d.Sent[notifier]) })
	return barChart("chart-sent", fmt.Sprintf("notifications per day, last %d days: %s", len(days), total(v)), days,
		layer{"bar-sent", "sent", v})
}

func pollsChart(days []crier.Day) template.HTML {
	ok := series(days, func(d crier.Day) float64 { return float64(d.Polls - d.Failures) })
	failed := series(days, func(d crier.Day) float64 { return float64(d.Failures) })
	return barChart("chart-polls", fmt.Sprintf("polls per day, last %d days: %s, %s failed", len(days), total(ok), total(failed)), days,
		layer{"bar-ok", "ok", ok}, layer{"bar-failed", "failed", failed})
}

func durationChart(days []crier.Day) template.HTML {
	mean := series(days, func(d crier.Day) float64 {
		if d.Polls == 0 {
			return 0
		}
		return (d.PollTime / time.Duration(d.Polls)).Seconds()
	})
	slowest := series(days, func(d crier.Day) float64 { return d.PollMax.Seconds() })
	return barChart("chart-duration", fmt.Sprintf("mean poll duration per day in seconds, last %d days; slowest %s s", len(days), num(top(slowest))), days,
		layer{"bar-duration", "s mean", mean})
}

func total(v []float64) string {
	sum := 0.0
	for _, x := range v {
		sum += x
	}
	return num(sum)
}

func top(v []float64) float64 {
	m := 0.0
	for _, x := range v {
		m = max(m, x)
	}
	return m
}
