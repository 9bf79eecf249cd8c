package web

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"testing"
)

// A minimal Chrome DevTools Protocol client over --remote-debugging-pipe:
// chromium reads NUL-terminated JSON commands on fd 3 and writes replies
// and events on fd 4. Standard library only.

type cdpMsg struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Params    json.RawMessage `json:"params,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type cdp struct {
	w       io.Writer
	mu      sync.Mutex
	next    int
	pending map[int]chan cdpMsg
	events  chan cdpMsg
}

// startChromium runs headless chromium with a fresh profile and returns a
// client on its pipe; the process ends with the test.
func startChromium(t *testing.T, bin string) *cdp {
	t.Helper()
	toChrome, cmdIn, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	fromChrome, chromeOut, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
		"--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--hide-scrollbars", "--user-data-dir="+t.TempDir(),
		"--remote-debugging-pipe", "about:blank")
	cmd.ExtraFiles = []*os.File{toChrome, chromeOut} // fds 3 and 4
	cmd.Stderr = io.Discard                          // dbus and GPU chatter
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	toChrome.Close()
	chromeOut.Close()
	c := &cdp{w: cmdIn, pending: map[int]chan cdpMsg{}, events: make(chan cdpMsg, 1024)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := bufio.NewReader(fromChrome)
		for {
			b, err := r.ReadBytes(0)
			if err != nil {
				return
			}
			var m cdpMsg
			if json.Unmarshal(b[:len(b)-1], &m) != nil {
				continue
			}
			if m.ID != 0 {
				c.mu.Lock()
				ch := c.pending[m.ID]
				delete(c.pending, m.ID)
				c.mu.Unlock()
				if ch != nil {
					ch <- m
				}
				continue
			}
			select {
			case c.events <- m:
			default: // nobody waits for that many events
			}
		}
	}()
	t.Cleanup(func() {
		cmdIn.Close()
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		fromChrome.Close()
		<-done
	})
	return c
}

// call sends method with params in session ("" for the browser) and
// decodes the result into result (when not nil).
func (c *cdp) call(ctx context.Context, session, method string, params, result any) error {
	p, err := json.Marshal(params)
	if err != nil {
		return err
	}
	ch := make(chan cdpMsg, 1)
	c.mu.Lock()
	c.next++
	id := c.next
	c.pending[id] = ch
	b, _ := json.Marshal(cdpMsg{ID: id, Method: method, SessionID: session, Params: p})
	_, err = c.w.Write(append(b, 0))
	c.mu.Unlock()
	if err != nil {
		return fmt.Errorf("%s: %w", method, err)
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if result != nil {
			return json.Unmarshal(m.Result, result)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("%s: %w", method, ctx.Err())
	}
}

// drain forgets the events seen so far.
func (c *cdp) drain() {
	for {
		select {
		case <-c.events:
		default:
			return
		}
	}
}

// wait blocks until session reports the event method.
func (c *cdp) wait(ctx context.Context, session, method string) error {
	for {
		select {
		case m := <-c.events:
			if m.Method == method && m.SessionID == session {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", method, ctx.Err())
		}
	}
}

// tab is one page of the browser.
type tab struct {
	c       *cdp
	session string
}

func (c *cdp) newTab(ctx context.Context) (*tab, error) {
	var target struct {
		TargetID string `json:"targetId"`
	}
	if err := c.call(ctx, "", "Target.createTarget", map[string]any{"url": "about:blank"}, &target); err != nil {
		return nil, err
	}
	var att struct {
		SessionID string `json:"sessionId"`
	}
	if err := c.call(ctx, "", "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &att); err != nil {
		return nil, err
	}
	tb := &tab{c, att.SessionID}
	return tb, c.call(ctx, tb.session, "Page.enable", nil, nil)
}

// do runs fn, which starts a navigation, and waits for the new page's load.
func (tb *tab) do(ctx context.Context, fn func() error) error {
	tb.c.drain()
	if err := fn(); err != nil {
		return err
	}
	return tb.c.wait(ctx, tb.session, "Page.loadEventFired")
}

func (tb *tab) navigate(ctx context.Context, url string) error {
	return tb.do(ctx, func() error {
		return tb.c.call(ctx, tb.session, "Page.navigate", map[string]any{"url": url}, nil)
	})
}

// eval evaluates a JavaScript expression and decodes its value into out.
func (tb *tab) eval(ctx context.Context, expr string, out any) error {
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := tb.c.call(ctx, tb.session, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res); err != nil {
		return err
	}
	if res.ExceptionDetails != nil {
		return fmt.Errorf("evaluate %q: %s", expr, res.ExceptionDetails.Text)
	}
	if out == nil {
		return nil
	}
	return json.Unmarshal(res.Result.Value, out)
}
