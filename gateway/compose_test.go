package gateway_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// composeBackend answers POST /<method> with {"method", "got": body,
// "id": 9007199254740993}, after delay; method "fail" fails with 500.
type composeBackend struct {
	srv   *httptest.Server
	delay time.Duration
	calls atomic.Int64
	seen  atomic.Value // the last body received
}

func newComposeBackend(t *testing.T, delay time.Duration) *composeBackend {
	b := &composeBackend{delay: delay}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		body, _ := io.ReadAll(r.Body)
		b.seen.Store(string(body))
		select {
		case <-time.After(b.delay):
		case <-r.Context().Done():
			return
		}
		if strings.HasSuffix(r.URL.Path, "/fail") {
			http.Error(w, `{"error":"down"}`, 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"method":%q,"got":%s,"id":9007199254740993,"items":[{"sku":"A"},{"sku":"B"}]}`, strings.TrimPrefix(r.URL.Path, "/"), orEmpty(body))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func TestAComposedRouteFansOutAndMergesTheReplies(t *testing.T) {
	users, orders, quotes, slow := newComposeBackend(t, 500*time.Millisecond), newComposeBackend(t, 500*time.Millisecond), newComposeBackend(t, 0), newComposeBackend(t, 2*time.Second)
	e := newEnv(t, `
services:
  - {name: users, protocol: http, instances: [{address: "{{users}}"}]}
  - {name: orders, protocol: http, instances: [{address: "{{orders}}"}]}
  - {name: quotes, protocol: http, retries: 0, instances: [{address: "{{quotes}}"}]}
  - {name: slow, protocol: http, timeout: 5s, instances: [{address: "{{slow}}"}]}
routes:
  - match: {path: "/v1/home/{uid}", methods: [GET]}
    compose:
      calls:
        user:   {service: users,  method: getUser,    args: {id: "{uid}"}}
        orders: {service: orders, method: listOrders, args: {customer: "{uid}", limit: 5, big: 9007199254740993}}
        quote:  {service: quotes, method: getQuote,   args: {code: "${user.items.1.sku}", owner: "${user.id}"}, optional: true}
      reply: {user: "${user.got}", orders: "${orders.items}", quote: "${quote}", first: "${orders.items.0.sku}", lang: "{lang}"}
  - match: {path: "/v1/optional/{uid}", methods: [GET]}
    compose:
      calls:
        user:  {service: users, method: getUser, args: {id: "{uid}"}}
        quote: {service: quotes, method: fail, optional: true}
  - match: {path: "/v1/required/{uid}", methods: [GET]}
    compose:
      calls:
        user:  {service: users, method: getUser, args: {id: "{uid}"}}
        quote: {service: quotes, method: fail}
  - match: {path: /v1/slow, methods: [GET]}
    compose:
      timeout: 300ms
      calls:
        s: {service: slow, method: wait}
`, map[string]string{"users": users.srv.Listener.Addr().String(), "orders": orders.srv.Listener.Addr().String(),
		"quotes": quotes.srv.Listener.Addr().String(), "slow": slow.srv.Listener.Addr().String()})

	start := time.Now()
	r := do(t, "GET", e.url+"/v1/home/42?lang=de", "")
	took := time.Since(start)
	if r.status != 200 {
		t.Fatalf("got %d %s", r.status, r.body)
	}
	var got map[string]json.RawMessage
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatalf("reply %s: %v", r.body, err)
	}
	for k, want := range map[string]string{
		"user":   `{"id":"42"}`,
		"orders": `[{"sku":"A"},{"sku":"B"}]`,
		"first":  `"A"`,
		"lang":   `"de"`,
	} {
		if string(got[k]) != want {
			t.Errorf("%s: got %s, want %s", k, got[k], want)
		}
	}
	// The quote call got its arguments from the user's reply, typed as they
	// came: the int64 stays exact.
	if s, _ := quotes.seen.Load().(string); s != `{"code":"B","owner":9007199254740993}` {
		t.Errorf("quote's request: got %s, want the values from user's reply", s)
	}
	if s, _ := orders.seen.Load().(string); s != `{"big":9007199254740993,"customer":"42","limit":5}` {
		t.Errorf("orders' request: got %s", s)
	}
	if !strings.Contains(string(got["quote"]), `"method":"getQuote"`) {
		t.Errorf("quote: got %s", got["quote"])
	}
	// user and orders (500 ms each) run at once; quote waits for user. One
	// after the other they would take at least 1 s.
	if took >= time.Second {
		t.Errorf("a fan-out of two 500 ms calls and a fast dependent one took %s, want under 1 s (in parallel)", took)
	}

	r = do(t, "GET", e.url+"/v1/optional/7", "")
	if r.status != 200 || !strings.Contains(r.body, `"quote":null`) || !strings.Contains(r.body, `"_errors":{"quote":{"error":{"code":"BACKEND_ERROR"`) {
		t.Errorf("an optional call failing: got %d %s, want 200 with quote null and _errors.quote", r.status, r.body)
	}
	r = do(t, "GET", e.url+"/v1/required/7", "")
	if r.status != 502 || !strings.Contains(r.body, `"call":"quote"`) {
		t.Errorf("a required call failing: got %d %s, want 502 with \"call\":\"quote\"", r.status, r.body)
	}
	start = time.Now()
	r = do(t, "GET", e.url+"/v1/slow", "")
	if r.status != 504 || !strings.Contains(r.body, `"call":"s"`) || time.Since(start) > 1500*time.Millisecond {
		t.Errorf("a call slower than compose.timeout: got %d %s after %s, want 504 naming the call, at about 300 ms", r.status, r.body, time.Since(start))
	}
}
