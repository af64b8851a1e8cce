package gateway_test

import (
	"strings"
	"testing"
)

// After a known burst (successes, a 4xx, a 5xx, one retry, one ejection)
// each metric has exactly the expected value.
func TestMetricsAfterAKnownBurst(t *testing.T) {
	good, bad, good2, down := newTrafficBackend(t, "good"), newTrafficBackend(t, "bad"), newTrafficBackend(t, "good2"), newTrafficBackend(t, "down")
	bad.fail.Store(true)
	down.fail.Store(true)
	e := newEnv(t, `
services:
  - name: ok
    protocol: http
    instances: [{address: {{good}}}]
  - name: flaky
    protocol: http
    retry: {attempts: 2, budget_percent: 100}
    outlier: {consecutive_failures: 1, base_ejection: 1m}
    instances: [{address: {{bad}}, weight: 100}, {address: {{good2}}, weight: 1}]
  - name: down
    protocol: http
    retries: 0
    outlier: {consecutive_failures: -1}
    instances: [{address: {{down}}}]
routes:
  - {match: {path: /ok, methods: [POST]}, service: ok, method: M}
  - {match: {path: /flaky, methods: [POST]}, service: flaky, method: M, idempotent: true}
  - {match: {path: /down, methods: [POST]}, service: down, method: M}
`, map[string]string{"good": good.addr(), "bad": bad.addr(), "good2": good2.addr(), "down": down.addr()})
	for _, c := range []struct {
		path, body string
		want       int
	}{
		{"/ok", `{}`, 200}, {"/ok", `{}`, 200}, {"/ok", `{}`, 200},
		{"/ok", `{"broken"`, 400},
		{"/flaky", `{}`, 200}, // the heavy bad instance first, ejected, retried on good2
		{"/down", `{}`, 502},
	} {
		if r := do(t, "POST", e.url+c.path, c.body); r.status != c.want {
			t.Fatalf("POST %s: got %d %s, want %d", c.path, r.status, r.body, c.want)
		}
	}
	text := scrape(t, e.adm+"/metrics")
	want := map[string]string{
		`rpcbridge_requests_total{code="200",method="M",protocol="http",service="ok"}`:                    "3",
		`rpcbridge_requests_total{code="400",method="M",protocol="http",service="ok"}`:                    "1",
		`rpcbridge_requests_total{code="200",method="M",protocol="http",service="flaky"}`:                 "1",
		`rpcbridge_requests_total{code="502",method="M",protocol="http",service="down"}`:                  "1",
		`rpcbridge_request_duration_seconds_count{method="M",protocol="http",service="ok"}`:               "4",
		`rpcbridge_backend_duration_seconds_count{protocol="http",service="flaky"}`:                       "2",
		`rpcbridge_backend_requests_total{instance="` + good.addr() + `",outcome="ok",service="ok"}`:      "3",
		`rpcbridge_backend_requests_total{instance="` + bad.addr() + `",outcome="error",service="flaky"}`: "1",
		`rpcbridge_backend_requests_total{instance="` + good2.addr() + `",outcome="ok",service="flaky"}`:  "1",
		`rpcbridge_backend_requests_total{instance="` + down.addr() + `",outcome="error",service="down"}`: "1",
		`rpcbridge_retries_total{outcome="sent",service="flaky"}`:                                         "1",
		`rpcbridge_ejections_total{service="flaky"}`:                                                      "1",
		`rpcbridge_instances{service="flaky",state="ejected"}`:                                            "1",
		`rpcbridge_instances{service="flaky",state="healthy"}`:                                            "1",
		`rpcbridge_instances{service="ok",state="healthy"}`:                                               "1",
		`rpcbridge_inflight_requests{service="ok"}`:                                                       "0",
		`rpcbridge_config_reloads_total{outcome="ok"}`:                                                    "1",
	}
	got := map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if k, v, ok := strings.Cut(line, " "); ok && !strings.HasPrefix(line, "#") {
			got[k] = v
		}
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: got %q, want %q", k, got[k], v)
		}
	}
	for _, family := range []string{"go_goroutines", "process_cpu_seconds_total", "rpcbridge_schema_refreshes_total"} {
		if !strings.Contains(text, "\n"+family) {
			t.Errorf("/metrics lacks %s", family)
		}
	}
}
