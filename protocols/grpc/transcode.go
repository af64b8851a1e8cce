package grpc

import (
	"encoding/base64"
	"errors"
	"math"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rpcbridge/rpcbridge/generic"
)

// This file turns a reply's protobuf wire bytes straight into the JSON that
// protojson would write for the same message (with the adapter's options),
// walking a plan built once per output message type. Anything the plan
// cannot express exactly makes the method use the protojson path instead;
// any error while transcoding (malformed wire, invalid UTF-8, a timestamp
// out of range) sends that one reply down the protojson path, which then
// produces exactly the result or error it always did.

// wktKind says how a message is written: field by field, or as one of the
// well-known types with a JSON form of their own.
type wktKind uint8

const (
	wktNone wktKind = iota
	wktTimestamp
	wktDuration
	wktWrapper
	// wktUnsupported marks types the transcoder does not write (Any,
	// Struct, Value, ListValue, FieldMask); a plan containing one is not
	// used, and meeting one while transcoding is an error.
	wktUnsupported
)

// msgPlan is the transcoding plan for one message type.
type msgPlan struct {
	name   protoreflect.FullName
	wkt    wktKind
	fields []*fieldPlan // in declaration order; fieldPlan.idx is the position
	dense  []*fieldPlan // by field number, for small numbers
	sparse map[protowire.Number]*fieldPlan
	oneofs bool // has a real (non-synthetic) oneof
	// byName finds fields by JSON name, then proto name, as protojson
	// does when reading.
	byName map[string]*fieldPlan
}

func (p *msgPlan) field(n protowire.Number) *fieldPlan {
	if int(n) < len(p.dense) {
		return p.dense[n]
	}
	return p.sparse[n]
}

// fieldPlan is one field of a msgPlan.
type fieldPlan struct {
	idx      int
	num      protowire.Number
	key      []byte // `"jsonName":`
	kind     protoreflect.Kind
	wt       protowire.Type // the wire type of one (unpacked) value
	list     bool
	isMap    bool
	packable bool
	packed   bool // written packed (requests)
	utf8     bool // strings checked for UTF-8 when decoded (not proto2)
	presence bool
	inOneof  bool                         // in any oneof, synthetic or not
	oneof    protoreflect.OneofDescriptor // real oneof only
	msg      *msgPlan
	enum     *enumPlan
	mkey     *fieldPlan // map key
	mval     *fieldPlan // map value
}

// enumPlan holds an enum's value names, quoted, by number.
type enumPlan struct {
	null   bool // google.protobuf.NullValue, written as null
	dense  [][]byte
	sparse map[int32][]byte
	byName map[string]int32
}

func (e *enumPlan) name(n int32) []byte {
	if n >= 0 && int(n) < len(e.dense) {
		return e.dense[n]
	}
	return e.sparse[n]
}

// planBuilder builds plans, sharing one plan per message type so that
// recursive messages terminate.
type planBuilder struct {
	msgs  map[protoreflect.FullName]*msgPlan
	enums map[protoreflect.FullName]*enumPlan
	ok    bool
}

// newReplyPlan builds the plan for md. ok is false when some message
// reachable from md needs the protojson path.
func newReplyPlan(md protoreflect.MessageDescriptor) (p *msgPlan, ok bool) {
	b := &planBuilder{msgs: map[protoreflect.FullName]*msgPlan{}, enums: map[protoreflect.FullName]*enumPlan{}, ok: true}
	p = b.message(md)
	return p, b.ok
}

