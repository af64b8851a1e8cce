package gateway_test

import (
	"testing"
)

func TestAPIKeyAuthentication(t *testing.T) {
	b := newBackend(t, "b")
	t.Setenv("RB_TEST_KEY", "s3cret-from-env")
	y := `
server:
  auth:
    keys:
      - {name: web, key: "k-web-123"}
      - {name: batch, key_env: RB_TEST_KEY}
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
  - name: open
    protocol: http
    public: true
    instances: [{address: "{{b}}"}]
`
	e := newEnv(t, y, map[string]string{"b": b.addr()})
	cases := []struct {
		name, path string
		hdr        []string
		status     int
	}{
		{"no key", "/s/M", nil, 401},
		{"wrong key", "/s/M", []string{"X-API-Key", "nope"}, 401},
		{"key", "/s/M", []string{"X-API-Key", "k-web-123"}, 200},
		{"key from the environment", "/s/M", []string{"X-API-Key", "s3cret-from-env"}, 200},
		{"public service, no key", "/open/M", nil, 200},
		{"unknown route, no key: 401, not 404", "/nothing/here/at/all", nil, 401},
		{"unknown route with a key: 404", "/nothing/here/at/all", []string{"X-API-Key", "k-web-123"}, 404},
	}
	for _, c := range cases {
		r := do(t, "POST", e.url+c.path, "{}", c.hdr...)
		if r.status != c.status {
			t.Errorf("%s: got %d %s, want %d", c.name, r.status, r.body, c.status)
		}
		if c.status == 401 && errCode(t, r.body) != "UNAUTHENTICATED" {
			t.Errorf("%s: got %s, want UNAUTHENTICATED", c.name, r.body)
		}
	}
}

func TestRateLimitAnswers429WithRetryAfter(t *testing.T) {
	b := newBackend(t, "b")
	y := `
server:
  auth:
    keys: [{name: a, key: ka}, {name: b, key: kb}]
services:
  - name: s
    protocol: http
    rate_limit: {rps: 0.5, burst: 2}
    instances: [{address: "{{b}}"}]
  - name: perkey
    protocol: http
    rate_limit: {rps: 0.5, burst: 1, by: api_key}
    instances: [{address: "{{b}}"}]
`
	e := newEnv(t, y, map[string]string{"b": b.addr()})
	var got []int
	for i := 0; i < 3; i++ {
		got = append(got, do(t, "POST", e.url+"/s/M", "{}", "X-API-Key", "ka").status)
	}
	if got[0] != 200 || got[1] != 200 || got[2] != 429 {
		t.Fatalf("burst 2: got %v, want [200 200 429]", got)
	}
	r := do(t, "POST", e.url+"/s/M", "{}", "X-API-Key", "kb")
	if r.status != 429 || r.header.Get("Retry-After") == "" || errCode(t, r.body) != "RESOURCE_EXHAUSTED" {
		t.Fatalf("service-wide bucket: got %d %q %s, want 429 with Retry-After", r.status, r.header.Get("Retry-After"), r.body)
	}
	// One bucket per key: a's second request is limited, b's first is not.
	if s := do(t, "POST", e.url+"/perkey/M", "{}", "X-API-Key", "ka").status; s != 200 {
		t.Fatalf("a first: got %d", s)
	}
	if s := do(t, "POST", e.url+"/perkey/M", "{}", "X-API-Key", "ka").status; s != 429 {
		t.Fatalf("a second: got %d, want 429", s)
	}
	if s := do(t, "POST", e.url+"/perkey/M", "{}", "X-API-Key", "kb").status; s != 200 {
		t.Fatalf("b first: got %d, want 200 (its own bucket)", s)
	}
	if n := b.hits.Load(); n != 4 {
		t.Fatalf("backend hits: got %d, want 4 (limited requests never reach it)", n)
	}
}
