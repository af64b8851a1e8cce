package otlpexport

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	coltracepb "go.opentelemetry.io/proto/otlp/collector/trace/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
	"go.uber.org/goleak"
	gogrpc "google.golang.org/grpc"
	"google.golang.org/protobuf/proto"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// receiver is an OTLP gRPC collector built from the official service
// definition; it keeps every request.
type receiver struct {
	coltracepb.UnimplementedTraceServiceServer
	mu   sync.Mutex
	reqs []*coltracepb.ExportTraceServiceRequest
	addr string
}

func (r *receiver) Export(_ context.Context, req *coltracepb.ExportTraceServiceRequest) (*coltracepb.ExportTraceServiceResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reqs = append(r.reqs, proto.Clone(req).(*coltracepb.ExportTraceServiceRequest))
	return &coltracepb.ExportTraceServiceResponse{}, nil
}

func (r *receiver) take() []*coltracepb.ExportTraceServiceRequest {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.reqs
	r.reqs = nil
	return out
}

func startReceiver(t *testing.T) *receiver {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	r := &receiver{addr: l.Addr().String()}
	s := gogrpc.NewServer()
	coltracepb.RegisterTraceServiceServer(s, r)
	done := make(chan struct{})
	go func() { defer close(done); s.Serve(l) }()
	t.Cleanup(func() { s.Stop(); <-done })
	return r
}

// record makes spans of every shape the conversion handles, in two
// scopes of one resource.
func record(t *testing.T, round int) []sdktrace.ReadOnlySpan {
	rec := tracetest.NewSpanRecorder()
	res := resource.NewSchemaless(attribute.String("service.name", "gw"), attribute.Int("round", round))
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec), sdktrace.WithResource(res))
	defer tp.Shutdown(context.Background())
	ctx := context.Background()
	remote := trace.NewSpanContext(trace.SpanContextConfig{
		TraceID: trace.TraceID{1, 2, 3, byte(round)}, SpanID: trace.SpanID{9, 8, 7}, TraceFlags: trace.FlagsSampled, Remote: true,
	})
	ts, _ := trace.ParseTraceState("vendor=x" + string(rune('a'+round)))
	remote = remote.WithTraceState(ts)
	server := tp.Tracer("gateway", trace.WithInstrumentationVersion("1.2"), trace.WithInstrumentationAttributes(attribute.Bool("scoped", true)))
	sctx, s := server.Start(trace.ContextWithRemoteSpanContext(ctx, remote), "people/Get", trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("url.path", "/people/Get"), attribute.Int64("http.response.status_code", 200),
			attribute.Bool("ok", true), attribute.Float64("ratio", 0.25+float64(round)),
			attribute.StringSlice("tags", []string{"a", "b"}), attribute.Int64Slice("ns", []int64{1, -2}),
			attribute.BoolSlice("bs", []bool{true}), attribute.Float64Slice("fs", []float64{1.5}),
			// Lengths that take two and three bytes to write.
			attribute.String("mid", strings.Repeat("m", 200)), attribute.String("long", strings.Repeat("x", 20000))))
	s.AddEvent("retry", trace.WithAttributes(attribute.Int("attempt", 2)))
	client := tp.Tracer("gateway/client")
	_, c := client.Start(sctx, "attempt", trace.WithSpanKind(trace.SpanKindClient),
		trace.WithLinks(trace.Link{SpanContext: remote, Attributes: []attribute.KeyValue{attribute.String("why", "follows")}}),
		trace.WithAttributes(attribute.String("rpc.system", "grpc"), attribute.String("server.address", "10.0.0.1")))
	c.SetStatus(codes.Error, "backend unavailable")
	c.End()
	s.SetStatus(codes.Ok, "")
	s.End()
	_, plain := server.Start(ctx, "HTTP", trace.WithSpanKind(trace.SpanKindInternal))
	plain.End()
	return rec.Ended()
}

