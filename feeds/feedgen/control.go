package feedgen

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
)

func (s *Server) controlPublish(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.URL.Query().Get("n"))
	if err != nil || n < 0 {
		http.Error(w, "n must be a count", http.StatusBadRequest)
		return
	}
	s.Publish(n)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) controlValidators(w http.ResponseWriter, r *http.Request) {
	on, err := strconv.ParseBool(r.URL.Query().Get("on"))
	if err != nil {
		http.Error(w, "on must be true or false", http.StatusBadRequest)
		return
	}
	s.SetValidators(on)
	w.WriteHeader(http.StatusNoContent)
}

// Remote drives a Server started with Options.Control from another
// process. The zero Client means http.DefaultClient.
type Remote struct {
	URL    string // the Server's URL
	Client *http.Client
}

// FeedURL is the address of feed i.
func (r Remote) FeedURL(i int) string { return r.URL + "/feed/" + strconv.Itoa(i) }

// Publish asks the server to publish n items on every feed; it returns
// once every feed has been rendered again.
func (r Remote) Publish(ctx context.Context, n int) error {
	return r.post(ctx, "/control/publish?n="+strconv.Itoa(n))
}

// SetValidators turns the server's ETags and 304 answers on or off.
func (r Remote) SetValidators(ctx context.Context, on bool) error {
	return r.post(ctx, "/control/validators?on="+strconv.FormatBool(on))
}

func (r Remote) post(ctx context.Context, path string) error {
	c := r.Client
	if c == nil {
		c = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, r.URL+path, nil)
	if err != nil {
		return fmt.Errorf("feedgen %s: %w", path, err)
	}
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("feedgen %s: %w", path, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("feedgen %s: HTTP %d: %s", path, resp.StatusCode, body)
	}
	return nil
}