func (b *planBuilder) message(md protoreflect.MessageDescriptor) *msgPlan {
	if p := b.msgs[md.FullName()]; p != nil {
		return p
	}
	p := &msgPlan{name: md.FullName()}
	b.msgs[md.FullName()] = p
	switch md.FullName() {
	case "google.protobuf.Timestamp":
		p.wkt = wktTimestamp
	case "google.protobuf.Duration":
		p.wkt = wktDuration
	case "google.protobuf.DoubleValue", "google.protobuf.FloatValue", "google.protobuf.Int64Value",
		"google.protobuf.UInt64Value", "google.protobuf.Int32Value", "google.protobuf.UInt32Value",
		"google.protobuf.BoolValue", "google.protobuf.StringValue", "google.protobuf.BytesValue":
		p.wkt = wktWrapper
	case "google.protobuf.Any", "google.protobuf.Struct", "google.protobuf.Value",
		"google.protobuf.ListValue", "google.protobuf.FieldMask":
		p.wkt = wktUnsupported
		b.ok = false
		return p
	}
	if md.ExtensionRanges().Len() > 0 {
		// Extensions may be resolved from the linked-in registry when
		// decoding; protojson then writes them as "[name]".
		b.ok = false
	}
	fds := md.Fields()
	maxDense := 0
	for i := 0; i < fds.Len(); i++ {
		if n := int(fds.Get(i).Number()); n < 256 && n > maxDense {
			maxDense = n
		}
	}
	p.dense = make([]*fieldPlan, maxDense+1)
	p.byName = make(map[string]*fieldPlan, 2*fds.Len())
	for i := 0; i < fds.Len(); i++ {
		fd := fds.Get(i)
		f := b.field(fd)
		f.idx = i
		p.byName[fd.TextName()] = f
		p.fields = append(p.fields, f)
		if int(f.num) < len(p.dense) {
			p.dense[f.num] = f
		} else {
			if p.sparse == nil {
				p.sparse = map[protowire.Number]*fieldPlan{}
			}
			p.sparse[f.num] = f
		}
		if f.oneof != nil {
			p.oneofs = true
		}
	}
	for i, f := range p.fields {
		p.byName[fds.Get(i).JSONName()] = f // JSON names take precedence
	}
	if p.wkt == wktWrapper && (len(p.fields) != 1 || p.fields[0].num != 1) {
		b.ok = false
		p.wkt = wktUnsupported
	}
	if (p.wkt == wktTimestamp || p.wkt == wktDuration) && !secondsNanos(p) {
		b.ok = false
		p.wkt = wktUnsupported
	}
	return p
}

// secondsNanos checks the shape of Timestamp and Duration.
func secondsNanos(p *msgPlan) bool {
	s, n := p.field(1), p.field(2)
	return len(p.fields) == 2 && s != nil && n != nil && s.kind == protoreflect.Int64Kind &&
		n.kind == protoreflect.Int32Kind && !s.list && !n.list
}

func (b *planBuilder) field(fd protoreflect.FieldDescriptor) *fieldPlan {
	f := &fieldPlan{num: fd.Number(), kind: fd.Kind(), list: fd.IsList(), isMap: fd.IsMap(), presence: fd.HasPresence()}
	key, err := appendJSONString(nil, []byte(fd.JSONName()))
	if err != nil {
		b.ok = false
	}
	f.key = append(key, ':')
	if fd.Cardinality() == protoreflect.Required {
		// The protobuf codec checks required fields when decoding.
		b.ok = false
	}
	if od := fd.ContainingOneof(); od != nil {
		f.inOneof = true
		if !od.IsSynthetic() {
			f.oneof = od
		}
	}
	if fd.IsMap() {
		f.wt = protowire.BytesType
		f.mkey = b.field(fd.MapKey())
		f.mval = b.field(fd.MapValue())
		return f
	}
	switch fd.Kind() {
	case protoreflect.MessageKind:
		f.wt = protowire.BytesType
		f.msg = b.message(fd.Message())
		return f
	case protoreflect.GroupKind:
		f.wt = protowire.StartGroupType
		b.ok = false
		return f
	case protoreflect.StringKind, protoreflect.BytesKind:
		f.wt = protowire.BytesType
		f.utf8 = fd.Kind() == protoreflect.StringKind && fd.ParentFile().Syntax() != protoreflect.Proto2
		return f
	case protoreflect.EnumKind:
		f.enum = b.enum(fd.Enum())
		f.wt = protowire.VarintType
	case protoreflect.Fixed32Kind, protoreflect.Sfixed32Kind, protoreflect.FloatKind:
		f.wt = protowire.Fixed32Type
	case protoreflect.Fixed64Kind, protoreflect.Sfixed64Kind, protoreflect.DoubleKind:
		f.wt = protowire.Fixed64Type
	default:
		f.wt = protowire.VarintType
	}
	f.packable = f.list
	f.packed = fd.IsPacked()
	return f
}

