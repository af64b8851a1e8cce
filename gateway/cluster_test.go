package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// backend is a real HTTP backend that answers {"instance": name}, or fails
// with 500 while broken.
type backend struct {
	name   string
	srv    *httptest.Server
	hits   atomic.Int64
	broken atomic.Bool
}

func newBackend(t *testing.T, name string) *backend {
	b := &backend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.hits.Add(1)
		if b.broken.Load() {
			w.WriteHeader(500)
			return
		}
		fmt.Fprintf(w, `{"instance": %q}`, name)
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func (b *backend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

func instanceOf(t *testing.T, r reply) string {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("got %d %s, want 200", r.status, r.body)
	}
	return strings.Trim(field(t, r.body, "instance"), `"`)
}

func TestGrayTagRoutingAndFallback(t *testing.T) {
	stable, canary := newBackend(t, "stable"), newBackend(t, "canary")
	y := `
services:
  - name: s
    protocol: http
    instances:
      - {address: "{{a}}"}
      - {address: "{{b}}", tags: [canary]}
  - name: strict
    protocol: http
    tag_fallback: false
    instances: [{address: "{{a}}"}]
`
	e := newEnv(t, y, map[string]string{"a": stable.addr(), "b": canary.addr()})
	for i := 0; i < 10; i++ {
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}", "gray", "canary")); got != "canary" {
			t.Fatalf("gray: canary went to %s", got)
		}
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")); got != "stable" {
			t.Fatalf("untagged request went to %s, want stable", got)
		}
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}", "gray", "blue")); got != "stable" {
			t.Fatalf("unknown tag with fallback went to %s, want stable", got)
		}
	}
	if r := do(t, "POST", e.url+"/strict/M", "{}", "gray", "blue"); r.status != 503 || !strings.Contains(r.body, "blue") {
		t.Fatalf("unknown tag without fallback: got %d %s, want 503 naming the tag", r.status, r.body)
	}
}

func TestSameZonePreferenceAndFallback(t *testing.T) {
	near, far := newBackend(t, "near"), newBackend(t, "far")
	y := `
server: {zone: z1}
services:
  - name: s
    protocol: http
    instances:
      - {address: "{{a}}", zone: z1}
      - {address: "{{b}}", zone: z2}
  - name: other
    protocol: http
    instances: [{address: "{{b}}", zone: z2}]
`
	e := newEnv(t, y, map[string]string{"a": near.addr(), "b": far.addr()})
	for i := 0; i < 10; i++ {
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")); got != "near" {
			t.Fatalf("same zone: got %s want near", got)
		}
	}
	if got := instanceOf(t, do(t, "POST", e.url+"/other/M", "{}")); got != "far" {
		t.Fatalf("zone fallback: got %s want far", got)
	}
}

func TestWeightedRoundRobinThroughTheGateway(t *testing.T) {
	a, b := newBackend(t, "a"), newBackend(t, "b")
	y := `
services:
  - name: s
    protocol: http
    instances:
      - {address: "{{a}}", weight: 1}
      - {address: "{{b}}", weight: 3}
`
	e := newEnv(t, y, map[string]string{"a": a.addr(), "b": b.addr()})
	for i := 0; i < 400; i++ {
		instanceOf(t, do(t, "POST", e.url+"/s/M", "{}"))
	}
	if a.hits.Load() != 100 || b.hits.Load() != 300 {
		t.Fatalf("smooth weighted round robin 1:3 over 400: got a=%d b=%d, want 100 and 300", a.hits.Load(), b.hits.Load())
	}
}

func TestConsistentHashKeepsAKeyOnOneInstance(t *testing.T) {
	a, b, c := newBackend(t, "a"), newBackend(t, "b"), newBackend(t, "c")
	y := `
services:
  - name: s
    protocol: http
    balancer: consistent_hash
    hash_key: {header: x-user-id}
    instances: [{address: "{{a}}"}, {address: "{{b}}"}, {address: "{{c}}"}]
`
	e := newEnv(t, y, map[string]string{"a": a.addr(), "b": b.addr(), "c": c.addr()})
	seen := map[string]bool{}
	for u := 0; u < 30; u++ {
		key := fmt.Sprint("user-", u)
		first := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}", "X-User-Id", key))
		seen[first] = true
		for i := 0; i < 3; i++ {
			if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}", "X-User-Id", key)); got != first {
				t.Fatalf("key %s moved from %s to %s", key, first, got)
			}
		}
	}
	if len(seen) < 2 {
		t.Fatalf("30 keys all went to %v", seen)
	}
}

