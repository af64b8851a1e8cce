package gateway

import (
	"context"
	"net/http"

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
}

func newTracing(tp trace.TracerProvider) *tracing {
	recording := tp != nil
	if tp == nil {
		tp = noop.NewTracerProvider()
	}
	return &tracing{
		tracer:    tp.Tracer("github.com/rpcbridge/rpcbridge/gateway"),
		prop:      propagation.TraceContext{},
		recording: recording,
	}
}

// idle reports that nothing is to be recorded or forwarded for ctx.
func (t *tracing) idle(ctx context.Context) bool {
	return !t.recording && !trace.SpanContextFromContext(ctx).IsValid()
}

// serverSpan starts the span of one HTTP request, continuing the caller's
// trace when the request carries trace context.
func (t *tracing) serverSpan(r *http.Request) (context.Context, trace.Span) {
	if !t.recording && r.Header.Get("Traceparent") == "" {
		return r.Context(), trace.SpanFromContext(r.Context())
	}
	ctx := t.prop.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	return t.tracer.Start(ctx, "rpcbridge "+r.Method, trace.WithSpanKind(trace.SpanKindServer),
		trace.WithAttributes(attribute.String("http.request.method", r.Method), attribute.String("url.path", r.URL.Path)))
}

// attemptSpan starts the span of one backend attempt and writes its trace
// context into the call's metadata (gRPC metadata, Dubbo attachments, the
// Tars context), so that the backend's spans join the trace.
func (t *tracing) attemptSpan(ctx context.Context, c *cluster, call *generic.Call, addr string) (context.Context, trace.Span) {
	if t.idle(ctx) {
		return ctx, trace.SpanFromContext(ctx)
	}
	ctx, span := t.tracer.Start(ctx, c.name+"/"+call.Method, trace.WithSpanKind(trace.SpanKindClient),
		trace.WithAttributes(
			attribute.String("rpc.system", c.svc.Protocol),
			attribute.String("rpc.service", c.name),
			attribute.String("rpc.method", call.Method),
			attribute.String("server.address", addr),
		))
	if trace.SpanContextFromContext(ctx).IsValid() {
		if call.Meta == nil {
			call.Meta = map[string]string{}
		}
		t.prop.Inject(ctx, propagation.MapCarrier(call.Meta))
	}
	return ctx, span
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
