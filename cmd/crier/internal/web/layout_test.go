package web

import (
	"bytes"
	"context"
	"encoding/base64"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// needTool finds the program name, skipping the test without it and
// failing it under CI, which must have it; install says how to get it.
func needTool(t *testing.T, name, install string) string {
	t.Helper()
	bin, err := exec.LookPath(name)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s not found; CI must have it (%s)", name, install)
		}
		t.Skipf("%s not found; install it to run this test: %s", name, install)
	}
	return bin
}

func chromium(t *testing.T) string {
	t.Helper()
	return needTool(t, "chromium", "apt-get install chromium")
}

// layout is what the page measures of itself in the browser.
type layout struct {
	ScrollWidth int      `json:"scrollWidth"`
	ClientWidth int      `json:"clientWidth"`
	Wide        []string `json:"wide"`        // elements reaching past the viewport
	Overflowing []string `json:"overflowing"` // cards whose content is wider than they are
	Columns     map[string]int
	Cards       int      `json:"cards"`
	SmallTaps   []string `json:"smallTaps"` // buttons too small for a thumb
	Background  string   `json:"background"`
}

const measure = `(() => {
  const vw = document.documentElement.clientWidth;
  const name = e => e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className && e.className.baseVal === undefined ? '.' + e.className.trim().replace(/\s+/g, '.') : '') + (e.dataset && e.dataset.feed ? '[' + e.dataset.feed + ']' : '');
  const out = {scrollWidth: document.documentElement.scrollWidth, clientWidth: vw, wide: [], overflowing: [], Columns: {}, smallTaps: [],
    cards: document.querySelectorAll('.card').length, background: getComputedStyle(document.documentElement).backgroundColor};
  const wide = new Set(); // only the outermost of nested offenders is named
  for (const e of document.body.querySelectorAll('*')) {
    const b = e.getBoundingClientRect();
    if (b.width > 0 && (b.right > vw + 0.5 || b.left < -0.5)) {
      wide.add(e);
      if (!wide.has(e.parentElement)) out.wide.push(name(e) + ' ' + Math.round(b.left) + '..' + Math.round(b.right));
    }
  }
  for (const c of document.querySelectorAll('.card, .story, .note')) {
    if (c.scrollWidth > c.clientWidth + 1) out.overflowing.push(name(c));
  }
  for (const id of ['feeds', 'notifiers', 'outbox', 'dead']) {
    const lefts = new Set([...document.querySelectorAll('#' + id + ' > .card')].map(c => Math.round(c.getBoundingClientRect().left)));
    out.Columns[id] = lefts.size;
  }
  for (const b of document.querySelectorAll('button')) {
    if (b.getBoundingClientRect().height < 32) out.smallTaps.push(b.textContent);
  }
  return out;
})()`

// TestStatusPageLayoutInChromium renders the page in headless Chromium on a
// phone (390×844) and a desktop (1280×800), light and dark, and checks the
// layout rules a user would: nothing scrolls sideways, no element or text
// leaves the screen or its card, cards stack in one column on the phone and
// use the width on the desktop, buttons are thumb-sized, the dark scheme
// is dark. Set CRIER_SCREENSHOTS=DIR to keep the screenshots.
func TestStatusPageLayoutInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startChromium(t, bin)

	for _, tc := range []struct {
		name          string
		width, height int
		scheme        string
		columns       func(int) bool
		dark          bool
	}{
		{"phone", 390, 844, "light", func(n int) bool { return n == 1 }, false},
		{"phone-dark", 390, 844, "dark", func(n int) bool { return n == 1 }, true},
		{"desktop", 1280, 800, "light", func(n int) bool { return n >= 3 }, false},
		{"desktop-dark", 1280, 800, "dark", func(n int) bool { return n >= 3 }, true},
	} {
		tb, err := c.newTab(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if err := c.call(ctx, tb.session, "Emulation.setDeviceMetricsOverride", map[string]any{
			"width": tc.width, "height": tc.height, "deviceScaleFactor": 1, "mobile": tc.width < 600,
		}, nil); err != nil {
			t.Fatal(err)
		}
		if err := c.call(ctx, tb.session, "Emulation.setEmulatedMedia", map[string]any{
			"features": []map[string]string{{"name": "prefers-color-scheme", "value": tc.scheme}},
		}, nil); err != nil {
			t.Fatal(err)
		}
		if err := tb.navigate(ctx, srv.URL+"/"); err != nil {
			t.Fatal(err)
		}
		var l layout
		if err := tb.eval(ctx, measure, &l); err != nil {
			t.Fatal(err)
		}
		if l.ClientWidth != tc.width || l.ScrollWidth > l.ClientWidth {
			t.Errorf("%s: document %d px wide in a %d px viewport (%d), want no horizontal scroll", tc.name, l.ScrollWidth, l.ClientWidth, tc.width)
		}
		if len(l.Wide) > 0 {
			t.Errorf("%s: elements past the viewport: %v", tc.name, l.Wide)
		}
		if len(l.Overflowing) > 0 {
			t.Errorf("%s: content overflows: %v", tc.name, l.Overflowing)
		}
		if l.Cards < len(f.daemon.feeds) {
			t.Errorf("%s: %d cards, want at least one per feed", tc.name, l.Cards)
		}
		if !tc.columns(l.Columns["feeds"]) {
			t.Errorf("%s: feed cards in %d columns", tc.name, l.Columns["feeds"])
		}
		if len(l.SmallTaps) > 0 {
			t.Errorf("%s: buttons under 32 px tall: %v", tc.name, l.SmallTaps)
		}
		if lum := luminance(l.Background); lum < 0 {
			t.Errorf("%s: background %q is not an rgb() colour", tc.name, l.Background)
		} else if dark := lum < 0.2; dark != tc.dark {
			t.Errorf("%s: background %s, want dark %v", tc.name, l.Background, tc.dark)
		}

		var shot struct {
			Data string `json:"data"`
		}
		if err := c.call(ctx, tb.session, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot); err != nil {
			t.Fatal(err)
		}
		b, err := base64.StdEncoding.DecodeString(shot.Data)
		if err != nil {
			t.Fatal(err)
		}
		img, err := png.Decode(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("%s: screenshot: %v", tc.name, err)
		}
		if got := img.Bounds().Dx(); got != tc.width {
			t.Errorf("%s: screenshot %d px wide, want %d", tc.name, got, tc.width)
		}
		if dir := os.Getenv("CRIER_SCREENSHOTS"); dir != "" {
			if err := os.WriteFile(filepath.Join(dir, "status-"+tc.name+".png"), b, 0o644); err != nil {
				t.Error(err)
			}
		}
	}
}