func (b *planBuilder) enum(ed protoreflect.EnumDescriptor) *enumPlan {
	if e := b.enums[ed.FullName()]; e != nil {
		return e
	}
	e := &enumPlan{null: ed.FullName() == "google.protobuf.NullValue", byName: map[string]int32{}}
	b.enums[ed.FullName()] = e
	vs := ed.Values()
	for i := 0; i < vs.Len(); i++ {
		v := vs.Get(i)
		n := int32(v.Number())
		e.byName[string(v.Name())] = n
		if e.name(n) != nil {
			continue // an alias: protojson writes the first name
		}
		q, err := appendJSONString(nil, []byte(v.Name()))
		if err != nil {
			b.ok = false
		}
		if n >= 0 && n < 256 {
			for int(n) >= len(e.dense) {
				e.dense = append(e.dense, nil)
			}
			e.dense[n] = q
		} else {
			if e.sparse == nil {
				e.sparse = map[int32][]byte{}
			}
			e.sparse[n] = q
		}
	}
	return e
}

var (
	errMalformed   = errors.New("malformed protobuf wire data")
	errBadUTF8     = errors.New("string field holds invalid UTF-8")
	errDepth       = errors.New("message nested too deeply")
	errUnsupported = errors.New("type not handled by the transcoder")
	errRange       = errors.New("well-known type value out of range")
)

// maxDepth matches protobuf's default recursion limit for decoding.
const maxDepth = protowire.DefaultRecursionLimit

// rec is one field occurrence read from the wire.
type rec struct {
	f    *fieldPlan
	drop bool // replaced by another member of its oneof
	wt   protowire.Type
	v    uint64 // varint or fixed value
	b    []byte // length-delimited value
}

// transcoder holds the scratch state of one transcoding; it may be reused
// for another after reset, but not concurrently.
type transcoder struct {
	emit  bool // protojson's EmitUnpopulated
	out   []byte
	recs  []rec
	depth int
}

func (t *transcoder) reset(emit bool) {
	t.emit = emit
	t.out = t.out[:0]
	t.recs = t.recs[:0]
	t.depth = 0
}

// transcode appends the JSON of the message p encoded as b to t.out.
func (t *transcoder) transcode(p *msgPlan, b []byte) error {
	return t.message(p, b)
}

func (t *transcoder) message(p *msgPlan, b []byte) error {
	if t.depth++; t.depth > maxDepth {
		return errDepth
	}
	start := len(t.recs)
	err := t.scan(p, b, start)
	if err == nil {
		switch p.wkt {
		case wktNone:
			err = t.object(p, start)
		case wktTimestamp:
			err = t.timestamp(start)
		case wktDuration:
			err = t.duration(start)
		case wktWrapper:
			if end := len(t.recs); end > start {
				err = t.scalar(p.fields[0], t.recs[end-1])
			} else {
				err = t.scalar(p.fields[0], rec{})
			}
		default:
			err = errUnsupported
		}
	}
	t.recs = t.recs[:start]
	t.depth--
	return err
}

// scan reads b's fields into t.recs (from start), dropping unknown
// fields, values of the wrong wire type (protobuf keeps those as unknown)
// and oneof members replaced by a later member, then orders them by field
// declaration, keeping wire order within a field.
func (t *transcoder) scan(p *msgPlan, b []byte, start int) error {
	sorted := true
	last := -1
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return errMalformed
		}
		b = b[n:]
		f := p.field(num)
		var r rec
		switch wt {
		case protowire.VarintType:
			r.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			r.v = uint64(v)
		case protowire.Fixed64Type:
			r.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			r.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
			f = nil
		}
		if n < 0 {
			return errMalformed
		}
		b = b[n:]
		if f == nil || !(wt == f.wt || wt == protowire.BytesType && f.packable) {
			continue
		}
		if f.utf8 && !utf8.Valid(r.b) {
			return errBadUTF8
		}
		r.f, r.wt = f, wt
		if f.oneof != nil {
			t.oneofSwitch(start, f)
		}
		if f.idx < last {
			sorted = false
		}
		last = f.idx
		t.recs = append(t.recs, r)
	}
	if p.oneofs {
		k := start
		for i := start; i < len(t.recs); i++ {
			r := t.recs[i]
			if !r.drop {
				t.recs[k] = r
				k++
			} else if r.f.msg != nil {
				// protobuf decodes the replaced member too and fails
				// where it is malformed
				if err := t.discard(r.f.msg, r.b); err != nil {
					return err
				}
			}
		}
		t.recs = t.recs[:k]
	}
	if !sorted {
		slices.SortStableFunc(t.recs[start:], func(a, b rec) int { return a.f.idx - b.f.idx })
	}
	return nil
}

