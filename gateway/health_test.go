package gateway_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

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
