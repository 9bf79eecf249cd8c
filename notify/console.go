package notify

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/crierd/crier"
)

// Console prints one readable line per notification, for trying crier out
// in a terminal and for `run --once` in scripts.
type Console struct {
	name string
	w    io.Writer
	now  func() time.Time
	mu   sync.Mutex
}

// NewConsole writes to w (usually standard output).
func NewConsole(cfg crier.NotifierConfig, w io.Writer) *Console {
	return &Console{name: cfg.Name, w: w, now: time.Now}
}

// Send prints "HH:MM:SS  FEED  TITLE  LINK", or for a summary
// "HH:MM:SS  FEED: N new headlines: t1; t2; …".
func (c *Console) Send(ctx context.Context, n crier.Notification) error {
	if err := ctx.Err(); err != nil {
		return Temporary(fmt.Errorf("notifier %s: %w", c.name, err), 0)
	}
	var line string
	stamp := c.now().Format("15:04:05")
	switch n.Kind {
	case crier.KindSummary:
		titles := make([]string, 0, len(n.Items))
		for _, h := range n.Items {
			t := collapse(h.Title)
			if t == "" {
				t = h.Link
			}
			titles = append(titles, t)
		}
		count := n.Count
		if count == 0 {
			count = len(n.Items)
		}
		line = fmt.Sprintf("%s  %s: %d new headlines: %s", stamp, sanitize(collapse(n.Feed)), count,
			sanitize(strings.Join(titles, "; ")))
	default:
		feed := collapse(n.Feed)
		if n.Kind == crier.KindTest {
			feed = "crier test"
		}
		head := renderHeadline(n)
		fields := []string{stamp, feed, head}
		if l := strings.TrimSpace(n.Link); l != "" && l != head {
			fields = append(fields, l)
		}
		line = sanitize(strings.Join(fields, "  "))
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, err := io.WriteString(c.w, line+"\n"); err != nil {
		return Temporary(fmt.Errorf("notifier %s: %w", c.name, err), 0)
	}
	return nil
}