// discard checks a message that protobuf decodes but whose value the
// JSON does not show (a replaced oneof member or map entry), failing where
// decoding would.
func (t *transcoder) discard(p *msgPlan, b []byte) error {
	mark := len(t.out)
	err := t.message(p, b)
	t.out = t.out[:mark]
	if err == errRange || err == errUnsupported {
		return nil // only writing the value fails on these
	}
	return err
}

// oneofSwitch drops earlier occurrences of the other members of f's oneof
// when f replaces them.
func (t *transcoder) oneofSwitch(start int, f *fieldPlan) {
	for i := len(t.recs) - 1; i >= start; i-- {
		r := &t.recs[i]
		if r.drop || r.f.oneof != f.oneof {
			continue
		}
		if r.f == f {
			return // f is already the member; earlier ones were dropped then
		}
		for ; i >= start; i-- {
			if r := &t.recs[i]; !r.drop && r.f.oneof == f.oneof {
				r.drop = true
			}
		}
		return
	}
}

// object writes a message field by field.
func (t *transcoder) object(p *msgPlan, start int) error {
	t.out = append(t.out, '{')
	first := true
	i, end := start, len(t.recs)
	for _, f := range p.fields {
		j := i
		for j < end && t.recs[j].f == f {
			j++
		}
		mark := len(t.out)
		if !first {
			t.out = append(t.out, ',')
		}
		t.out = append(t.out, f.key...)
		keep := true
		var err error
		switch {
		case j == i:
			keep, err = t.unpopulated(f)
		case f.isMap:
			var n int
			n, err = t.mapValue(f, i, j)
			keep = n > 0 || t.emit
		case f.list:
			var n int
			n, err = t.listValue(f, i, j)
			keep = n > 0 || t.emit
		case f.msg != nil:
			err = t.messageField(f, i, j)
		default:
			r := t.recs[j-1]
			if !f.presence && !t.emit && isZero(f, r) {
				keep = false
			} else {
				err = t.scalar(f, r)
			}
		}
		if err != nil {
			return err
		}
		if keep {
			first = false
		} else {
			t.out = t.out[:mark]
		}
		i = j
	}
	t.out = append(t.out, '}')
	return nil
}

// unpopulated writes a field absent from the wire as protojson does with
// EmitUnpopulated, and reports whether anything was written.
func (t *transcoder) unpopulated(f *fieldPlan) (bool, error) {
	switch {
	case !t.emit || f.inOneof:
		return false, nil
	case f.isMap:
		t.out = append(t.out, '{', '}')
	case f.list:
		t.out = append(t.out, '[', ']')
	case f.presence:
		t.out = append(t.out, "null"...)
	default:
		return true, t.scalar(f, rec{})
	}
	return true, nil
}

// messageField writes a singular message field, merging its occurrences
// as protobuf does (decoding their concatenation is a merge).
func (t *transcoder) messageField(f *fieldPlan, i, j int) error {
	if j-i == 1 {
		return t.message(f.msg, t.recs[i].b)
	}
	n := 0
	for k := i; k < j; k++ {
		n += len(t.recs[k].b)
	}
	buf := make([]byte, 0, n)
	for k := i; k < j; k++ {
		buf = append(buf, t.recs[k].b...)
	}
	return t.message(f.msg, buf)
}

