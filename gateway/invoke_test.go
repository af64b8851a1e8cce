package gateway_test

import (
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

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
