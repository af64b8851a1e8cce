package gateway

import (
	"context"
	"net"
	"net/http"
	"strconv"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
	"go.opentelemetry.io/otel/trace/noop"

	"github.com/rpcbridge/rpcbridge/generic"
)

// tracing holds the gateway's OpenTelemetry tracer and the W3C trace
// context propagator (traceparent, tracestate).
type tracing struct {
	tracer trace.Tracer
	prop   propagation.TextMapPropagator
	// recording is false when no TracerProvider was given: requests that
	// carry no trace context then skip span bookkeeping entirely.
	recording bool
	// The span kinds as start options, made once.
	serverKind, clientKind trace.SpanStartOption
}

func newTracing(tp trace.TracerProvider) *tracing {
	recording := tp != nil
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &tracing{
		tracer:     tp.Tracer("github.com/rpcbridge/rpcbridge/gateway"),
		prop:       propagation.TraceContext{},
		recording:  recording,
		serverKind: trace.WithSpanKind(trace.SpanKindServer),
		clientKind: trace.WithSpanKind(trace.SpanKindClient),
	}
}

// idle reports that nothing is to be recorded or forwarded for ctx.
func (t *tracing) idle(ctx context.Context) bool {
	return !t.recording && !trace.SpanContextFromContext(ctx).IsValid()
}

// serverSpan starts the span of one HTTP request, continuing the caller's
// trace when the request carries trace context. Its attributes follow
// OpenTelemetry's semantic conventions for HTTP server spans; finishSpan
// sets them all at once, with the status code and the route.
func (t *tracing) serverSpan(r *http.Request) (context.Context, trace.Span) {
	if !t.recording && r.Header.Get("Traceparent") == "" {
		return r.Context(), trace.SpanFromContext(r.Context())
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	// Named after the method (semantic conventions) until finishSpan
	// knows the service and method.
	name := r.Method
	if !knownMethods[name] {
		name = "HTTP"
	}
	return t.tracer.Start(ctx, name, t.serverKind)
}

// maxSpanPath caps url.path on spans.
const maxSpanPath = 1024

// knownMethods are the methods http.request.method names as they are;
// others are "_OTHER" (semantic conventions).
var knownMethods = map[string]bool{
	http.MethodGet: true, http.MethodHead: true, http.MethodPost: true, http.MethodPut: true, http.MethodDelete: true,
	http.MethodConnect: true, http.MethodOptions: true, http.MethodTrace: true, http.MethodPatch: true,
}

// attemptSpan starts the span of one backend attempt and writes its trace
// context into the call's metadata (gRPC metadata, Dubbo attachments, the
// Tars context, HTTP headers), so that the backend's spans join the trace.
// Its attributes follow the semantic conventions for RPC client spans:
// rpc.service is the wire name when the protocol has one (a gRPC service),
// else the gateway's name for the service.
func (t *tracing) attemptSpan(ctx context.Context, c *cluster, m *member, call *generic.Call, addr string) (context.Context, trace.Span) {
	if t.idle(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	// The full name is built only for a span that is recorded.
	ctx, span := t.tracer.Start(ctx, c.name, t.clientKind)
	if span.IsRecording() {
		span.SetName(c.spanName(call.Method))
		service := call.Service
		if service == "" && c.svc.Proto != nil {
			service = c.svc.Proto.QualifiedName()
		}
		if service == "" {
			service = c.name
		}
		fixed := m.attemptAttrs(c, addr)
		// One SetAttributes call: each may grow the span's attribute slice.
		attrs := make([]attribute.KeyValue, 0, len(fixed)+2)
		attrs = append(attrs, fixed...)
		attrs = append(attrs, attribute.String("rpc.service", service), attribute.String("rpc.method", generic.Clip(call.Method)))
		span.SetAttributes(attrs...)
	}
	if trace.SpanContextFromContext(ctx).IsValid() {
		if call.Meta == nil {
			call.Meta = map[string]string{}
		}
		t.prop.Inject(ctx, propagation.MapCarrier(call.Meta))
	}
	return ctx, span
}

// attemptAttrs are the attempt span's attributes that depend only on the
// cluster and the instance: rpc.system, rpcbridge.service, server.address
// and server.port, made once per instance.
func (m *member) attemptAttrs(c *cluster, addr string) []attribute.KeyValue {
	if p := m.spanAttrs.Load(); p != nil {
		return *p
	}
	attrs := []attribute.KeyValue{
		attribute.String("rpc.system", c.svc.RPCSystem()),
		attribute.String("rpcbridge.service", c.name),
	}
	if host, port, err := net.SplitHostPort(addr); err == nil {
		attrs = append(attrs, attribute.String("server.address", host))
		if p, err := strconv.Atoi(port); err == nil {
			attrs = append(attrs, attribute.Int("server.port", p))
		}
	} else {
		attrs = append(attrs, attribute.String("server.address", addr))
	}
	m.spanAttrs.Store(&attrs)
	return attrs
}

// spanName is "<service>/<method>", kept for methods known to exist (so
// the cache is bounded by them) and made afresh for others.
func (c *cluster) spanName(method string) string {
	if v, ok := c.spanNames.Load(method); ok {
		return v.(string)
	}
	name := c.name + "/" + generic.Clip(method)
	if _, ok := c.known.Load(method); ok {
		c.spanNames.Store(method, name)
	}
	return name
}

// endSpan records an error, if any, and ends the span.
func endSpan(span trace.Span, err error) {
	if err != nil {
		e := generic.AsError(err)
		span.SetAttributes(attribute.String("rpcbridge.error.code", string(e.Code)))
		span.SetStatus(codes.Error, e.Message)
	}
	span.End()
}