func (t *transcoder) listValue(f *fieldPlan, i, j int) (int, error) {
	t.out = append(t.out, '[')
	n := 0
	for k := i; k < j; k++ {
		r := t.recs[k]
		if r.wt == protowire.BytesType && f.packable {
			b := r.b
			for len(b) > 0 {
				var v uint64
				var m int
				switch f.wt {
				case protowire.VarintType:
					v, m = protowire.ConsumeVarint(b)
				case protowire.Fixed32Type:
					var v32 uint32
					v32, m = protowire.ConsumeFixed32(b)
					v = uint64(v32)
				default:
					v, m = protowire.ConsumeFixed64(b)
				}
				if m < 0 {
					return 0, errMalformed
				}
				b = b[m:]
				if n > 0 {
					t.out = append(t.out, ',')
				}
				if err := t.scalar(f, rec{v: v}); err != nil {
					return 0, err
				}
				n++
			}
			continue
		}
		if n > 0 {
			t.out = append(t.out, ',')
		}
		var err error
		if f.msg != nil {
			err = t.message(f.msg, r.b)
		} else {
			err = t.scalar(f, r)
		}
		if err != nil {
			return 0, err
		}
		n++
	}
	t.out = append(t.out, ']')
	return n, nil
}

// mapEntry is one decoded map entry.
type mapEntry struct {
	key  rec // normalized: see normKey
	val  rec
	vmsg []byte // message value, merged
}

func (t *transcoder) mapValue(f *fieldPlan, i, j int) (int, error) {
	if t.depth+1 > maxDepth {
		return 0, errDepth
	}
	ents := make([]mapEntry, 0, j-i)
	for k := i; k < j; k++ {
		e, err := t.entry(f, t.recs[k].b)
		if err != nil {
			return 0, err
		}
		ents = append(ents, e)
	}
	// The last entry for a key wins.
	var lastOf map[string]int
	if len(ents) > 16 {
		lastOf = make(map[string]int, len(ents))
		for k := range ents {
			lastOf[string(ents[k].key.b)+"\x00"+strconv.FormatUint(ents[k].key.v, 10)] = k
		}
	}
	t.out = append(t.out, '{')
	n := 0
	for k := range ents {
		e := &ents[k]
		if lastOf != nil && lastOf[string(e.key.b)+"\x00"+strconv.FormatUint(e.key.v, 10)] != k ||
			lastOf == nil && replaced(ents, k) {
			if f.mval.msg != nil {
				if err := t.discard(f.mval.msg, e.vmsg); err != nil {
					return 0, err
				}
			}
			continue
		}
		if n > 0 {
			t.out = append(t.out, ',')
		}
		n++
		if f.mkey.kind == protoreflect.StringKind {
			var err error
			if t.out, err = appendJSONString(t.out, e.key.b); err != nil {
				return 0, err
			}
		} else {
			t.out = append(t.out, '"')
			t.out = appendKeyText(t.out, f.mkey.kind, e.key.v)
			t.out = append(t.out, '"')
		}
		t.out = append(t.out, ':')
		var err error
		if f.mval.msg != nil {
			t.depth++
			err = t.message(f.mval.msg, e.vmsg)
			t.depth--
		} else {
			err = t.scalar(f.mval, e.val)
		}
		if err != nil {
			return 0, err
		}
	}
	t.out = append(t.out, '}')
	return n, nil
}

// replaced reports whether a later entry has the same key as ents[k].
func replaced(ents []mapEntry, k int) bool {
	for l := k + 1; l < len(ents); l++ {
		if ents[l].key.v == ents[k].key.v && string(ents[l].key.b) == string(ents[k].key.b) {
			return true
		}
	}
	return false
}