func TestConnectionFailureIsRetriedOnAnotherInstance(t *testing.T) {
	live := newBackend(t, "live")
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	y := `
services:
  - name: s
    protocol: http
    retries: 1
    outlier: {consecutive_failures: -1}
    instances: [{address: "{{dead}}"}, {address: "{{live}}"}]
`
	e := newEnv(t, y, map[string]string{"dead": dead, "live": live.addr()})
	for i := 0; i < 20; i++ {
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")); got != "live" {
			t.Fatalf("got %s", got)
		}
	}
}

func TestOutlierEjectionAndRecovery(t *testing.T) {
	good, bad := newBackend(t, "good"), newBackend(t, "bad")
	bad.broken.Store(true)
	y := `
services:
  - name: s
    protocol: http
    retries: 0
    outlier: {consecutive_failures: 3, base_ejection: 1s, max_ejection_percent: 50}
    instances: [{address: "{{good}}"}, {address: "{{bad}}"}]
`
	e := newEnv(t, y, map[string]string{"good": good.addr(), "bad": bad.addr()})
	failures := 0
	for i := 0; i < 20; i++ {
		if r := do(t, "POST", e.url+"/s/M", "{}"); r.status != 200 {
			failures++
		}
	}
	if failures != 3 {
		t.Fatalf("got %d failed requests, want exactly 3 before the bad instance is ejected", failures)
	}
	r := do(t, "GET", e.adm+"/admin/services", "")
	if !strings.Contains(r.body, `"state":"ejected"`) {
		t.Fatalf("admin should show the ejected instance: %s", r.body)
	}
	bad.broken.Store(false)
	before := bad.hits.Load()
	deadline := time.Now().Add(5 * time.Second)
	for bad.hits.Load() == before && time.Now().Before(deadline) {
		instanceOf(t, do(t, "POST", e.url+"/s/M", "{}"))
		time.Sleep(20 * time.Millisecond)
	}
	if bad.hits.Load() == before {
		t.Fatal("the recovered instance got no traffic after its ejection ended")
	}
}

func TestMaxEjectionPercentKeepsTheLastInstance(t *testing.T) {
	bad := newBackend(t, "bad")
	bad.broken.Store(true)
	y := `
services:
  - name: s
    protocol: http
    retries: 0
    outlier: {consecutive_failures: 1}
    instances: [{address: "{{bad}}"}]
`
	e := newEnv(t, y, map[string]string{"bad": bad.addr()})
	for i := 0; i < 5; i++ {
		if r := do(t, "POST", e.url+"/s/M", "{}"); r.status != 502 {
			t.Fatalf("got %d %s, want the backend's error (502), not 503", r.status, r.body)
		}
	}
	if bad.hits.Load() != 5 {
		t.Fatalf("got %d hits, want 5: the only instance must never be ejected", bad.hits.Load())
	}
}

func TestInstanceThatNeverAnswersTimesOut(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // accept, never answer
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
	y := `
services:
  - name: s
    protocol: http
    timeout: 200ms
    instances: [{address: "{{a}}"}]
`
	e := newEnv(t, y, map[string]string{"a": l.Addr().String()})
	start := time.Now()
	r := do(t, "POST", e.url+"/s/M", "{}")
	if r.status != 504 || errCode(t, r.body) != "DEADLINE_EXCEEDED" {
		t.Fatalf("got %d %s, want 504", r.status, r.body)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Fatalf("took %s, want about the 200ms timeout", el)
	}
}

func TestActiveHealthCheckTakesADeadInstanceOutAndBack(t *testing.T) {
	live := newBackend(t, "live")
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	y := `
services:
  - name: s
    protocol: http
    retries: 0
    outlier: {consecutive_failures: -1}
    health_check: {interval: 50ms, timeout: 200ms}
    instances: [{address: "{{live}}"}, {address: "{{dead}}"}]
`
	e := newEnv(t, y, map[string]string{"live": live.addr(), "dead": addr})
	waitFor := func(what string, f func() bool) {
		deadline := time.Now().Add(5 * time.Second)
		for !f() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("the dead instance to be marked unhealthy", func() bool {
		return strings.Contains(do(t, "GET", e.adm+"/admin/services", "").body, `"state":"unhealthy"`)
	})
	for i := 0; i < 20; i++ {
		if got := instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")); got != "live" {
			t.Fatalf("got %s", got)
		}
	}
	// The instance comes back on the same address.
	revived := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"instance": "revived"}`)
	}))
	rl, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatalf("re-listen on %s: %v", addr, err)
	}
	revived.Listener = rl
	revived.Start()
	t.Cleanup(revived.Close)
	waitFor("the revived instance to get traffic", func() bool {
		return instanceOf(t, do(t, "POST", e.url+"/s/M", "{}")) == "revived"
	})
}
