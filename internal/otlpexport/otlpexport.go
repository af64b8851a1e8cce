// Package otlpexport exports spans over OTLP for a process that traces
// every request. It turns the SDK's spans into OTLP messages that it keeps
// from one batch to the next, so that once warm a span costs no
// allocation to convert, and hands them to the OpenTelemetry OTLP client
// (otlptracegrpc or otlptracehttp NewClient), which sends them: endpoint,
// TLS, headers, compression, retries and the OTEL_EXPORTER_OTLP_*
// variables are the client's. The OTLP exporters of the SDK allocate
// every message of every span afresh, which at one export per request is
// a large share of a gateway's work.
package otlpexport

import (
	"context"
	"math"
	"sync"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace"
	"go.opentelemetry.io/otel/sdk/instrumentation"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"
	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	resourcepb "go.opentelemetry.io/proto/otlp/resource/v1"
	tracepb "go.opentelemetry.io/proto/otlp/trace/v1"
)

// Exporter is an sdktrace.SpanExporter sending through an OTLP client.
// Exports are serialised: the messages of one are reused by the next.
type Exporter struct {
	client otlptrace.Client

	mu      sync.Mutex
	stopped bool
	b       builder
}

// New starts client and returns an Exporter sending through it.
func New(ctx context.Context, client otlptrace.Client) (*Exporter, error) {
	if err := client.Start(ctx); err != nil {
		return nil, err
	}
	return &Exporter{client: client}, nil
}

