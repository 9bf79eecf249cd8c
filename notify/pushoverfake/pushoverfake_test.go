package pushoverfake

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"
)

func post(t *testing.T, s *Server, v url.Values) (*http.Response, reply) {
	t.Helper()
	resp, err := s.Client().PostForm(s.Endpoint()+"/messages.json", v)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r reply
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
			t.Fatal(err)
		}
	}
	return resp, r
}

func valid() url.Values {
	return url.Values{"token": {Token}, "user": {User}, "message": {"hello"}}
}

func TestValidation(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	with := func(kv ...string) url.Values {
		v := valid()
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}
	tests := []struct {
		name   string
		form   url.Values
		status int
		errIn  string
	}{
		{"ok", valid(), 200, ""},
		{"bad token", with("token", "short"), 400, "token"},
		{"wrong token", with("token", strings.Repeat("a", 30)), 400, "token"},
		{"bad user", with("user", strings.Repeat("b", 30)), 400, "user"},
		{"blank message", with("message", ""), 400, "message cannot be blank"},
		{"long message", with("message", strings.Repeat("é", 1025)), 400, "message is too long"},
		{"max message", with("message", strings.Repeat("é", 1024)), 200, ""},
		{"long title", with("title", strings.Repeat("t", 251)), 400, "title"},
		{"long url", with("url", "https://x/"+strings.Repeat("u", 510)), 400, "url is too long"},
		{"long url title", with("url", "https://x/", "url_title", strings.Repeat("u", 101)), 400, "url_title"},
		{"priority 3", with("priority", "3"), 400, "priority"},
		{"emergency without retry", with("priority", "2", "expire", "60"), 400, "retry"},
		{"emergency short retry", with("priority", "2", "retry", "10", "expire", "60"), 400, "retry"},
		{"emergency long expire", with("priority", "2", "retry", "30", "expire", "10801"), 400, "expire"},
		{"emergency ok", with("priority", "2", "retry", "30", "expire", "10800"), 200, ""},
	}
	for _, tc := range tests {
		resp, r := post(t, s, tc.form)
		if resp.StatusCode != tc.status {
			t.Errorf("%s: status %d, want %d (%v)", tc.name, resp.StatusCode, tc.status, r.Errors)
			continue
		}
		if r.Request == "" {
			t.Errorf("%s: no request id", tc.name)
		}
		if tc.status == 200 {
			if r.Status != 1 || resp.Header.Get("X-Limit-App-Remaining") == "" {
				t.Errorf("%s: reply %+v headers %v", tc.name, r, resp.Header)
			}
			continue
		}
		if r.Status != 0 || !strings.Contains(strings.Join(r.Errors, "|"), tc.errIn) {
			t.Errorf("%s: errors %q, want one mentioning %q", tc.name, r.Errors, tc.errIn)
		}
	}
	if got := len(s.Messages()); got != 3 {
		t.Errorf("recorded %d messages, want 3", got)
	}
	if got := s.Requests(); got != len(tests) {
		t.Errorf("counted %d requests, want %d", got, len(tests))
	}
}

func TestQuotaAndKnobs(t *testing.T) {
	t.Parallel()
	s := New()
	defer s.Close()
	reset := time.Now().Add(time.Hour).Truncate(time.Second)
	s.SetRemaining(1, reset)

	resp, _ := post(t, s, valid())
	if resp.StatusCode != 200 || resp.Header.Get("X-Limit-App-Remaining") != "0" ||
		resp.Header.Get("X-Limit-App-Reset") != strconv.FormatInt(reset.Unix(), 10) {
		t.Fatalf("last message of the quota: %d %v", resp.StatusCode, resp.Header)
	}
	resp, r := post(t, s, valid())
	if resp.StatusCode != 429 || r.Status != 0 || len(r.Errors) == 0 {
		t.Fatalf("over quota: %d %+v", resp.StatusCode, r)
	}

	s.SetRemaining(5, reset)
	s.FailNext(2, 503)
	for i := 0; i < 2; i++ {
		if resp, _ := post(t, s, valid()); resp.StatusCode != 503 {
			t.Fatalf("FailNext #%d: %d", i, resp.StatusCode)
		}
	}
	s.OmitLimitHeaders(true)
	resp, _ = post(t, s, valid())
	if resp.StatusCode != 200 || resp.Header.Get("X-Limit-App-Limit") != "" {
		t.Fatalf("omit headers: %d %v", resp.StatusCode, resp.Header)
	}
	s.SetFailing(500)
	if resp, _ := post(t, s, valid()); resp.StatusCode != 500 {
		t.Fatalf("SetFailing: %d", resp.StatusCode)
	}
	s.SetFailing(0)
	if resp, _ := post(t, s, valid()); resp.StatusCode != 200 {
		t.Fatalf("after SetFailing(0): %d", resp.StatusCode)
	}
	if n := len(s.Messages()); n != 3 {
		t.Fatalf("recorded %d messages, want 3", n)
	}
}

func TestCloseReleasesDelayedRequests(t *testing.T) {
	t.Parallel()
	s := New()
	s.SetDelay(time.Hour)
	errc := make(chan error, 1)
	go func() {
		resp, err := s.Client().PostForm(s.Endpoint()+"/messages.json", valid())
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	for s.Requests() == 0 {
		time.Sleep(time.Millisecond)
	}
	start := time.Now()
	s.Close()
	<-errc
	if d := time.Since(start); d > time.Second {
		t.Fatalf("Close took %v", d)
	}
}
