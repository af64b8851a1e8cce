package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/TarsCloud/TarsGo/tars/protocol/res/requestf"
	collectortrace "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"
	"google.golang.org/protobuf/proto"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/examples/stock"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

// otlpReceiver is an OTLP trace receiver built from the official OTLP
// protobuf definitions: a grpc-go TraceService server (protocol grpc) or
// an HTTP server decoding protobuf bodies on /v1/traces (protocol http).
// With stuck set it never answers: each export waits until the exporter
// gives up or the receiver stops.
type otlpReceiver struct {
	collectortrace.UnimplementedTraceServiceServer
	addr     string
	stuck    bool
	stop     chan struct{}
	stopOnce sync.Once

	mu      sync.Mutex
	spans   []receivedSpan
	headers []map[string]string
}

// receivedSpan is one span and the service.name of its resource.
type receivedSpan struct {
	service string
	span    *tracepb.Span
}

func startOTLPReceiver(t testing.TB, protocol string, stuck bool) *otlpReceiver {
	t.Helper()
	r := &otlpReceiver{stuck: stuck, stop: make(chan struct{})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r.addr = l.Addr().String()
	switch protocol {
	case "grpc":
		gs := grpc.NewServer()
		collectortrace.RegisterTraceServiceServer(gs, r)
		done := make(chan struct{})
		go func() { defer close(done); gs.Serve(l) }()
		t.Cleanup(func() { r.release(); gs.Stop(); <-done })
	case "http":
		srv := httptest.NewUnstartedServer(http.HandlerFunc(r.serveHTTP))
		srv.Listener.Close()
		srv.Listener = l
		srv.Start()
		t.Cleanup(func() { r.release(); srv.CloseClientConnections(); srv.Close() })
	default:
		t.Fatalf("protocol %q", protocol)
	}
	return r
}

// release makes a stuck receiver answer every export, now and later, with
// an error.
func (r *otlpReceiver) release() { r.stopOnce.Do(func() { close(r.stop) }) }

// Export implements collectortrace.TraceServiceServer.
func (r *otlpReceiver) Export(ctx context.Context, req *collectortrace.ExportTraceServiceRequest) (*collectortrace.ExportTraceServiceResponse, error) {
	if r.stuck {
		select {
		case <-ctx.Done():
		case <-r.stop:
		}
		return nil, errors.New("the receiver never answers")
	}
	md, _ := metadata.FromIncomingContext(ctx)
	h := map[string]string{}
	for k, v := range md {
		h[k] = strings.Join(v, ",")
	}
	r.record(req, h)
	return &collectortrace.ExportTraceServiceResponse{}, nil
}

func (r *otlpReceiver) serveHTTP(w http.ResponseWriter, req *http.Request) {
	if req.Method != http.MethodPost || req.URL.Path != "/v1/traces" {
		http.Error(w, "want POST /v1/traces", http.StatusNotFound)
		return
	}
	if r.stuck {
		select {
		case <-req.Context().Done():
		case <-r.stop:
		}
		return
	}
	if ct := req.Header.Get("Content-Type"); ct != "application/x-protobuf" {
		http.Error(w, "want application/x-protobuf, got "+ct, http.StatusUnsupportedMediaType)
		return
	}
	var body io.Reader = req.Body
	if req.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(req.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	var msg collectortrace.ExportTraceServiceRequest
	if err := proto.Unmarshal(b, &msg); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	h := map[string]string{}
	for k, v := range req.Header {
		h[strings.ToLower(k)] = strings.Join(v, ",")
	}
	r.record(&msg, h)
	out, _ := proto.Marshal(&collectortrace.ExportTraceServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	w.Write(out)
}

func (r *otlpReceiver) record(req *collectortrace.ExportTraceServiceRequest, headers map[string]string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.headers = append(r.headers, headers)
	for _, rs := range req.GetResourceSpans() {
		service := ""
		for _, kv := range rs.GetResource().GetAttributes() {
			if kv.GetKey() == "service.name" {
				service = kv.GetValue().GetStringValue()
			}
		}
		for _, ss := range rs.GetScopeSpans() {
			for _, s := range ss.GetSpans() {
				r.spans = append(r.spans, receivedSpan{service: service, span: s})
			}
		}
	}
}

// trace returns the spans received of trace id (hex).
func (r *otlpReceiver) trace(id string) []receivedSpan {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []receivedSpan
	for _, s := range r.spans {
		if hex.EncodeToString(s.span.GetTraceId()) == id {
			out = append(out, s)
		}
	}
	return out
}

// exportHeaders returns the headers of the first export received.
func (r *otlpReceiver) exportHeaders() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.headers) == 0 {
		return nil
	}
	return r.headers[0]
}

// otlpAttrs returns a span's attributes as text by key.
func otlpAttrs(s *tracepb.Span) map[string]string {
	m := map[string]string{}
	for _, kv := range s.GetAttributes() {
		v := kv.GetValue()
		switch {
		case v.GetStringValue() != "":
			m[kv.GetKey()] = v.GetStringValue()
		default:
			m[kv.GetKey()] = strconv.FormatInt(v.GetIntValue(), 10)
		}
	}
	return m
}

func randomHex(t *testing.T, n int) string {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

// grpcTraceRecorder is a unary interceptor of a backend that keeps the
// traceparent each call arrives with.
type traceparents struct {
	mu   sync.Mutex
	seen []string
}

func (p *traceparents) add(v string) {
	p.mu.Lock()
	p.seen = append(p.seen, v)
	p.mu.Unlock()
}

// of returns the traceparent seen for trace id, or "".
func (p *traceparents) of(id string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, v := range p.seen {
		if strings.Contains(v, "-"+id+"-") {
			return v
		}
	}
	return ""
}

// startTracedPeople serves the sample PeopleService (with reflection) on
// a grpc-go server whose interceptor records each call's traceparent.
func startTracedPeople(t *testing.T, seen *traceparents) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gs := grpc.NewServer(grpc.UnaryInterceptor(func(ctx context.Context, req any, info *grpc.UnaryServerInfo, h grpc.UnaryHandler) (any, error) {
		md, _ := metadata.FromIncomingContext(ctx)
		if v := md.Get("traceparent"); len(v) > 0 {
			seen.add(v[0])
		}
		return h(ctx, req)
	}))
	demov1.RegisterPeopleServiceServer(gs, people.NewService())
	reflection.Register(gs)
	done := make(chan struct{})
	go func() { defer close(done); gs.Serve(l) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return l.Addr().String()
}

// tarsQuoteRecorder is a Demo.Stock servant whose getQuote records the
// request context's traceparent and answers one quote. (The sample
// servant's own dispatcher is not exported, so it cannot be wrapped.)
type tarsQuoteRecorder struct{ seen *traceparents }

func (d tarsQuoteRecorder) Dispatch(ctx context.Context, req *requestf.RequestPacket, resp *requestf.ResponsePacket) error {
	d.seen.add(req.Context["traceparent"])
	if req.SFuncName != "getQuote" {
		return &stock.Error{Code: -3, Msg: "no function " + req.SFuncName}
	}
	reply := stock.NewReply(req)
	q := stock.Quote{Code: "600000", Name: "Pudong Development Bank", Price: 7.31, Volume: 1, Market: stock.MarketSH}
	if err := reply.Put("", 0, q.WriteBlock); err != nil {
		return err
	}
	return reply.Finish(resp)
}

const tracedYAML = `
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{people}}"}]
    timeout: 5s
  - name: users
    protocol: dubbo
    dubbo:
      interface: org.rpcbridge.test.TypesService
      version: 1.0.0
      methods:
        attachment: {params: [{name: key, type: java.lang.String}]}
    instances: [{address: "{{dubbo}}"}]
    timeout: 5s
  - name: stock
    protocol: tars
    tars: {idl: "{{stockidl}}", servant: Demo.StockServer.StockObj, interface: Stock}
    instances: [{address: "{{stock}}"}]
    timeout: 5s
  - name: web
    protocol: http
    instances: [{address: "{{web}}"}]
    timeout: 5s
routes:
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
telemetry:
  service_name: traced-gw
  traces:
    sample_ratio: 1
    otlp: {endpoint: "{{otlp}}", protocol: {{protocol}}, insecure: true, headers: {x-tenant: tenant-a}, timeout: 5s}
`

// sendTraced sends a request carrying the caller's traceparent and returns
// the reply.
func sendTraced(t *testing.T, method, url, body, traceparent string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Traceparent", traceparent)
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestTracesReachAnOTLPReceiverAndEveryBackend runs `rpcbridge serve` with
// a telemetry block pointing at an OTLP receiver (grpc, then http), sends
// one request with a caller's traceparent to each of a gRPC, a Dubbo, a
// Tars and an HTTP backend, and checks both ends: the backend received
// trace context whose parent is the gateway's attempt span, and the
// receiver got the request span (child of the caller's span) and the
// attempt span (child of the request span) with their attributes.
func TestTracesReachAnOTLPReceiverAndEveryBackend(t *testing.T) {
	// Export every 50 ms rather than every 5 s (the SDK reads it).
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	grpcSeen, tarsSeen, webSeen := &traceparents{}, &traceparents{}, &traceparents{}
	vars := map[string]string{"people": startTracedPeople(t, grpcSeen)}
	ss, err := stock.Serve("127.0.0.1:0", tarsQuoteRecorder{tarsSeen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ss.Stop)
	vars["stock"] = ss.Addr()
	vars["stockidl"] = filepath.Join(t.TempDir(), "Stock.tars")
	if err := os.WriteFile(vars["stockidl"], stock.IDL, 0o644); err != nil {
		t.Fatal(err)
	}
	// The Dubbo provider (a child process of this test binary) answers
	// attachment(key) with the value of the attachment key it received.
	vars["dubbo"] = testprovider.StartChild(t, "dubbo", false).Addr
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		webSeen.add(r.Header.Get("Traceparent"))
		fmt.Fprint(w, `{"ok": true}`)
	}))
	t.Cleanup(web.Close)
	vars["web"] = strings.TrimPrefix(web.URL, "http://")

	type backend struct {
		name, method, path, body string
		route                    string
		system, service, rpc     string
		port                     string
		// seen returns the traceparent the backend received.
		seen func(reply, traceID string) string
	}
	portOf := func(addr string) string { _, p, _ := net.SplitHostPort(addr); return p }
	dubboReply := regexp.MustCompile(`^"(.*)"$`)
	backends := []backend{
		{"grpc", "GET", "/v1/people/1", "", "/v1/people/{id}", "grpc", "demo.v1.PeopleService", "Get", portOf(vars["people"]),
			func(_, id string) string { return grpcSeen.of(id) }},
		{"dubbo", "POST", "/users/attachment", `{"key": "traceparent"}`, "", "apache_dubbo", "users", "attachment", portOf(vars["dubbo"]),
			func(reply, _ string) string {
				if m := dubboReply.FindStringSubmatch(reply); m != nil {
					return m[1]
				}
				return ""
			}},
		{"tars", "POST", "/stock/getQuote", `{"code": "600000"}`, "", "tars", "stock", "getQuote", portOf(vars["stock"]),
			func(_, id string) string { return tarsSeen.of(id) }},
		{"http", "POST", "/web/Thing", `{}`, "", "http", "web", "Thing", portOf(vars["web"]),
			func(_, id string) string { return webSeen.of(id) }},
	}

	for _, protocol := range []string{"grpc", "http"} {
		t.Run("otlp_"+protocol, func(t *testing.T) {
			recv := startOTLPReceiver(t, protocol, false)
			v := map[string]string{"otlp": recv.addr, "protocol": protocol}
			for k, val := range vars {
				v[k] = val
			}
			base, _ := startGatewayOn(t, expand(tracedYAML, v))
			for _, b := range backends {
				waitFor(t, b.name+" backend behind the gateway", 30*time.Second, func() bool {
					if b.method == "GET" {
						status, _ := get(base + b.path)
						return status == 200
					}
					r, err := httpPost(base+b.path, b.body)
					return err == nil && r.status == 200
				})
			}
			for _, b := range backends {
				t.Run(b.name, func(t *testing.T) {
					traceID, callerSpan := randomHex(t, 16), randomHex(t, 8)
					status, reply := sendTraced(t, b.method, base+b.path, b.body, "00-"+traceID+"-"+callerSpan+"-01")
					if status != 200 {
						t.Fatalf("got %d %s", status, reply)
					}
					var server, attempt *tracepb.Span
					waitFor(t, "the request's two spans at the OTLP receiver", 15*time.Second, func() bool {
						server, attempt = nil, nil
						for _, s := range recv.trace(traceID) {
							if s.service != "traced-gw" {
								t.Fatalf("span %q of service.name %q, want traced-gw", s.span.GetName(), s.service)
							}
							switch s.span.GetKind() {
							case tracepb.Span_SPAN_KIND_SERVER:
								server = s.span
							case tracepb.Span_SPAN_KIND_CLIENT:
								attempt = s.span
							}
						}
						return server != nil && attempt != nil
					})
					if got := hex.EncodeToString(server.GetParentSpanId()); got != callerSpan {
						t.Errorf("request span's parent: got %s want the caller's span %s", got, callerSpan)
					}
					if got, want := hex.EncodeToString(attempt.GetParentSpanId()), hex.EncodeToString(server.GetSpanId()); got != want {
						t.Errorf("attempt span's parent: got %s want the request span %s", got, want)
					}
					sa := otlpAttrs(server)
					for k, want := range map[string]string{"http.request.method": b.method, "url.path": b.path, "http.response.status_code": "200", "http.route": b.route} {
						if sa[k] != want {
							t.Errorf("request span: %s = %q, want %q (all: %v)", k, sa[k], want, sa)
						}
					}
					aa := otlpAttrs(attempt)
					for k, want := range map[string]string{"rpc.system": b.system, "rpc.service": b.service, "rpc.method": b.rpc, "server.address": "127.0.0.1", "server.port": b.port} {
						if aa[k] != want {
							t.Errorf("attempt span: %s = %q, want %q (all: %v)", k, aa[k], want, aa)
						}
					}
					// The backend's side: the same trace, the attempt as
					// parent, sampled.
					want := "00-" + traceID + "-" + hex.EncodeToString(attempt.GetSpanId()) + "-01"
					if got := b.seen(reply, traceID); got != want {
						t.Errorf("%s backend received traceparent %q, want %q", b.name, got, want)
					}
				})
			}
			if h := recv.exportHeaders(); h["x-tenant"] != "tenant-a" {
				t.Errorf("telemetry.traces.otlp.headers: the receiver got x-tenant %q, want tenant-a", h["x-tenant"])
			}
		})
	}
}

// metricValue reads one sample's value from a Prometheus text page; -1
// when it is absent.
func metricValue(page, series string) float64 {
	for _, l := range strings.Split(page, "\n") {
		if rest, ok := strings.CutPrefix(l, series+" "); ok {
			v, err := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			if err == nil {
				return v
			}
		}
	}
	return -1
}

// TestRequestsDoNotWaitForAnAbsentOrStuckCollector: with nothing
// listening at the OTLP endpoint, or a receiver that never answers, 200
// requests all succeed, none taking anywhere near the export timeout, and
// the spans that do not fit the queue are counted as dropped.
func TestRequestsDoNotWaitForAnAbsentOrStuckCollector(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "20")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	t.Cleanup(web.Close)
	const (
		requests      = 200
		exportTimeout = 3 * time.Second
		// perRequest is generous for a loopback call, and well below the
		// export timeout a request waiting on the exporter would take.
		perRequest = time.Second
	)
	for _, tc := range []struct {
		name, protocol string
		stuck, absent  bool
	}{
		{"grpc_nothing_listening", "grpc", false, true},
		{"grpc_receiver_never_answers", "grpc", true, false},
		{"http_nothing_listening", "http", false, true},
		{"http_receiver_never_answers", "http", true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			endpoint := freeAddr(t)
			var stuck *otlpReceiver
			if tc.stuck {
				stuck = startOTLPReceiver(t, tc.protocol, true)
				endpoint = stuck.addr
			}
			base, admin := startGatewayOn(t, fmt.Sprintf(`
services:
  - name: web
    protocol: http
    instances: [{address: %q}]
telemetry:
  traces:
    queue_size: 20
    otlp: {endpoint: %q, protocol: %s, insecure: true, timeout: %s}
`, strings.TrimPrefix(web.URL, "http://"), endpoint, tc.protocol, exportTimeout))
			if stuck != nil {
				// Before the gateway stops (cleanups run last first), so
				// that its final flush fails at once.
				t.Cleanup(stuck.release)
			}
			waitFor(t, "the gateway", 10*time.Second, func() bool {
				r, err := httpPost(base+"/web/M", `{}`)
				return err == nil && r.status == 200
			})
			hc := &http.Client{Timeout: 10 * time.Second}
			start := time.Now()
			var slowest time.Duration
			for i := 0; i < requests; i++ {
				began := time.Now()
				req, _ := http.NewRequest("POST", base+"/web/M", bytes.NewReader([]byte(`{}`)))
				req.Header.Set("Content-Type", "application/json")
				// Half the requests continue a sampled caller's trace.
				if i%2 == 0 {
					req.Header.Set("Traceparent", "00-"+randomHex(t, 16)+"-"+randomHex(t, 8)+"-01")
				}
				resp, err := hc.Do(req)
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Fatalf("request %d: got %d", i, resp.StatusCode)
				}
				took := time.Since(began)
				slowest = max(slowest, took)
				if took > perRequest {
					t.Errorf("request %d took %s (export timeout %s)", i, took, exportTimeout)
				}
			}
			total := time.Since(start)
			t.Logf("%d requests in %s, slowest %s", requests, total, slowest)
			if limit := requests * exportTimeout / 50; total > limit {
				t.Errorf("%d requests took %s, want far below %d × the export timeout (limit %s)", requests, total, requests, limit)
			}
			// Nothing is exported; what was not dropped at the queue is
			// counted as failed once the exports give up.
			var page string
			waitFor(t, "failed or dropped spans on /metrics", 15*time.Second, func() bool {
				_, page = get(admin + "/metrics")
				return metricValue(page, `rpcbridge_trace_spans_total{outcome="dropped"}`)+metricValue(page, `rpcbridge_trace_spans_total{outcome="export_failed"}`) > 0
			})
			if v := metricValue(page, `rpcbridge_trace_spans_total{outcome="exported"}`); v != 0 {
				t.Errorf("exported spans: got %v want 0", v)
			}
			dropped := metricValue(page, `rpcbridge_trace_spans_total{outcome="dropped"}`)
			t.Logf("dropped %v, failed %v, queued %v", dropped, metricValue(page, `rpcbridge_trace_spans_total{outcome="export_failed"}`),
				metricValue(page, "rpcbridge_trace_queue_spans"))
			if tc.stuck && dropped <= 0 {
				t.Errorf("a receiver that never answers, %d requests, a queue of 20: got %v dropped spans, want some", requests, dropped)
			}
		})
	}
}