// ExportSpans implements sdktrace.SpanExporter.
func (e *Exporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	if len(spans) == 0 {
		return nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.stopped {
		return nil
	}
	rs := e.b.build(spans)
	err := e.client.UploadTraces(ctx, rs)
	// What the messages point at (names, attribute values) is not kept
	// past the export.
	e.b.release()
	return err
}

// Shutdown implements sdktrace.SpanExporter: it stops the client.
func (e *Exporter) Shutdown(ctx context.Context) error {
	e.mu.Lock()
	if e.stopped {
		e.mu.Unlock()
		return nil
	}
	e.stopped = true
	e.mu.Unlock()
	return e.client.Stop(ctx)
}

// pool hands out *T kept from earlier batches, new ones when it runs out.
type pool[T any] struct {
	all  []*T
	used int
}

func (p *pool[T]) get() *T {
	if p.used == len(p.all) {
		p.all = append(p.all, new(T))
	}
	x := p.all[p.used]
	p.used++
	return x
}

// builder holds the messages of one export request.
type builder struct {
	out []*tracepb.ResourceSpans

	resources  pool[tracepb.ResourceSpans]
	scopeSpans pool[tracepb.ScopeSpans]
	spans      pool[tracepb.Span]
	statuses   pool[tracepb.Status]
	kvs        pool[commonpb.KeyValue]
	values     pool[commonpb.AnyValue]
	strs       pool[commonpb.AnyValue_StringValue]
	ints       pool[commonpb.AnyValue_IntValue]
	bools      pool[commonpb.AnyValue_BoolValue]
	doubles    pool[commonpb.AnyValue_DoubleValue]

	// The resource and scope messages, converted once per distinct
	// resource and scope.
	resourceOf map[attribute.Distinct]*resourcepb.Resource
	scopeOf    map[instrumentation.Scope]*commonpb.InstrumentationScope

	groups []group
}

// group is the spans of one resource and scope.
type group struct {
	res   *resource.Resource
	scope instrumentation.Scope
	rs    *tracepb.ResourceSpans
	ss    *tracepb.ScopeSpans
}

func (b *builder) build(spans []sdktrace.ReadOnlySpan) []*tracepb.ResourceSpans {
	if b.resourceOf == nil {
		b.resourceOf = map[attribute.Distinct]*resourcepb.Resource{}
		b.scopeOf = map[instrumentation.Scope]*commonpb.InstrumentationScope{}
	}
	b.out = b.out[:0]
	b.groups = b.groups[:0]
	for _, s := range spans {
		if s == nil {
			continue
		}
		g := b.group(s.Resource(), s.InstrumentationScope())
		g.ss.Spans = append(g.ss.Spans, b.span(s))
	}
	return b.out
}

// group finds or starts the group of spans of res and scope.
func (b *builder) group(res *resource.Resource, scope instrumentation.Scope) *group {
	for i := range b.groups {
		if g := &b.groups[i]; g.res == res && g.scope == scope {
			return g
		}
	}
	// Another scope of a resource already seen joins its ResourceSpans.
	var rs *tracepb.ResourceSpans
	for i := range b.groups {
		if b.groups[i].res == res {
			rs = b.groups[i].rs
			break
		}
	}
	if rs == nil {
		rs = b.resources.get()
		rs.Resource = b.resource(res)
		rs.ScopeSpans = rs.ScopeSpans[:0]
		rs.SchemaUrl = ""
		if res != nil {
			rs.SchemaUrl = res.SchemaURL()
		}
		b.out = append(b.out, rs)
	}
	ss := b.scopeSpans.get()
	ss.Scope = b.scope(scope)
	ss.Spans = ss.Spans[:0]
	ss.SchemaUrl = scope.SchemaURL
	rs.ScopeSpans = append(rs.ScopeSpans, ss)
	b.groups = append(b.groups, group{res: res, scope: scope, rs: rs, ss: ss})
	return &b.groups[len(b.groups)-1]
}

func (b *builder) resource(res *resource.Resource) *resourcepb.Resource {
	if res == nil {
		return nil
	}
	key := res.Equivalent()
	if r, ok := b.resourceOf[key]; ok {
		return r
	}
	r := &resourcepb.Resource{Attributes: keyValues(res.Attributes())}
	b.resourceOf[key] = r
	return r
}

func (b *builder) scope(s instrumentation.Scope) *commonpb.InstrumentationScope {
	if s == (instrumentation.Scope{}) {
		return nil
	}
	if sc, ok := b.scopeOf[s]; ok {
		return sc
	}
	sc := &commonpb.InstrumentationScope{Name: s.Name, Version: s.Version, Attributes: keyValues(s.Attributes.ToSlice())}
	b.scopeOf[s] = sc
	return sc
}

// span fills a kept Span message from s.
func (b *builder) span(s sdktrace.ReadOnlySpan) *tracepb.Span {
	sp := b.spans.get()
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	sp.TraceId = append(sp.TraceId[:0], tid[:]...)
	sp.SpanId = append(sp.SpanId[:0], sid[:]...)
	sp.TraceState = ""
	if ts := sc.TraceState(); ts.Len() > 0 {
		sp.TraceState = ts.String()
	}
	parent := s.Parent()
	sp.ParentSpanId = sp.ParentSpanId[:0]
	if psid := parent.SpanID(); psid.IsValid() {
		sp.ParentSpanId = append(sp.ParentSpanId, psid[:]...)
	}
	sp.Flags = flags(sc.TraceFlags(), parent)
	sp.Name = s.Name()
	sp.Kind = tracepb.Span_SpanKind(kind(s.SpanKind()))
	sp.StartTimeUnixNano = unixNano(s.StartTime().UnixNano())
	sp.EndTimeUnixNano = unixNano(s.EndTime().UnixNano())
	sp.Attributes = b.attributes(sp.Attributes[:0], s.Attributes())
	sp.DroppedAttributesCount = clamp(s.DroppedAttributes())
	sp.Events = events(s.Events())
	sp.DroppedEventsCount = clamp(s.DroppedEvents())
	sp.Links = links(s.Links())
	sp.DroppedLinksCount = clamp(s.DroppedLinks())
	// Always present, as the SDK's exporter sends it.
	st := s.Status()
	ps := b.statuses.get()
	ps.Code, ps.Message = statusCode(st.Code), st.Description
	sp.Status = ps
	return sp
}

// attributes appends kept KeyValue messages for attrs to dst.
func (b *builder) attributes(dst []*commonpb.KeyValue, attrs []attribute.KeyValue) []*commonpb.KeyValue {
	for _, a := range attrs {
		kv := b.kvs.get()
		kv.Key = string(a.Key)
		kv.Value = b.value(a.Value)
		dst = append(dst, kv)
	}
	return dst
}

// value is a kept AnyValue for a scalar, a new one for anything else.
func (b *builder) value(v attribute.Value) *commonpb.AnyValue {
	av := b.values.get()
	switch v.Type() {
	case attribute.STRING:
		x := b.strs.get()
		x.StringValue = v.AsString()
		av.Value = x
	case attribute.INT64:
		x := b.ints.get()
		x.IntValue = v.AsInt64()
		av.Value = x
	case attribute.BOOL:
		x := b.bools.get()
		x.BoolValue = v.AsBool()
		av.Value = x
	case attribute.FLOAT64:
		x := b.doubles.get()
		x.DoubleValue = v.AsFloat64()
		av.Value = x
	default:
		av.Value = anyValue(v).Value
	}
	return av
}

// release forgets what the kept messages point at and makes them
// available to the next export.
func (b *builder) release() {
	for _, s := range b.spans.all[:b.spans.used] {
		s.Name, s.TraceState = "", ""
		clear(s.Attributes)
		s.Attributes, s.Events, s.Links, s.Status = s.Attributes[:0], nil, nil, nil
	}
	for _, kv := range b.kvs.all[:b.kvs.used] {
		kv.Key, kv.Value = "", nil
	}
	for _, v := range b.values.all[:b.values.used] {
		v.Value = nil
	}
	for _, x := range b.strs.all[:b.strs.used] {
		x.StringValue = ""
	}
	for _, x := range b.statuses.all[:b.statuses.used] {
		x.Message = ""
	}
	for _, ss := range b.scopeSpans.all[:b.scopeSpans.used] {
		clear(ss.Spans)
		ss.Spans = ss.Spans[:0]
	}
	for _, rs := range b.resources.all[:b.resources.used] {
		clear(rs.ScopeSpans)
		rs.ScopeSpans = rs.ScopeSpans[:0]
	}
	clear(b.out)
	b.out = b.out[:0]
	clear(b.groups)
	b.groups = b.groups[:0]
	b.resources.used, b.scopeSpans.used, b.spans.used, b.statuses.used = 0, 0, 0, 0
	b.kvs.used, b.values.used, b.strs.used, b.ints.used, b.bools.used, b.doubles.used = 0, 0, 0, 0, 0, 0
	// Resources and scopes are few; a process that keeps making new ones
	// must not grow these without bound.
	if len(b.resourceOf) > 64 {
		clear(b.resourceOf)
	}
	if len(b.scopeOf) > 64 {
		clear(b.scopeOf)
	}
}

// flags are the span's W3C trace flags, with whether its parent is remote.
func flags(tf trace.TraceFlags, parent trace.SpanContext) uint32 {
	f := uint32(tf) | uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_HAS_IS_REMOTE_MASK)
	if parent.IsRemote() {
		f |= uint32(tracepb.SpanFlags_SPAN_FLAGS_CONTEXT_IS_REMOTE_MASK)
	}
	return f
}

