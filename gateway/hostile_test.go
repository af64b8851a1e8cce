package gateway_test

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/internal/syncbuf"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// served is a gateway running Serve on real loopback listeners, as
// `rpcbridge serve` runs it.
type served struct {
	gw        *gateway.Gateway
	addr, adm string
	reg       *prometheus.Registry
}

func serveGateway(t *testing.T, yaml string, vars map[string]string) *served {
	t.Helper()
	return serveGatewayLog(t, yaml, vars, nil)
}

func serveGatewayLog(t *testing.T, yaml string, vars map[string]string, log *slog.Logger) *served {
	return serveGatewayOpts(t, yaml, vars, gateway.Options{Logger: log})
}

// serveGatewayOpts is serveGateway with options (a private metrics
// registry is added).
func serveGatewayOpts(t *testing.T, yaml string, vars map[string]string, opts gateway.Options) *served {
	t.Helper()
	for k, v := range vars {
		yaml = strings.ReplaceAll(yaml, "{{"+k+"}}", v)
	}
	cfg, err := mapping.Parse([]byte(yaml), plugins())
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg := prometheus.NewRegistry()
	opts.Metrics = reg
	g, err := gateway.New(cfg, []byte(yaml), opts)
	if err != nil {
		t.Fatal(err)
	}
	data, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	admin, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Serve(ctx, data, admin, gateway.AdminOptions{Reload: func() error { return nil }}) }()
	t.Cleanup(func() {
		cancel()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			t.Error("Serve did not return within 15s of its context ending")
		}
		g.Close()
	})
	return &served{gw: g, addr: data.Addr().String(), adm: admin.Addr().String(), reg: reg}
}

// dial opens a connection to the data plane, closed when the test ends.
func (s *served) dial(t *testing.T) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", s.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// dribble writes next(0), next(1), ... on c, one every 300 ms, until the
// returned stop is called or a write fails: a client that never finishes
// its request.
func dribble(c net.Conn, next func(i int) string) (stop func()) {
	done := make(chan struct{})
	go func() {
		for i := 0; ; i++ {
			select {
			case <-done:
				return
			case <-time.After(300 * time.Millisecond):
				if _, err := io.WriteString(c, next(i)); err != nil {
					return
				}
			}
		}
	}()
	return func() { close(done) }
}

// rawExchange writes req on a new connection and returns the reply read
// until the server closes the connection or 5 s pass.
func rawExchange(t *testing.T, addr, req string) string {
	t.Helper()
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, req); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(c)
	return string(b)
}

// closedWithin reads from c until the server closes it; it fails when that
// takes longer than d.
func closedWithin(t *testing.T, what string, c net.Conn, d time.Duration) {
	t.Helper()
	start := time.Now()
	c.SetReadDeadline(start.Add(d + 5*time.Second))
	io.Copy(io.Discard, c)
	if took := time.Since(start); took > d {
		t.Errorf("%s: the server closed the connection after %v, want within %v", what, took.Round(10*time.Millisecond), d)
	}
}