// entry decodes one map entry; missing keys and values are zero.
func (t *transcoder) entry(f *fieldPlan, b []byte) (mapEntry, error) {
	var e mapEntry
	merged := false
	for len(b) > 0 {
		num, wt, n := protowire.ConsumeTag(b)
		if n < 0 || num > protowire.MaxValidNumber {
			return e, errMalformed
		}
		b = b[n:]
		var r rec
		switch wt {
		case protowire.VarintType:
			r.v, n = protowire.ConsumeVarint(b)
		case protowire.Fixed32Type:
			var v uint32
			v, n = protowire.ConsumeFixed32(b)
			r.v = uint64(v)
		case protowire.Fixed64Type:
			r.v, n = protowire.ConsumeFixed64(b)
		case protowire.BytesType:
			r.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, wt, b)
			num = 0
		}
		if n < 0 {
			return e, errMalformed
		}
		b = b[n:]
		var g *fieldPlan
		switch num {
		case 1:
			g = f.mkey
		case 2:
			g = f.mval
		}
		if g == nil || wt != g.wt {
			continue
		}
		if g.utf8 && !utf8.Valid(r.b) {
			return e, errBadUTF8
		}
		switch {
		case num == 1:
			r.v = normKey(g.kind, r.v)
			e.key = r
		case g.msg != nil:
			if e.vmsg == nil || len(e.vmsg) == 0 {
				e.vmsg = r.b
			} else {
				if !merged {
					e.vmsg = append([]byte(nil), e.vmsg...)
					merged = true
				}
				e.vmsg = append(e.vmsg, r.b...)
			}
		default:
			e.val = r
		}
	}
	return e, nil
}

// normKey reduces a map key's wire value to the value it stands for, so
// that equal keys compare equal.
func normKey(k protoreflect.Kind, v uint64) uint64 {
	switch k {
	case protoreflect.BoolKind:
		if v != 0 {
			return 1
		}
		return 0
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		return uint64(int64(int32(v)))
	case protoreflect.Sint32Kind:
		return uint64(int64(int32(protowire.DecodeZigZag(v & math.MaxUint32))))
	case protoreflect.Sint64Kind:
		return uint64(protowire.DecodeZigZag(v))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return uint64(uint32(v))
	}
	return v
}

func appendKeyText(out []byte, k protoreflect.Kind, v uint64) []byte {
	switch k {
	case protoreflect.BoolKind:
		return strconv.AppendBool(out, v != 0)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return strconv.AppendUint(out, v, 10)
	}
	return strconv.AppendInt(out, int64(v), 10)
}

// isZero reports whether r holds the zero value of f's kind, which a
// field without presence does not carry.
func isZero(f *fieldPlan, r rec) bool {
	switch f.kind {
	case protoreflect.StringKind, protoreflect.BytesKind:
		return len(r.b) == 0
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Uint32Kind, protoreflect.Fixed32Kind,
		protoreflect.Sfixed32Kind, protoreflect.FloatKind, protoreflect.EnumKind:
		return uint32(r.v) == 0
	}
	return r.v == 0
}

// scalar writes one non-message value.
func (t *transcoder) scalar(f *fieldPlan, r rec) error {
	out := t.out
	switch f.kind {
	case protoreflect.BoolKind:
		out = strconv.AppendBool(out, r.v != 0)
	case protoreflect.Int32Kind, protoreflect.Sfixed32Kind:
		out = strconv.AppendInt(out, int64(int32(r.v)), 10)
	case protoreflect.Sint32Kind:
		out = strconv.AppendInt(out, int64(int32(protowire.DecodeZigZag(r.v&math.MaxUint32))), 10)
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		out = strconv.AppendUint(out, uint64(uint32(r.v)), 10)
	case protoreflect.Int64Kind, protoreflect.Sfixed64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, int64(r.v), 10)
		out = append(out, '"')
	case protoreflect.Sint64Kind:
		out = append(out, '"')
		out = strconv.AppendInt(out, protowire.DecodeZigZag(r.v), 10)
		out = append(out, '"')
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		out = append(out, '"')
		out = strconv.AppendUint(out, r.v, 10)
		out = append(out, '"')
	case protoreflect.FloatKind:
		out = generic.AppendFloat(out, float64(math.Float32frombits(uint32(r.v))), 32)
	case protoreflect.DoubleKind:
		out = generic.AppendFloat(out, math.Float64frombits(r.v), 64)
	case protoreflect.StringKind:
		var err error
		if out, err = appendJSONString(out, r.b); err != nil {
			return err
		}
	case protoreflect.BytesKind:
		out = append(out, '"')
		out = base64.StdEncoding.AppendEncode(out, r.b)
		out = append(out, '"')
	case protoreflect.EnumKind:
		n := int32(r.v)
		if f.enum.null {
			out = append(out, "null"...)
		} else if q := f.enum.name(n); q != nil {
			out = append(out, q...)
		} else {
			out = strconv.AppendInt(out, int64(n), 10)
		}
	default:
		return errUnsupported
	}
	t.out = out
	return nil
}

