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
	"strings"
	"sync"
	"unicode/utf8"

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
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
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

// builder holds the messages of one export request. Spans are not
// messages: each is encoded straight to protobuf bytes, and a group's
// encoded spans are the unknown fields of its ScopeSpans message, which
// protobuf's marshalling (the client's) copies out as they are. Field 2
// of ScopeSpans is its repeated spans, so a collector decodes them as
// the spans they are; only the resource and scope are messages.
type builder struct {
	out []*tracepb.ResourceSpans

	resources  pool[tracepb.ResourceSpans]
	scopeSpans pool[tracepb.ScopeSpans]
	bufs       pool[[]byte]

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
	// spans are the group's spans, encoded as ScopeSpans field 2.
	spans *[]byte
	n     int
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
		*g.spans = appendSpan(*g.spans, s)
		g.n++
	}
	for i := range b.groups {
		g := &b.groups[i]
		g.ss.ProtoReflect().SetUnknown(*g.spans)
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
	ss.SchemaUrl = scope.SchemaURL
	rs.ScopeSpans = append(rs.ScopeSpans, ss)
	buf := b.bufs.get()
	*buf = (*buf)[:0]
	b.groups = append(b.groups, group{res: res, scope: scope, rs: rs, ss: ss, spans: buf})
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

// release makes the kept messages and buffers available to the next
// export.
func (b *builder) release() {
	for _, ss := range b.scopeSpans.all[:b.scopeSpans.used] {
		ss.ProtoReflect().SetUnknown(nil)
	}
	for _, rs := range b.resources.all[:b.resources.used] {
		clear(rs.ScopeSpans)
		rs.ScopeSpans = rs.ScopeSpans[:0]
	}
	// A buffer grown by one huge batch is not kept.
	for i, buf := range b.bufs.all[:b.bufs.used] {
		if cap(*buf) > maxKeptBuffer {
			b.bufs.all[i] = new([]byte)
		}
	}
	clear(b.out)
	b.out = b.out[:0]
	clear(b.groups)
	b.groups = b.groups[:0]
	b.resources.used, b.scopeSpans.used, b.bufs.used = 0, 0, 0
	// Resources and scopes are few; a process that keeps making new ones
	// must not grow these without bound.
	if len(b.resourceOf) > 64 {
		clear(b.resourceOf)
	}
	if len(b.scopeOf) > 64 {
		clear(b.scopeOf)
	}
}

// maxKeptBuffer bounds the encoded spans a builder keeps between exports.
const maxKeptBuffer = 4 << 20

// The field numbers of opentelemetry/proto/trace/v1/trace.proto and
// common/v1/common.proto that the encoder writes.
const (
	fieldScopeSpansSpans = 2

	fieldSpanTraceID       = 1
	fieldSpanSpanID        = 2
	fieldSpanTraceState    = 3
	fieldSpanParentSpanID  = 4
	fieldSpanName          = 5
	fieldSpanKind          = 6
	fieldSpanStart         = 7
	fieldSpanEnd           = 8
	fieldSpanAttributes    = 9
	fieldSpanDroppedAttrs  = 10
	fieldSpanEvents        = 11
	fieldSpanDroppedEvents = 12
	fieldSpanLinks         = 13
	fieldSpanDroppedLinks  = 14
	fieldSpanStatus        = 15
	fieldSpanFlags         = 16

	fieldStatusMessage = 2
	fieldStatusCode    = 3

	fieldKeyValueKey   = 1
	fieldKeyValueValue = 2

	fieldAnyString = 1
	fieldAnyBool   = 2
	fieldAnyInt    = 3
	fieldAnyDouble = 4
)

// appendSpan appends s as ScopeSpans field 2: the bytes protobuf's
// marshalling writes for the Span message the SDK's OTLP exporter makes
// of it (proto3: fields at their zero value are left out).
func appendSpan(dst []byte, s sdktrace.ReadOnlySpan) []byte {
	dst = protowire.AppendTag(dst, fieldScopeSpansSpans, protowire.BytesType)
	dst, mark := beginMessage(dst)
	sc := s.SpanContext()
	tid, sid := sc.TraceID(), sc.SpanID()
	dst = protowire.AppendTag(dst, fieldSpanTraceID, protowire.BytesType)
	dst = protowire.AppendBytes(dst, tid[:])
	dst = protowire.AppendTag(dst, fieldSpanSpanID, protowire.BytesType)
	dst = protowire.AppendBytes(dst, sid[:])
	if ts := sc.TraceState(); ts.Len() > 0 {
		dst = appendString(dst, fieldSpanTraceState, ts.String())
	}
	parent := s.Parent()
	if psid := parent.SpanID(); psid.IsValid() {
		dst = protowire.AppendTag(dst, fieldSpanParentSpanID, protowire.BytesType)
		dst = protowire.AppendBytes(dst, psid[:])
	}
	dst = appendString(dst, fieldSpanName, s.Name())
	dst = appendVarint(dst, fieldSpanKind, uint64(kind(s.SpanKind())))
	dst = appendFixed64(dst, fieldSpanStart, unixNano(s.StartTime().UnixNano()))
	dst = appendFixed64(dst, fieldSpanEnd, unixNano(s.EndTime().UnixNano()))
	for _, a := range s.Attributes() {
		dst = appendKeyValue(dst, fieldSpanAttributes, a)
	}
	dst = appendVarint(dst, fieldSpanDroppedAttrs, uint64(clamp(s.DroppedAttributes())))
	for _, e := range events(s.Events()) {
		dst = appendMessage(dst, fieldSpanEvents, e)
	}
	dst = appendVarint(dst, fieldSpanDroppedEvents, uint64(clamp(s.DroppedEvents())))
	for _, l := range links(s.Links()) {
		dst = appendMessage(dst, fieldSpanLinks, l)
	}
	dst = appendVarint(dst, fieldSpanDroppedLinks, uint64(clamp(s.DroppedLinks())))
	// Always present, as the SDK's exporter sends it.
	st := s.Status()
	dst = protowire.AppendTag(dst, fieldSpanStatus, protowire.BytesType)
	dst, status := beginMessage(dst)
	dst = appendString(dst, fieldStatusMessage, st.Description)
	dst = appendVarint(dst, fieldStatusCode, uint64(statusCode(st.Code)))
	dst = endMessage(dst, status)
	if f := flags(sc.TraceFlags(), parent); f != 0 {
		dst = protowire.AppendTag(dst, fieldSpanFlags, protowire.Fixed32Type)
		dst = protowire.AppendFixed32(dst, f)
	}
	return endMessage(dst, mark)
}

// appendKeyValue appends a as a KeyValue message field num.
func appendKeyValue(dst []byte, num protowire.Number, a attribute.KeyValue) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst, kv := beginMessage(dst)
	dst = appendString(dst, fieldKeyValueKey, string(a.Key))
	// The value is a message, present even when empty; a scalar is a
	// oneof member, present even at its zero value.
	dst = protowire.AppendTag(dst, fieldKeyValueValue, protowire.BytesType)
	dst, val := beginMessage(dst)
	switch v := a.Value; v.Type() {
	case attribute.STRING:
		dst = protowire.AppendTag(dst, fieldAnyString, protowire.BytesType)
		dst = appendValidString(dst, v.AsString())
	case attribute.BOOL:
		dst = protowire.AppendTag(dst, fieldAnyBool, protowire.VarintType)
		dst = protowire.AppendVarint(dst, protowire.EncodeBool(v.AsBool()))
	case attribute.INT64:
		dst = protowire.AppendTag(dst, fieldAnyInt, protowire.VarintType)
		dst = protowire.AppendVarint(dst, uint64(v.AsInt64()))
	case attribute.FLOAT64:
		dst = protowire.AppendTag(dst, fieldAnyDouble, protowire.Fixed64Type)
		dst = protowire.AppendFixed64(dst, math.Float64bits(v.AsFloat64()))
	default:
		dst, _ = marshal.MarshalAppend(dst, anyValue(v))
	}
	dst = endMessage(dst, val)
	return endMessage(dst, kv)
}