// luminance of a CSS "rgb(r, g, b)" colour, 0 (black) to 1 (white).
func luminance(css string) float64 {
	css = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(css, "rgba("), "rgb("), ")")
	parts := strings.Split(css, ",")
	if len(parts) < 3 {
		return -1
	}
	var v [3]float64
	for i := range 3 {
		n, _ := strconv.Atoi(strings.TrimSpace(parts[i]))
		v[i] = float64(n) / 255
	}
	return 0.2126*v[0] + 0.7152*v[1] + 0.0722*v[2]
}

// TestPageActionsInChromium clicks every action's button on the phone
// layout, as a user would, and checks what the page says and shows after.
func TestPageActionsInChromium(t *testing.T) {
	t.Parallel()
	bin := chromium(t)
	f := newFixture(t)
	srv := serve(t, f.handler(""), listenerLoopback)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	c := startChromium(t, bin)
	tb, err := c.newTab(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.call(ctx, tb.session, "Emulation.setDeviceMetricsOverride", map[string]any{
		"width": 390, "height": 844, "deviceScaleFactor": 1, "mobile": true,
	}, nil); err != nil {
		t.Fatal(err)
	}
	if err := tb.navigate(ctx, srv.URL+"/"); err != nil {
		t.Fatal(err)
	}
	dead := strconv.FormatUint(f.deadID, 10)
	for _, tc := range []struct {
		button string // CSS selector of the button to click
		note   string
		check  string // JavaScript that is true when the action shows
	}{
		{`li.feed[data-feed="good"] button.pause`, "Paused good", `document.querySelector('li.feed[data-feed="good"]').dataset.paused === "true"`},
		{`li.feed[data-feed="good"] button.resume`, "Resumed good", `document.querySelector('li.feed[data-feed="good"]').dataset.paused === "false"`},
		{`li.feed[data-feed="good"] button.poll-now`, "Polled good: ok", `true`},
		{`li.notifier-card[data-notifier="phone"] button.test-notify`, "Test notification sent through phone", `true`},
		{`li.dead[data-id="` + dead + `"] button.redeliver`, "Queued 1 dead letter again", `document.querySelectorAll('li.dead').length === 0`},
	} {
		err := tb.do(ctx, func() error {
			var found bool
			if err := tb.eval(ctx, `(() => { const b = document.querySelector('`+strings.ReplaceAll(tc.button, "'", `\'`)+`'); if (b) b.click(); return !!b; })()`, &found); err != nil {
				return err
			}
			if !found {
				t.Fatalf("no button %s", tc.button)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var got struct {
			Note  string `json:"note"`
			Check bool   `json:"check"`
			URL   string `json:"url"`
		}
		if err := tb.eval(ctx, `({note: (document.getElementById('note') || {}).textContent || '', check: `+tc.check+`, url: location.href})`, &got); err != nil {
			var body string
			_ = tb.eval(ctx, `location.href + "\n" + document.documentElement.outerHTML.slice(0, 3000)`, &body)
			t.Fatalf("%v\n%s", err, body)
		}
		if !strings.Contains(got.Note, tc.note) || !got.Check {
			t.Errorf("after %s: at %s, note %q (want %q), page shows the change: %v", tc.button, got.URL, got.Note, tc.note, got.Check)
		}
	}
	kicks, polled := f.daemon.counts()
	f.daemon.mu.Lock()
	tested := f.daemon.tested
	f.daemon.mu.Unlock()
	if kicks != 1 || len(polled) != 1 || len(tested) != 1 {
		t.Errorf("daemon saw %d kicks, polls %v, tests %v; want one of each", kicks, polled, tested)
	}
}