// kind maps a span kind to OTLP's numbering (the same but for values
// OTLP does not have).
func kind(k trace.SpanKind) int32 {
	switch k {
	case trace.SpanKindInternal, trace.SpanKindServer, trace.SpanKindClient, trace.SpanKindProducer, trace.SpanKindConsumer:
		return int32(k)
	}
	return 0
}

func statusCode(c codes.Code) tracepb.Status_StatusCode {
	switch c {
	case codes.Ok:
		return tracepb.Status_STATUS_CODE_OK
	case codes.Error:
		return tracepb.Status_STATUS_CODE_ERROR
	}
	return tracepb.Status_STATUS_CODE_UNSET
}

func unixNano(n int64) uint64 {
	if n < 0 {
		return 0
	}
	return uint64(n)
}

func clamp(v int) uint32 {
	if v < 0 {
		return 0
	}
	if int64(v) > math.MaxUint32 {
		return math.MaxUint32
	}
	return uint32(v)
}

// The rare parts (events, links, slices and maps) are converted afresh.

func events(es []sdktrace.Event) []*tracepb.Span_Event {
	if len(es) == 0 {
		return nil
	}
	out := make([]*tracepb.Span_Event, len(es))
	for i, e := range es {
		out[i] = &tracepb.Span_Event{Name: e.Name, TimeUnixNano: unixNano(e.Time.UnixNano()),
			Attributes: keyValues(e.Attributes), DroppedAttributesCount: clamp(e.DroppedAttributeCount)}
	}
	return out
}

