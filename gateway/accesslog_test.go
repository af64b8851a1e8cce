package gateway_test

import (
	"bufio"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/gateway"
)

// Each access-log line is one JSON object with every field.
func TestAccessLogLinesAreJSONWithEveryField(t *testing.T) {
	b := newTrafficBackend(t, "b")
	var logs lockedBuffer
	s := serveGatewayOpts(t, `
server:
  access_log: true
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
routes:
  - {match: {path: "/v1/items/{id}", methods: [POST]}, service: s, method: get}
`, map[string]string{"b": b.addr()}, gateway.Options{AccessLog: &logs})
	const traceID = "4bf92f3577b34da6a3ce929d0e0e4736"
	do(t, "POST", "http://"+s.addr+"/v1/items/7", `{"x":1}`, "Traceparent", "00-"+traceID+"-00f067aa0ba902b7-01", "X-Request-Id", "req-1")
	do(t, "POST", "http://"+s.addr+"/nowhere/M", `{}`)
	var lines []map[string]any
	waitUntil(t, "two access lines", 10e9, func() bool {
		lines = nil
		for _, l := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var m map[string]any
			if l != "" && json.Unmarshal([]byte(l), &m) == nil {
				lines = append(lines, m)
			}
		}
		return len(lines) == 2
	})
	first := lines[0]
	for _, k := range []string{"time", "trace_id", "span_id", "client_ip", "method", "path", "route", "service", "protocol",
		"rpc_method", "instance", "status", "duration_ms", "bytes_in", "bytes_out", "retries", "request_id"} {
		if _, ok := first[k]; !ok {
			t.Errorf("line %v lacks %q", first, k)
		}
	}
	want := map[string]any{"trace_id": traceID, "client_ip": "127.0.0.1", "method": "POST", "path": "/v1/items/7",
		"route": "/v1/items/{id}", "service": "s", "protocol": "http", "rpc_method": "get", "instance": b.addr(),
		"status": 200.0, "bytes_in": 7.0, "retries": 0.0, "request_id": "req-1"}
	for k, v := range want {
		if first[k] != v {
			t.Errorf("%s: got %v, want %v", k, first[k], v)
		}
	}
	if second := lines[1]; second["status"] != 404.0 || second["error_code"] != "NOT_FOUND" {
		t.Errorf("unrouted request: got %v, want status 404, error_code NOT_FOUND", second)
	}
}

// A writer that cannot keep up drops lines, and counts each: nothing is
// lost silently, and no request waits for the log.
func TestAccessLogDropsAndCountsWhatItCannotWrite(t *testing.T) {
	b := newTrafficBackend(t, "b")
	pr, pw := io.Pipe()
	t.Cleanup(func() { pw.Close() }) // after the gateway closes
	s := serveGatewayOpts(t, `
server:
  access_log: {buffer: 1}
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
`, map[string]string{"b": b.addr()}, gateway.Options{AccessLog: pw})
	const n = 50
	for i := 0; i < n; i++ {
		if r := do(t, "POST", "http://"+s.addr+"/s/M", `{}`); r.status != 200 {
			t.Fatalf("call %d: got %d", i, r.status)
		}
	}
	dropped := 0
	waitUntil(t, "the drops to be counted", 10e9, func() bool {
		for _, line := range strings.Split(scrape(t, "http://"+s.adm+"/metrics"), "\n") {
			if v, ok := strings.CutPrefix(line, "rpcbridge_access_log_dropped_total "); ok {
				dropped, _ = strconv.Atoi(v)
			}
		}
		return dropped >= n-3
	})
	written := make(chan int)
	go func() {
		c := 0
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if c++; c+dropped == n {
				break
			}
		}
		written <- c
		io.Copy(io.Discard, pr)
	}()
	if got := <-written; got+dropped != n {
		t.Errorf("lines written %d + dropped %d: got %d, want %d", got, dropped, got+dropped, n)
	}
}