// TestTraceFileAndTheConfigInZooKeeper: a gateway that takes its config
// from ZooKeeper exports as that config's telemetry block says, and
// -trace-file writes the same spans to a file at the same time.
func TestTraceFileAndTheConfigInZooKeeper(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	zk := zktest.Start(t)
	recv := startOTLPReceiver(t, "http", false)
	webSeen := &traceparents{}
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		webSeen.add(r.Header.Get("Traceparent"))
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(web.Close)
	dir := t.TempDir()
	cfg := filepath.Join(dir, "gateway.yaml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`
services:
  - name: web
    protocol: http
    instances: [{address: %q}]
telemetry:
  service_name: zk-gw
  traces:
    otlp: {endpoint: "http://%s", protocol: http}
`, strings.TrimPrefix(web.URL, "http://"), recv.addr)), 0o644)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "push", "-c", cfg, "-zk", zk.Addr()}, &out, &errOut); code != 0 {
		t.Fatalf("push: %d %s %s", code, out.String(), errOut.String())
	}
	traceFile := filepath.Join(dir, "spans.json")
	listen := freeAddr(t)
	runInBackground(t, "serve", "-config-zk", zk.Addr(), "-listen", listen, "-admin", freeAddr(t), "-log-level", "error", "-trace-file", traceFile)
	base := "http://" + listen
	waitFor(t, "the gateway", 15*time.Second, func() bool { r, err := httpPost(base+"/web/M", `{}`); return err == nil && r.status == 200 })

	traceID := randomHex(t, 16)
	if status, body := sendTraced(t, "POST", base+"/web/M", `{}`, "00-"+traceID+"-"+randomHex(t, 8)+"-01"); status != 200 {
		t.Fatalf("got %d %s", status, body)
	}
	var spans []receivedSpan
	waitFor(t, "the request's two spans at the OTLP receiver", 15*time.Second, func() bool {
		spans = recv.trace(traceID)
		return len(spans) == 2
	})
	for _, s := range spans {
		if s.service != "zk-gw" {
			t.Errorf("span %q: service.name %q, want zk-gw (the stored config's telemetry.service_name)", s.span.GetName(), s.service)
		}
	}
	if webSeen.of(traceID) == "" {
		t.Errorf("the backend received no traceparent of trace %s", traceID)
	}
	waitFor(t, "both spans in the -trace-file", 15*time.Second, func() bool {
		b, _ := os.ReadFile(traceFile)
		return strings.Count(string(b), traceID) >= 2
	})
}

// TestOTLPExportFromTheEnvironment: without a telemetry block the standard
// variables turn export on and configure it; the sampler is parent-based
// (OTEL_TRACES_SAMPLER=always_off samples no new trace, but a sampled
// caller is followed); OTEL_EXPORTER_OTLP_HEADERS are sent, and with
// headers in the YAML both are, the YAML's value winning for a header in
// both.
func TestOTLPExportFromTheEnvironment(t *testing.T) {
	t.Setenv("OTEL_BSP_SCHEDULE_DELAY", "50")
	recv := startOTLPReceiver(t, "http", false)
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://"+recv.addr)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_SERVICE_NAME", "env-gw")
	t.Setenv("OTEL_TRACES_SAMPLER", "always_off")
	t.Setenv("OTEL_EXPORTER_OTLP_HEADERS", "x-env=from%20env,x-both=env")
	web := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, `{}`) }))
	t.Cleanup(web.Close)
	service := fmt.Sprintf(`
services:
  - name: web
    protocol: http
    instances: [{address: %q}]
`, strings.TrimPrefix(web.URL, "http://"))

	check := func(t *testing.T, yaml, wantService string, wantHeaders map[string]string) {
		base, _ := startGatewayOn(t, yaml)
		waitFor(t, "the gateway", 10*time.Second, func() bool { r, err := httpPost(base+"/web/M", `{}`); return err == nil && r.status == 200 })
		unsampled := randomHex(t, 16)
		if status, body := sendTraced(t, "POST", base+"/web/M", `{}`, "00-"+unsampled+"-"+randomHex(t, 8)+"-00"); status != 200 {
			t.Fatalf("got %d %s", status, body)
		}
		sampled := randomHex(t, 16)
		if status, body := sendTraced(t, "POST", base+"/web/M", `{}`, "00-"+sampled+"-"+randomHex(t, 8)+"-01"); status != 200 {
			t.Fatalf("got %d %s", status, body)
		}
		waitFor(t, "the sampled caller's spans", 15*time.Second, func() bool { return len(recv.trace(sampled)) == 2 })
		if n := len(recv.trace(unsampled)); n != 0 {
			t.Errorf("a caller that did not sample: got %d spans, want none", n)
		}
		for _, s := range recv.trace(sampled) {
			if s.service != wantService {
				t.Errorf("service.name %q, want %q", s.service, wantService)
			}
		}
		recv.mu.Lock()
		last := recv.headers[len(recv.headers)-1]
		recv.mu.Unlock()
		for k, v := range wantHeaders {
			if last[k] != v {
				t.Errorf("export header %s: got %q want %q", k, last[k], v)
			}
		}
	}
	t.Run("environment_only", func(t *testing.T) {
		check(t, service, "env-gw", map[string]string{"x-env": "from env", "x-both": "env"})
	})
	t.Run("yaml_over_environment", func(t *testing.T) {
		check(t, service+`
telemetry:
  service_name: yaml-gw
  traces:
    otlp: {headers: {x-both: yaml, x-yaml: y}}
`, "yaml-gw", map[string]string{"x-env": "from env", "x-both": "yaml", "x-yaml": "y"})
	})
}