// marshal writes the rare parts (events, links, slices and maps), which
// are converted to messages afresh. Invalid UTF-8 has been made valid
// before (see appendValidString), so it cannot fail.
var marshal = proto.MarshalOptions{}

// appendMessage appends m as field num.
func appendMessage(dst []byte, num protowire.Number, m proto.Message) []byte {
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	dst, mark := beginMessage(dst)
	dst, _ = marshal.MarshalAppend(dst, m)
	return endMessage(dst, mark)
}

// beginMessage reserves one byte for the length of the message that
// follows; endMessage writes it, moving the message when its length
// takes more.
func beginMessage(dst []byte) ([]byte, int) {
	return append(dst, 0), len(dst)
}

func endMessage(dst []byte, mark int) []byte {
	n := len(dst) - mark - 1
	if n < 0x80 {
		dst[mark] = byte(n)
		return dst
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	dst = append(dst, make([]byte, extra)...)
	copy(dst[mark+1+extra:], dst[mark+1:mark+1+n])
	protowire.AppendVarint(dst[:mark], uint64(n))
	return dst
}

// appendString appends a string field, left out when empty (proto3).
func appendString(dst []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.BytesType)
	return appendValidString(dst, s)
}

// appendValidString appends s with a length prefix. Protobuf strings are
// UTF-8: protobuf's own marshalling refuses the whole request for one
// invalid string, and collectors refuse to decode it. Invalid bytes are
// written as U+FFFD instead, so that one odd attribute value loses
// nothing else.
func appendValidString(dst []byte, s string) []byte {
	return protowire.AppendString(dst, validString(s))
}

// validString is s with invalid UTF-8 written as U+FFFD.
func validString(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// appendVarint appends a varint field, left out when zero (proto3).
func appendVarint(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.VarintType)
	return protowire.AppendVarint(dst, v)
}

// appendFixed64 appends a fixed64 field, left out when zero (proto3).
func appendFixed64(dst []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return dst
	}
	dst = protowire.AppendTag(dst, num, protowire.Fixed64Type)
	return protowire.AppendFixed64(dst, v)
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
		out[i] = &tracepb.Span_Event{Name: validString(e.Name), TimeUnixNano: unixNano(e.Time.UnixNano()),
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
		out[i] = &commonpb.KeyValue{Key: validString(string(a.Key)), Value: anyValue(a.Value)}
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
		av.Value = &commonpb.AnyValue_StringValue{StringValue: validString(v.AsString())}
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