// normalize orders what OTLP leaves unordered (resources and scopes come
// from maps in the SDK's exporter).
func normalize(reqs []*coltracepb.ExportTraceServiceRequest) []*tracepb.ResourceSpans {
	var out []*tracepb.ResourceSpans
	for _, r := range reqs {
		out = append(out, r.ResourceSpans...)
	}
	for _, rs := range out {
		sort.Slice(rs.ScopeSpans, func(i, j int) bool { return rs.ScopeSpans[i].Scope.GetName() < rs.ScopeSpans[j].Scope.GetName() })
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// TestSameRequestsAsTheSDKExporter: for batch after batch (so that reused
// messages must not carry anything over), a collector receives from this
// exporter exactly what it receives from the SDK's OTLP exporter for the
// same spans, over gRPC and over HTTP.
func TestSameRequestsAsTheSDKExporter(t *testing.T) {
	recv := startReceiver(t)
	ctx := context.Background()
	ours := newGRPCExporter(t, recv.addr)
	sdk, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(recv.addr), otlptracegrpc.WithInsecure())
	if err != nil {
		t.Fatal(err)
	}
	defer sdk.Shutdown(ctx)
	for round := range 3 {
		spans := record(t, round)
		if round == 2 {
			spans = spans[:1] // a smaller batch after larger ones
		}
		if err := sdk.ExportSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		want := normalize(recv.take())
		if err := ours.ExportSpans(ctx, spans); err != nil {
			t.Fatal(err)
		}
		got := normalize(recv.take())
		if len(got) != len(want) {
			t.Fatalf("round %d: got %d resource spans, want %d", round, len(got), len(want))
		}
		for i := range want {
			if !proto.Equal(got[i], want[i]) {
				t.Fatalf("round %d: got\n%v\nwant\n%v", round, got[i], want[i])
			}
		}
	}
}

// TestInvalidUTF8IsReplacedNotFatal: protobuf strings are UTF-8, and a
// collector refuses a request holding one that is not. An attribute value,
// key or span name with invalid bytes reaches the collector with U+FFFD in
// their place, and the rest of the batch with it.
func TestInvalidUTF8IsReplacedNotFatal(t *testing.T) {
	recv := startReceiver(t)
	ctx := context.Background()
	e := newGRPCExporter(t, recv.addr)
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("gateway")
	_, s := tr.Start(ctx, "bad\xffname", trace.WithAttributes(attribute.String("url.path", "/a\xffb"), attribute.String("k\xfe", "v")))
	s.AddEvent("ev\xff", trace.WithAttributes(attribute.String("x", "\xff")))
	s.End()
	_, good := tr.Start(ctx, "good")
	good.End()
	tp.Shutdown(ctx)
	if err := e.ExportSpans(ctx, rec.Ended()); err != nil {
		t.Fatal(err)
	}
	reqs := recv.take()
	if len(reqs) != 1 {
		t.Fatalf("got %d requests, want 1", len(reqs))
	}
	spans := reqs[0].ResourceSpans[0].ScopeSpans[0].Spans
	if len(spans) != 2 {
		t.Fatalf("got %d spans, want 2", len(spans))
	}
	bad := spans[0]
	got := []string{bad.Name, bad.Attributes[0].Value.GetStringValue(), bad.Attributes[1].Key, bad.Events[0].Name, bad.Events[0].Attributes[0].Value.GetStringValue()}
	want := []string{"bad\uFFFDname", "/a\uFFFDb", "k\uFFFD", "ev\uFFFD", "\uFFFD"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("got %q, want %q", got, want)
	}
	if spans[1].Name != "good" {
		t.Fatalf("got second span %q, want good", spans[1].Name)
	}
}

// TestHTTPClient: the same exporter over OTLP/HTTP reaches a collector
// speaking it (the official request message, decoded from the body).
func TestHTTPClient(t *testing.T) {
	got := make(chan *coltracepb.ExportTraceServiceRequest, 1)
	srv := newHTTPReceiver(t, got)
	ctx := context.Background()
	e, err := New(ctx, otlptracehttp.NewClient(otlptracehttp.WithEndpointURL(srv+"/v1/traces")))
	if err != nil {
		t.Fatal(err)
	}
	defer e.Shutdown(ctx)
	spans := record(t, 0)
	if err := e.ExportSpans(ctx, spans); err != nil {
		t.Fatal(err)
	}
	select {
	case req := <-got:
		n := 0
		for _, rs := range req.ResourceSpans {
			for _, ss := range rs.ScopeSpans {
				n += len(ss.Spans)
			}
		}
		if n != len(spans) {
			t.Fatalf("got %d spans, want %d", n, len(spans))
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no request reached the collector")
	}
}

// TestConvertingAWarmBatchAllocatesNothing: once the builder has seen a
// batch, converting another of the same shape allocates nothing (spans
// with only scalar attributes, as the gateway records).
func TestConvertingAWarmBatchAllocatesNothing(t *testing.T) {
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("gateway")
	for range 64 {
		ctx, s := tr.Start(context.Background(), "people/Get", trace.WithAttributes(attribute.String("url.path", "/people/Get"),
			attribute.Int64("http.response.status_code", 200), attribute.Bool("b", true), attribute.Float64("f", 1)))
		_, c := tr.Start(ctx, "attempt", trace.WithSpanKind(trace.SpanKindClient))
		c.SetStatus(codes.Error, "down")
		c.End()
		s.End()
	}
	tp.Shutdown(context.Background())
	spans := rec.Ended()
	var b builder
	b.build(spans)
	b.release()
	allocs := testing.AllocsPerRun(20, func() {
		if rs := b.build(spans); len(rs) != 1 || len(b.groups) != 1 || b.groups[0].n != len(spans) {
			t.Fatalf("got %d resource spans, %d groups, want 1 group of %d spans", len(rs), len(b.groups), len(spans))
		}
		b.release()
	})
	if allocs != 0 {
		t.Fatalf("got %v allocations per batch of %d spans, want 0", allocs, len(spans))
	}
}

// BenchmarkExport compares converting and sending a batch of 512 gateway
// spans to a collector with the SDK's exporter and with this one.
//
//	go test -run '^$' -bench Export -benchmem ./internal/otlpexport/
func BenchmarkExport(b *testing.B) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	// The collector reads each request's bytes without decoding them, so
	// that what is measured is the exporter's work.
	s := gogrpc.NewServer(gogrpc.ForceServerCodec(rawCodec{}), gogrpc.UnknownServiceHandler(func(_ any, st gogrpc.ServerStream) error {
		var in []byte
		if err := st.RecvMsg(&in); err != nil {
			return err
		}
		out := []byte{}
		return st.SendMsg(&out)
	}))
	go s.Serve(l)
	defer s.Stop()
	rec := tracetest.NewSpanRecorder()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSpanProcessor(rec))
	tr := tp.Tracer("gateway")
	for range 256 {
		ctx, sp := tr.Start(context.Background(), "people/Get", trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(
			attribute.String("http.request.method", "POST"), attribute.String("url.path", "/people/Get"), attribute.String("url.scheme", "http"),
			attribute.Int64("http.response.status_code", 200), attribute.String("rpcbridge.service", "people"), attribute.String("rpcbridge.method", "Get")))
		_, c := tr.Start(ctx, "people/Get", trace.WithSpanKind(trace.SpanKindClient), trace.WithAttributes(
			attribute.String("rpc.system", "grpc"), attribute.String("rpc.service", "demo.v1.PeopleService"), attribute.String("rpc.method", "Get"),
			attribute.String("server.address", "127.0.0.1"), attribute.Int64("server.port", 50051)))
		c.End()
		sp.End()
	}
	tp.Shutdown(context.Background())
	spans := rec.Ended()
	ctx := context.Background()
	run := func(b *testing.B, e sdktrace.SpanExporter) {
		defer e.Shutdown(ctx)
		b.ReportAllocs()
		b.ResetTimer()
		for range b.N {
			if err := e.ExportSpans(ctx, spans); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(spans)), "ns/span")
	}
	b.Run("sdk", func(b *testing.B) {
		e, err := otlptracegrpc.New(ctx, otlptracegrpc.WithEndpoint(l.Addr().String()), otlptracegrpc.WithInsecure())
		if err != nil {
			b.Fatal(err)
		}
		run(b, e)
	})
	b.Run("reused", func(b *testing.B) {
		run(b, newGRPCExporter(b, l.Addr().String()))
	})
}