const hexDigits = "0123456789abcdef"

// appendJSONString writes s as a JSON string, escaping quotes,
// backslashes and control characters; invalid UTF-8 is an error.
func appendJSONString(out, s []byte) ([]byte, error) {
	out = append(out, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, n := utf8.DecodeRune(s[i:])
			if r == utf8.RuneError && n == 1 {
				return out, errBadUTF8
			}
			i += n
			continue
		}
		if c >= ' ' && c != '"' && c != '\\' {
			i++
			continue
		}
		out = append(out, s[start:i]...)
		switch c {
		case '"', '\\':
			out = append(out, '\\', c)
		case '\b':
			out = append(out, '\\', 'b')
		case '\f':
			out = append(out, '\\', 'f')
		case '\n':
			out = append(out, '\\', 'n')
		case '\r':
			out = append(out, '\\', 'r')
		case '\t':
			out = append(out, '\\', 't')
		default:
			out = append(out, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	out = append(out, s[start:]...)
	return append(out, '"'), nil
}

// secondsNanosOf reads the seconds (1) and nanos (2) fields of a
// Timestamp or Duration from t.recs[start:], the last occurrence winning.
func (t *transcoder) secondsNanosOf(start int) (secs, nanos int64) {
	for _, r := range t.recs[start:] {
		if r.f.num == 1 {
			secs = int64(r.v)
		} else {
			nanos = int64(int32(r.v))
		}
	}
	return secs, nanos
}

const (
	minTimestampSeconds = -62135596800 // 0001-01-01T00:00:00Z
	maxTimestampSeconds = 253402300799 // 9999-12-31T23:59:59Z
	maxDurationSeconds  = 315576000000 // 10000 years
	nanosPerSecond      = 1_000_000_000
)

func (t *transcoder) timestamp(start int) error {
	secs, nanos := t.secondsNanosOf(start)
	if secs < minTimestampSeconds || secs > maxTimestampSeconds || nanos < 0 || nanos > nanosPerSecond {
		return errRange
	}
	t.out = append(t.out, '"')
	mark := len(t.out)
	t.out = time.Unix(secs, nanos).UTC().AppendFormat(t.out, "2006-01-02T15:04:05.000000000")
	t.out = trimFraction(t.out, mark)
	t.out = append(t.out, 'Z', '"')
	return nil
}

func (t *transcoder) duration(start int) error {
	secs, nanos := t.secondsNanosOf(start)
	if secs < -maxDurationSeconds || secs > maxDurationSeconds || nanos < -nanosPerSecond || nanos > nanosPerSecond ||
		secs > 0 && nanos < 0 || secs < 0 && nanos > 0 {
		return errRange
	}
	t.out = append(t.out, '"')
	mark := len(t.out)
	if secs < 0 || nanos < 0 {
		t.out = append(t.out, '-')
		secs, nanos = -secs, -nanos
	}
	t.out = strconv.AppendInt(t.out, secs, 10)
	t.out = append(t.out, '.')
	for d := int64(100_000_000); d > 1 && nanos < d; d /= 10 {
		t.out = append(t.out, '0')
	}
	t.out = strconv.AppendInt(t.out, nanos, 10)
	t.out = trimFraction(t.out, mark)
	t.out = append(t.out, 's', '"')
	return nil
}

// trimFraction drops "000" twice and then ".000" from the end of
// out[mark:], giving 0, 3, 6 or 9 fractional digits as protojson does.
func trimFraction(out []byte, mark int) []byte {
	trim := func(suffix string) {
		if l := len(out); l-mark >= len(suffix) && string(out[l-len(suffix):]) == suffix {
			out = out[:l-len(suffix)]
		}
	}
	trim("000")
	trim("000")
	trim(".000")
	return out
}