// waitGoroutines waits until the goroutine count is back to at most base.
func waitGoroutines(t *testing.T, base int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("got %d goroutines, want at most %d as before:\n%s", runtime.NumGoroutine(), base, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

const limitsYAML = `
server:
  read_timeout: 1s
  idle_timeout: 1s
  max_connections: 4
  auth:
    keys: [{name: k, key: good-key}]
    max_failures_per_minute: 5
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
  - name: open
    protocol: http
    public: true
    instances: [{address: "{{b}}"}]
`

func TestSlowBodyIsCutOffByReadTimeout(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	c := s.dial(t)
	fmt.Fprintf(c, "POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{")
	defer dribble(c, func(int) string { return " " })() // one byte every 300 ms, for ever
	closedWithin(t, "slow body", c, 2*time.Second)      // read_timeout 1s + 1s
	if n := b.hits.Load(); n != 0 {
		t.Errorf("backend got %d calls, want 0", n)
	}
}

func TestSlowBodyToA401IsNotReadAndTheConnectionCloses(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	c := s.dial(t)
	fmt.Fprintf(c, "POST /s/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000000\r\n\r\n{")
	start := time.Now()
	c.SetReadDeadline(start.Add(5 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("no answer before the body: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("got %d %q, want 401 application/json", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if !resp.Close {
		t.Error("got a kept-alive connection after a 401 to a request whose body was not read, want Connection: close")
	}
	closedWithin(t, "401 with unread body", c, time.Second)
}

func TestSlowHeaderIsCutOff(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	c := s.dial(t)
	fmt.Fprintf(c, "POST /open/M HTTP/1.1\r\nHost: x\r\n")
	defer dribble(c, func(i int) string { return fmt.Sprintf("X-%d: y\r\n", i) })() // a header line every 300 ms
	closedWithin(t, "slow header", c, 2*time.Second)
}

func TestIdleKeepAliveConnectionIsClosed(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	c := s.dial(t)
	fmt.Fprintf(c, "POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}")
	br := bufio.NewReader(c)
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || resp.Close {
		t.Fatalf("got %d close=%v, want 200 kept alive", resp.StatusCode, resp.Close)
	}
	start := time.Now()
	if _, err := br.ReadByte(); err == nil {
		t.Fatal("got bytes on an idle connection, want it closed")
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("idle connection closed after %v, want within idle_timeout 1s + 1s", took.Round(10*time.Millisecond))
	}
}

func TestConnectionsBeyondMaxConnectionsAreClosedAndCounted(t *testing.T) {
	b := newBackend(t, "b")
	base := runtime.NumGoroutine()
	func() {
		s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for i := 0; i < 4; i++ {
			c, err := net.Dial("tcp", s.addr)
			if err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(c, "POST /open/M HTTP/1.1\r\nHost: x\r\n") // holds a connection mid-header
			held = append(held, c)
		}
		waitFor(t, "4 open connections", func() bool { return gauge(t, s.reg, "rpcbridge_open_connections") == 4 })
		extra, err := net.Dial("tcp", s.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer extra.Close()
		closedWithin(t, "connection over max_connections", extra, time.Second)
		if got := gauge(t, s.reg, "rpcbridge_rejected_connections_total"); got != 1 {
			t.Errorf("rpcbridge_rejected_connections_total: got %v, want 1", got)
		}
		for _, c := range held {
			c.Close()
		}
		held = nil
		waitFor(t, "connections released", func() bool { return gauge(t, s.reg, "rpcbridge_open_connections") == 0 })
		r, err := http.Post("http://"+s.addr+"/open/M", "application/json", strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("after the held connections closed: got %d, want 200", r.StatusCode)
		}
		http.DefaultClient.CloseIdleConnections()
	}()
	// The gateway is closed by its cleanup only at the end of the test; what
	// the connections held must be gone already.
	waitGoroutines(t, base+20)
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// gauge returns the value of an unlabelled metric.
func gauge(t *testing.T, reg *prometheus.Registry, name string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() != name || len(mf.Metric) == 0 {
			continue
		}
		m := mf.Metric[0]
		switch {
		case m.Gauge != nil:
			return m.Gauge.GetValue()
		case m.Counter != nil:
			return m.Counter.GetValue()
		}
	}
	return 0
}

// series counts the series of every rpcbridge_* family.
func series(t *testing.T, reg *prometheus.Registry) map[string]int {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, mf := range mfs {
		if strings.HasPrefix(mf.GetName(), "rpcbridge_") {
			out[mf.GetName()] = len(mf.Metric)
		}
	}
	return out
}

func TestRandomMethodNamesDoNotGrowMetricSeries(t *testing.T) {
	addr := startPeople(t, true)
	y := `
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{addr}}"}]
`
	s := serveGateway(t, y, map[string]string{"addr": addr})
	hc := &http.Client{}
	post := func(path string) int {
		r, err := hc.Post("http://"+s.addr+path, "application/json", strings.NewReader(`{"id": 1}`))
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r.StatusCode
	}
	// A method becomes a label value once the service's schema is cached
	// (the reply never waits for that): wait for the first fetch.
	waitUntil(t, "the schema of people", 10*time.Second, func() bool {
		r, err := hc.Get("http://" + s.adm + "/admin/services/people/schema")
		if err != nil {
			return false
		}
		r.Body.Close()
		return r.StatusCode == 200
	})
	if got := post("/people/Get"); got != 200 {
		t.Fatalf("known method: got %d, want 200", got)
	}
	if got := post("/people/NoSuchMethod"); got != 404 {
		t.Fatalf("unknown method: got %d, want 404", got)
	}
	before := series(t, s.reg)
	rng := rand.New(rand.NewPCG(1, 2))
	const letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_"
	for i := 0; i < 10000; i++ {
		n := 1 + rng.IntN(200)
		b := make([]byte, n)
		for j := range b {
			b[j] = letters[rng.IntN(len(letters))]
		}
		if got := post("/people/" + string(b)); got != 404 {
			t.Fatalf("random method %q: got %d, want 404", b, got)
		}
	}
	after := series(t, s.reg)
	for name, n := range after {
		if n != before[name] {
			t.Errorf("%s: got %d series after 10000 random method names, want %d as before", name, n, before[name])
		}
	}
	body := scrape(t, "http://"+s.adm+"/metrics")
	if !strings.Contains(body, `method="_unknown"`) || !strings.Contains(body, `method="Get"`) {
		t.Errorf("got /metrics without the _unknown and Get method labels:\n%s", grepLines(body, "rpcbridge_requests_total"))
	}
}

func scrape(t *testing.T, url string) string {
	t.Helper()
	r, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	b, _ := io.ReadAll(r.Body)
	return string(b)
}

// lockedBuffer is a bytes.Buffer safe for a writer and a reader at once.
type lockedBuffer = syncbuf.Buffer

func TestLongURLIsQuotedShortInTheErrorBodyAndTheAccessLog(t *testing.T) {
	b := newBackend(t, "b")
	var logs lockedBuffer
	s := serveGatewayOpts(t, `
server:
  access_log: true
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
`, map[string]string{"b": b.addr()}, gateway.Options{AccessLog: &logs})
	long := "/" + strings.Repeat("a", 900_000)
	r, err := http.Post("http://"+s.addr+long, "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	if r.StatusCode != 404 || len(body) > 1024 {
		t.Fatalf("got %d with a %d-byte body, want 404 with at most 1024 bytes", r.StatusCode, len(body))
	}
	var line string
	waitFor(t, "the access log line", func() bool {
		for _, l := range strings.Split(logs.String(), "\n") {
			if strings.Contains(l, `"status":404`) {
				line = l
				return true
			}
		}
		return false
	})
	if len(line) > 1024 || !json.Valid([]byte(line)) {
		t.Fatalf("got a %d-byte access log line, want a 404 line of at most 1024 bytes: %.300s", len(line), line)
	}
}

func TestBothContentLengthAndTransferEncodingAreRefusedAndTheConnectionClosed(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	req := "POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n" +
		"2\r\n{}\r\n0\r\n\r\n" +
		"POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}"
	out := rawExchange(t, s.addr, req)
	if !strings.HasPrefix(out, "HTTP/1.1 400 ") || !strings.Contains(out, `"code":"INVALID_ARGUMENT"`) {
		t.Fatalf("got %q, want a 400 JSON error", out)
	}
	if n := strings.Count(out, "HTTP/1.1 "); n != 1 {
		t.Errorf("got %d replies on the connection, want 1 (closed after the refusal)", n)
	}
	if b.hits.Load() != 0 {
		t.Errorf("backend got %d calls, want 0", b.hits.Load())
	}
	// Chunked alone, and pipelined requests, still work.
	ok := "POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n" +
		"POST /open/M HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
	out = rawExchange(t, s.addr, ok)
	if n := strings.Count(out, "HTTP/1.1 200 "); n != 2 {
		t.Errorf("chunked then Content-Length: got %d 200 replies, want 2:\n%s", n, out)
	}
}

func TestErrorsGoWritesItselfAreJSON(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	cases := []struct {
		name, req string
		status    int
		code      string
	}{
		{"malformed request line", "GARBAGE\r\n\r\n", 400, "INVALID_ARGUMENT"},
		{"bad header name", "POST /open/M HTTP/1.1\r\nHost: x\r\nBad Header: y\r\n\r\n", 400, "INVALID_ARGUMENT"},
		{"no Host", "POST /open/M HTTP/1.1\r\n\r\n", 400, "INVALID_ARGUMENT"},
		{"header too large", "POST /open/M HTTP/1.1\r\nHost: x\r\nX-Big: " + strings.Repeat("a", 1<<20+8192) + "\r\n\r\n", 431, "HEADERS_TOO_LARGE"},
		{"unsupported transfer encoding", "POST /open/M HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n", 501, "UNIMPLEMENTED"},
		{"HTTP/3.0", "POST /open/M HTTP/3.0\r\nHost: x\r\n\r\n", 505, "UNIMPLEMENTED"},
	}
	for _, c := range cases {
		out := rawExchange(t, s.addr, c.req)
		resp, err := http.ReadResponse(bufio.NewReader(strings.NewReader(out)), nil)
		if err != nil {
			t.Errorf("%s: got unreadable reply %q: %v", c.name, out, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != c.status || resp.Header.Get("Content-Type") != "application/json" || errCode(t, string(body)) != c.code {
			t.Errorf("%s: got %d %q %s, want %d application/json %s", c.name, resp.StatusCode, resp.Header.Get("Content-Type"), body, c.status, c.code)
		}
	}
}

func TestHTTPMethodsAndContentTypesThatNeverReachABackend(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, `
server:
  cors: {allow_origins: ["https://app.example"]}
services:
  - name: s
    protocol: http
    apis: [M]
    instances: [{address: "{{b}}"}]
routes:
  - match: {path: /orders/create, methods: [POST]}
    service: s
    method: create
  - match: {prefix: /any/}
    service: s
`, map[string]string{"b": b.addr()})
	cases := []struct {
		name, method, path, ctype, body string
		hdr                             []string
		status                          int
		allow                           string
	}{
		{"route-less GET", "GET", "/s/setStatus?id=1", "", "", nil, 405, "POST"},
		{"route-less PUT", "PUT", "/s/M", "application/json", "{}", nil, 405, "POST"},
		{"serviceName GET", "GET", "/M", "", "", []string{"serviceName", "s"}, 405, "POST"},
		{"HEAD on a route", "HEAD", "/orders/create", "", "", nil, 405, ""},
		{"HEAD on a prefix route without methods", "HEAD", "/any/create", "", "", nil, 405, ""},
		{"OPTIONS without preflight", "OPTIONS", "/any/create", "", "", nil, 405, ""},
		{"TRACE", "TRACE", "/any/create", "", "", nil, 405, ""},
		{"PROPFIND", "PROPFIND", "/any/create", "", "", nil, 405, ""},
		{"long method", strings.Repeat("X", 10000), "/any/create", "", "", nil, 405, ""},
		{"GET on a POST route", "GET", "/orders/create", "", "", nil, 405, ""},
		{"text/plain body", "POST", "/s/M", "text/plain", "{}", nil, 415, ""},
		{"form body", "POST", "/s/M", "application/x-www-form-urlencoded", "a=1", nil, 415, ""},
		{"multipart body", "POST", "/s/M", "multipart/form-data; boundary=x", "--x--", nil, 415, ""},
		{"body without a type", "POST", "/s/M", "", "{}", nil, 415, ""},
		{"preflight from another origin", "OPTIONS", "/s/M", "", "", []string{"Origin", "https://evil.example", "Access-Control-Request-Method", "POST"}, 403, ""},
		{"preflight asking for an unlisted header", "OPTIONS", "/s/M", "", "", []string{"Origin", "https://app.example", "Access-Control-Request-Method", "POST", "Access-Control-Request-Headers", "x-secret"}, 403, ""},
	}
	for _, c := range cases {
		req, err := http.NewRequest(c.method, "http://"+s.addr+c.path, strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if c.ctype != "" {
			req.Header.Set("Content-Type", c.ctype)
		}
		for i := 0; i+1 < len(c.hdr); i += 2 {
			req.Header.Set(c.hdr[i], c.hdr[i+1])
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Errorf("%s: %v", c.name, err)
			continue
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Errorf("%s: got %d %s, want %d", c.name, resp.StatusCode, body, c.status)
		}
		if c.method != "HEAD" && resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s: got Content-Type %q, want application/json", c.name, resp.Header.Get("Content-Type"))
		}
		if c.allow != "" && resp.Header.Get("Allow") != c.allow {
			t.Errorf("%s: got Allow %q, want %q", c.name, resp.Header.Get("Allow"), c.allow)
		}
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("backend got %d calls, want 0", n)
	}
	// What is allowed still works: JSON types with parameters, +json, and a
	// preflight from the listed origin.
	for _, ct := range []string{"application/json", "application/json; charset=utf-8", "application/merge-patch+json"} {
		r, err := http.Post("http://"+s.addr+"/s/M", ct, strings.NewReader("{}"))
		if err != nil {
			t.Fatal(err)
		}
		r.Body.Close()
		if r.StatusCode != 200 {
			t.Errorf("Content-Type %q: got %d, want 200", ct, r.StatusCode)
		}
	}
	req, _ := http.NewRequest("OPTIONS", "http://"+s.addr+"/s/M", nil)
	req.Header.Set("Origin", "https://app.example")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type")
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r.Body.Close()
	if r.StatusCode != 204 || r.Header.Get("Access-Control-Allow-Origin") != "https://app.example" ||
		r.Header.Get("Access-Control-Allow-Headers") != "content-type" {
		t.Errorf("preflight from the listed origin: got %d %v, want 204 allowing it and content-type", r.StatusCode, r.Header)
	}
	if n := b.hits.Load(); n != 3 {
		t.Errorf("backend got %d calls, want 3 (the allowed POSTs only)", n)
	}
}

func TestWrongKeysFromOneAddressAreLockedOut(t *testing.T) {
	b := newBackend(t, "b")
	s := serveGateway(t, limitsYAML, map[string]string{"b": b.addr()})
	try := func(key string) *http.Response {
		req, _ := http.NewRequest("POST", "http://"+s.addr+"/s/M", strings.NewReader("{}"))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-API-Key", key)
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, r.Body)
		r.Body.Close()
		return r
	}
	var got []int
	for i := 0; i < 7; i++ {
		got = append(got, try(fmt.Sprintf("guess-%d", i)).StatusCode)
	}
	want := []int{401, 401, 401, 401, 401, 429, 429}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("wrong keys: got %v, want %v", got, want)
	}
	r := try("good-key")
	if r.StatusCode != 429 || r.Header.Get("Retry-After") == "" {
		t.Fatalf("the right key during the lockout: got %d Retry-After %q, want 429 with Retry-After", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if n := b.hits.Load(); n != 0 {
		t.Errorf("backend got %d calls, want 0", n)
	}
}

func TestControlPlaneIsGuarded(t *testing.T) {
	b := newBackend(t, "b")
	t.Setenv("RB_ADMIN_TOKEN", "adm-tok-1")
	s := serveGateway(t, `
server:
  admin_token_env: RB_ADMIN_TOKEN
  auth:
    keys: [{name: k, key: very-secret-key}]
services:
  - name: s
    protocol: http
    instances: [{address: "{{b}}"}]
`, map[string]string{"b": b.addr()})
	_, port, _ := net.SplitHostPort(s.adm)
	var instances atomic.Int32
	call := func(method, path, ctype, body string, hdr ...string) (int, string) {
		req, _ := http.NewRequest(method, "http://"+s.adm+path, strings.NewReader(body))
		if ctype != "" {
			req.Header.Set("Content-Type", ctype)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			if hdr[i] == "Host" {
				req.Host = hdr[i+1]
				continue
			}
			req.Header.Set(hdr[i], hdr[i+1])
		}
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Body.Close()
		out, _ := io.ReadAll(r.Body)
		return r.StatusCode, string(out)
	}
	auth := "Bearer adm-tok-1"
	cases := []struct {
		name, method, path, ctype, body string
		hdr                             []string
		status                          int
	}{
		{"no token", "GET", "/admin/config", "", "", nil, 401},
		{"wrong token", "GET", "/admin/config", "", "", []string{"Authorization", "Bearer nope"}, 401},
		{"token", "GET", "/admin/services", "", "", []string{"Authorization", auth}, 200},
		{"wrong Origin", "POST", "/admin/services/s/instances", "application/json", `{"address":"127.0.0.1:1"}`, []string{"Authorization", auth, "Origin", "http://evil.example"}, 403},
		{"text/plain write", "POST", "/admin/services/s/instances", "text/plain", `{"address":"127.0.0.1:1"}`, []string{"Authorization", auth}, 415},
		{"rebound Host", "GET", "/admin/services", "", "", []string{"Authorization", auth, "Host", "evil.example:" + port}, 403},
		{"Host with another port", "GET", "/admin/services", "", "", []string{"Authorization", auth, "Host", "127.0.0.1:1"}, 403},
		{"localhost Host", "GET", "/admin/services", "", "", []string{"Authorization", auth, "Host", "localhost:" + port}, 200},
		{"body-less reload", "POST", "/admin/reload", "", "", []string{"Authorization", auth}, 200},
		{"healthz stays open", "GET", "/healthz", "", "", nil, 200},
		{"metrics stay open", "GET", "/metrics", "", "", nil, 200},
	}
	for _, c := range cases {
		status, body := call(c.method, c.path, c.ctype, c.body, c.hdr...)
		if status != c.status {
			t.Errorf("%s: got %d %s, want %d", c.name, status, body, c.status)
		}
		if strings.Contains(c.path, "instances") && status == 200 {
			instances.Add(1)
		}
	}
	status, body := call("GET", "/admin/config", "", "", "Authorization", auth)
	var cfg struct {
		YAML string `json:"yaml"`
	}
	json.Unmarshal([]byte(body), &cfg)
	if status != 200 || strings.Contains(body, "very-secret-key") || !strings.Contains(cfg.YAML, "key: <redacted>") {
		t.Errorf("config: got %d %s, want 200 with the key shown as <redacted>", status, body)
	}
	status, body = call("GET", "/admin/services", "", "", "Authorization", auth)
	if status != 200 || strings.Contains(body, "127.0.0.1:1") {
		t.Errorf("refused writes added an instance: %s", body)
	}
}

func TestValidateRefusesUnsafeSettings(t *testing.T) {
	cases := []struct{ name, yaml, want string }{
		{"credentials with any origin", "server: {cors: {allow_origins: [\"*\"], allow_credentials: true}}\n", "allow_credentials"},
		{"null origin", "server: {cors: {allow_origins: [\"null\"]}}\n", `"null"`},
		{"open admin without token", "server: {admin: 0.0.0.0:9901}\n", "admin_token"},
		{"HEAD route", "services: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\nroutes: [{match: {path: /a, methods: [HEAD]}, service: s, method: M}]\n", "HEAD never reaches a backend"},
		{"negative timeout", "server: {read_timeout: -1s}\n", "read_timeout"},
	}
	for _, c := range cases {
		_, err := mapping.Parse([]byte(c.yaml), plugins())
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want a problem mentioning %q", c.name, err, c.want)
		}
	}
	if _, err := mapping.Parse([]byte("server: {admin: 0.0.0.0:9901, admin_token: t}\n"), plugins()); err != nil {
		t.Errorf("open admin with a token: got %v, want no problem", err)
	}
}