// newGRPCExporter is an Exporter sending over OTLP/gRPC, in clear, to
// addr; it is shut down when the test ends.
func newGRPCExporter(tb testing.TB, addr string) *Exporter {
	tb.Helper()
	e, err := New(context.Background(), otlptracegrpc.NewClient(otlptracegrpc.WithEndpoint(addr), otlptracegrpc.WithInsecure()))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { e.Shutdown(context.Background()) })
	return e
}

// newHTTPReceiver is an OTLP/HTTP collector: each request's body is
// decoded as the official request message and sent to got.
func newHTTPReceiver(t *testing.T, got chan<- *coltracepb.ExportTraceServiceRequest) string {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		req := &coltracepb.ExportTraceServiceRequest{}
		if r.URL.Path != "/v1/traces" || r.Header.Get("Content-Type") != "application/x-protobuf" || proto.Unmarshal(body, req) != nil {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		select {
		case got <- req:
		default:
		}
		b, _ := proto.Marshal(&coltracepb.ExportTraceServiceResponse{})
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// rawCodec passes message bytes as they are.
type rawCodec struct{}

func (rawCodec) Marshal(v any) ([]byte, error) { return *v.(*[]byte), nil }

func (rawCodec) Unmarshal(data []byte, v any) error {
	*v.(*[]byte) = append((*v.(*[]byte))[:0], data...)
	return nil
}

func (rawCodec) Name() string { return "proto" }