func links(ls []sdktrace.Link) []*tracepb.Span_Link {
	if len(ls) == 0 {
		return nil
	}
	out := make([]*tracepb.Span_Link, len(ls))
	for i, l := range ls {
		tid, sid := l.SpanContext.TraceID(), l.SpanContext.SpanID()
		out[i] = &tracepb.Span_Link{TraceId: append([]byte(nil), tid[:]...), SpanId: append([]byte(nil), sid[:]...),
			Attributes:             keyValues(l.Attributes),
			DroppedAttributesCount: clamp(l.DroppedAttributeCount), Flags: flags(l.SpanContext.TraceFlags(), l.SpanContext)}
	}
	return out
}

func keyValues(attrs []attribute.KeyValue) []*commonpb.KeyValue {
	if len(attrs) == 0 {
		return nil
	}
	out := make([]*commonpb.KeyValue, len(attrs))
	for i, a := range attrs {
		out[i] = &commonpb.KeyValue{Key: string(a.Key), Value: anyValue(a.Value)}
	}
	return out
}

func anyValue(v attribute.Value) *commonpb.AnyValue {
	av := &commonpb.AnyValue{}
	switch v.Type() {
	case attribute.BOOL:
		av.Value = &commonpb.AnyValue_BoolValue{BoolValue: v.AsBool()}
	case attribute.INT64:
		av.Value = &commonpb.AnyValue_IntValue{IntValue: v.AsInt64()}
	case attribute.FLOAT64:
		av.Value = &commonpb.AnyValue_DoubleValue{DoubleValue: v.AsFloat64()}
	case attribute.STRING:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: v.AsString()}
	case attribute.BYTESLICE:
		av.Value = &commonpb.AnyValue_BytesValue{BytesValue: v.AsByteSlice()}
	case attribute.BOOLSLICE:
		av.Value = array(v.AsBoolSlice(), attribute.BoolValue)
	case attribute.INT64SLICE:
		av.Value = array(v.AsInt64Slice(), attribute.Int64Value)
	case attribute.FLOAT64SLICE:
		av.Value = array(v.AsFloat64Slice(), attribute.Float64Value)
	case attribute.STRINGSLICE:
		av.Value = array(v.AsStringSlice(), attribute.StringValue)
	case attribute.SLICE:
		av.Value = array(v.AsSlice(), func(x attribute.Value) attribute.Value { return x })
	case attribute.MAP:
		av.Value = &commonpb.AnyValue_KvlistValue{KvlistValue: &commonpb.KeyValueList{Values: keyValues(v.AsMap())}}
	case attribute.EMPTY:
	default:
		av.Value = &commonpb.AnyValue_StringValue{StringValue: "INVALID"}
	}
	return av
}

func array[T any](xs []T, value func(T) attribute.Value) *commonpb.AnyValue_ArrayValue {
	vs := make([]*commonpb.AnyValue, len(xs))
	for i, x := range xs {
		vs[i] = anyValue(value(x))
	}
	return &commonpb.AnyValue_ArrayValue{ArrayValue: &commonpb.ArrayValue{Values: vs}}
}
