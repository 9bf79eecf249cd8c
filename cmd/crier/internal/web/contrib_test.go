package web

import (
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"go.yaml.in/yaml/v3"

	"github.com/crierd/crier/feeds"
	"github.com/crierd/crier/notify"
)

// contrib is the repository's contrib/ directory.
var contrib = filepath.Join("..", "..", "..", "..", "contrib")

// promtool comes with Debian's prometheus package.
func promtool(t *testing.T) string {
	t.Helper()
	return needTool(t, "promtool", "apt-get install --no-install-recommends prometheus")
}

// TestAlertRules checks contrib/prometheus/alerts.yml and runs its unit
// tests, which make every alert fire (and not fire) on made-up series.
func TestAlertRules(t *testing.T) {
	t.Parallel()
	bin := promtool(t)
	dir := filepath.Join(contrib, "prometheus")
	for _, args := range [][]string{{"check", "rules", "alerts.yml"}, {"test", "rules", "alerts_test.yml"}} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Errorf("promtool %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	// Every alert is exercised by the unit tests.
	rules, tests := readYAML(t, filepath.Join(dir, "alerts.yml")), readYAML(t, filepath.Join(dir, "alerts_test.yml"))
	for _, name := range regexp.MustCompile(`(?m)^\s*- alert: (\w+)`).FindAllStringSubmatch(rules, -1) {
		if !strings.Contains(tests, "alertname: "+name[1]+"\n") {
			t.Errorf("alert %s has no test in alerts_test.yml", name[1])
		}
	}
}

func readYAML(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// exportedMetrics scrapes /metrics of the real handler after every kind
// of observation, and returns every series name a query may use.
func exportedMetrics(t *testing.T) map[string]bool {
	t.Helper()
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg, f.store, f.daemon.Feeds)
	srv := serve(t, NewHandler(Options{Store: f.store, Daemon: f.daemon, Metrics: m}), listenerRemote)
	good := f.daemon.feeds[0]
	m.ObservePoll(good, feeds.Result{Status: 200, Bytes: 1500, Items: 20, New: 3, Stats: feeds.PlanStats{Filtered: 2}}, time.Second)
	m.ObservePoll(good, feeds.Result{Status: 500, Err: errors.New("HTTP 500")}, time.Second)
	m.ObserveSend("phone", nil)
	m.ObserveSend("phone", notify.Permanent(errors.New("HTTP 400")))
	m.SetQuota("phone", 9876)

	names := map[string]bool{}
	for name, fam := range scrape(t, srv.URL) {
		names[name] = true
		if fam.GetType() == dto.MetricType_HISTOGRAM {
			for _, suffix := range []string{"_bucket", "_sum", "_count"} {
				names[name+suffix] = true
			}
		}
	}
	return names
}

// promqlWords are PromQL's functions, aggregations and keywords, and
// Grafana's label_values: identifiers in a query that are no metric.
var promqlWords = wordSet(`sum min max avg count stddev stdvar topk bottomk quantile group count_values
		by without on ignoring group_left group_right and or unless bool offset
		rate irate increase delta idelta deriv predict_linear resets changes histogram_quantile
		abs ceil floor round clamp clamp_min clamp_max exp ln log2 log10 sqrt
		time timestamp vector scalar absent absent_over_time label_replace label_join sort sort_desc
		avg_over_time min_over_time max_over_time sum_over_time count_over_time last_over_time quantile_over_time
		day_of_month day_of_week hour minute month year inf nan label_values`)

func wordSet(words string) map[string]bool {
	set := map[string]bool{}
	for _, w := range strings.Fields(words) {
		set[w] = true
	}
	return set
}

var (
	promString   = regexp.MustCompile(`"(?:[^"\\]|\\.)*"`)
	promMatchers = regexp.MustCompile(`\{[^}]*\}`)
	promRange    = regexp.MustCompile(`\[[^\]]*\]`)
	promGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`)
	grafanaVar   = regexp.MustCompile(`\$\{?\w+\}?`)
	labelValues  = regexp.MustCompile(`label_values\(\s*([^,()]+(?:\([^)]*\))?)\s*,\s*\w+\s*\)`)
	promIdent    = regexp.MustCompile(`[A-Za-z_:][A-Za-z0-9_:]*`)
)

// metricNames lists the metric names a PromQL expression (or a Grafana
// label_values query) refers to: the identifiers left once strings, label
// matchers, ranges, grouping labels, variables, functions and numbers are
// taken out.
func metricNames(expr string) []string {
	s := labelValues.ReplaceAllString(expr, "$1")
	s = grafanaVar.ReplaceAllString(s, " ")
	s = promString.ReplaceAllString(s, " ")
	s = promMatchers.ReplaceAllString(s, " ")
	s = promRange.ReplaceAllString(s, " ")
	s = promGrouping.ReplaceAllString(s, " ")
	var names []string
	for _, loc := range promIdent.FindAllStringIndex(s, -1) {
		if loc[0] > 0 && strings.ContainsRune("0123456789.", rune(s[loc[0]-1])) {
			continue // the exponent or unit of a number
		}
		if w := s[loc[0]:loc[1]]; !promqlWords[w] {
			names = append(names, w)
		}
	}
	return names
}

func TestMetricNames(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ expr, want string }{
		{`histogram_quantile(0.95, sum by (le, feed) (rate(crier_fetch_duration_seconds_bucket{instance=~"$instance", feed=~"a}b"}[$__rate_interval])))`, "crier_fetch_duration_seconds_bucket"},
		{`time() - max without (feed) (crier_last_success_timestamp_seconds) > 2 * 3600`, "crier_last_success_timestamp_seconds"},
		{"sum without (result) (rate(x_total{result!=\"delivered\"}[30m])) > 0\n unless on (notifier) y > 1e3", "x_total y"},
		{`label_values(crier_feed_failures{instance=~"$instance"}, feed)`, "crier_feed_failures"},
		{`count(up > 0) or vector(0)`, "up"},
	} {
		if got := strings.Join(metricNames(tc.expr), " "); got != tc.want {
			t.Errorf("metricNames(%q) = %q, want %q", tc.expr, got, tc.want)
		}
	}
}

// dashboardQueries returns every query of a Grafana dashboard: panel
// targets (rows nest panels) and query variables, keyed by where they are.
func dashboardQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	var dash struct {
		Panels     []dashPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &dash); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	queries := map[string]string{}
	var walk func([]dashPanel)
	walk = func(ps []dashPanel) {
		for _, p := range ps {
			for _, tg := range p.Targets {
				queries["panel "+p.Title+" "+tg.RefID] = tg.Expr
			}
			walk(p.Panels)
		}
	}
	walk(dash.Panels)
	for _, v := range dash.Templating.List {
		if v.Type != "query" {
			continue
		}
		var q struct {
			Query string `json:"query"`
		}
		if err := json.Unmarshal(v.Query, &q); err != nil {
			_ = json.Unmarshal(v.Query, &q.Query) // older dashboards: a plain string
		}
		queries["variable "+v.Name] = q.Query
	}
	return queries
}

type dashPanel struct {
	Title   string      `json:"title"`
	Panels  []dashPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// alertQueries returns the expr of every rule in a Prometheus rules file.
func alertQueries(t *testing.T, path string) map[string]string {
	t.Helper()
	var rules struct {
		Groups []struct {
			Rules []struct {
				Alert, Record, Expr string
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal([]byte(readYAML(t, path)), &rules); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	queries := map[string]string{}
	for _, g := range rules.Groups {
		for _, r := range g.Rules {
			queries["alert "+r.Alert+r.Record] = r.Expr
		}
	}
	return queries
}

// TestContribMetricsExist: the Grafana dashboard and the alerts refer
// only to metrics crier exports, so a renamed metric breaks this test, not
// somebody's dashboard.
func TestContribMetricsExist(t *testing.T) {
	t.Parallel()
	exported := exportedMetrics(t)
	used := map[string]bool{}
	for file, queries := range map[string]map[string]string{
		"contrib/grafana/crier.json":    dashboardQueries(t, filepath.Join(contrib, "grafana", "crier.json")),
		"contrib/prometheus/alerts.yml": alertQueries(t, filepath.Join(contrib, "prometheus", "alerts.yml")),
	} {
		distinct := map[string]bool{}
		for where, q := range queries {
			names := metricNames(q)
			if len(names) == 0 {
				t.Errorf("%s, %s: no metric in %q", file, where, q)
			}
			for _, name := range names {
				distinct[name], used[name] = true, true
				if !exported[name] {
					t.Errorf("%s, %s: %s is not a metric crier exports (query %q)", file, where, name, q)
				}
			}
		}
		// A broken extraction must not pass for a clean bill.
		if len(queries) < 7 || len(distinct) < 6 {
			t.Errorf("%s: only %d queries over %d metrics found", file, len(queries), len(distinct))
		}
	}
	var unused []string
	for name := range exported {
		if strings.HasPrefix(name, "crier_") && !used[name] && !strings.HasSuffix(name, "_bucket") {
			unused = append(unused, name)
		}
	}
	sort.Strings(unused)
	t.Logf("crier metrics neither charted nor alerted on: %v", unused)
}
