package grpc

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/rpcbridge/rpcbridge/generic"
)

// This file writes a request's JSON straight to protobuf wire bytes for
// the common case: plain JSON whose every value protojson would accept in
// the same way. Input that breaks rpcbridge's JSON rules (see
// generic.JSONReader) is an INVALID_ARGUMENT *generic.Error. Anything else
// the direct path does not take (null, unknown fields, numbers in exponent
// form where an integer is due, well-known types, values out of range,
// ...) returns errFallback and the request is decoded by protojson as
// before, which also gives its exact error messages.

// errFallback says the request must go through protojson.
var errFallback = errors.New("request needs the protojson path")

// maxRequestDepth bounds nesting on the direct path.
const maxRequestDepth = 100

// rawRequest is a request already encoded; replyCodec sends it as is.
type rawRequest []byte

// reqEncoder holds the state of one request encoding. It reads the JSON
// through generic.JSONReader, which applies rpcbridge's JSON rules: input
// that breaks them (bad syntax, a NUL byte, invalid UTF-8, a duplicate
// key, data after the object) is an INVALID_ARGUMENT *generic.Error, not
// errFallback.
type reqEncoder struct {
	r     generic.JSONReader
	out   []byte
	depth int // messages open
}

// encodeRequest appends the wire encoding of the JSON object body (of the
// message p) to out. An empty body is an empty message.
func encodeRequest(p *msgPlan, body, out []byte) ([]byte, error) {
	e := reqEncoder{out: out}
	// The message depth check (in object) comes first and falls back; the
	// reader's limit only bounds values skipped on the way to an error.
	e.r.Reset(body, 3*maxRequestDepth+3)
	if e.r.Peek() == generic.JSONEnd {
		return e.out, nil
	}
	if err := e.object(p); err != nil {
		return nil, err
	}
	if err := e.r.End(); err != nil {
		return nil, generic.InvalidJSON(err)
	}
	return e.out, nil
}

// bad turns a reader error into the request's error.
func bad(err error) error { return generic.InvalidJSON(err) }

// mismatch is the error for a value the direct path does not take: the
// reader's error when the value is not valid JSON, else errFallback.
func (e *reqEncoder) mismatch() error {
	if err := e.r.Skip(); err != nil {
		return bad(err)
	}
	return errFallback
}

// object writes the fields of one JSON object as message p.
func (e *reqEncoder) object(p *msgPlan) error {
	if p.wkt != wktNone || e.r.Peek() != generic.JSONObject {
		return e.mismatch()
	}
	if e.depth++; e.depth > maxRequestDepth {
		return errFallback
	}
	var c generic.JSONContainer
	if err := e.r.BeginObject(&c); err != nil {
		return bad(err)
	}
	var seen [4]uint64
	var oneofs [4]protoreflect.OneofDescriptor
	nOneofs := 0
	for {
		ok, err := e.r.More(&c)
		if err != nil {
			return bad(err)
		}
		if !ok {
			e.depth--
			return nil
		}
		// Known fields are marked in seen and unknown ones fall back, so
		// the reader need not remember keys.
		koff := e.r.Offset()
		key, err := e.r.KeyUnchecked(&c)
		if err != nil {
			return bad(err)
		}
		f := p.byName[string(key)]
		if f == nil || f.idx >= 256 {
			return errFallback
		}
		if seen[f.idx/64]&(1<<(f.idx%64)) != 0 {
			return bad(e.r.DuplicateKey(koff))
		}
		seen[f.idx/64] |= 1 << (f.idx % 64)
		if e.r.Peek() == generic.JSONNull {
			return errFallback // null: protojson's rules differ by type
		}
		if f.oneof != nil {
			for _, od := range oneofs[:nOneofs] {
				if od == f.oneof {
					return errFallback
				}
			}
			if nOneofs == len(oneofs) {
				return errFallback
			}
			oneofs[nOneofs] = f.oneof
			nOneofs++
		}
		switch {
		case f.isMap:
			err = e.mapField(f)
		case f.list:
			err = e.listField(f)
		case f.msg != nil:
			e.out = protowire.AppendTag(e.out, f.num, protowire.BytesType)
			err = e.nested(f.msg)
		default:
			err = e.singular(f)
		}
		if err != nil {
			return err
		}
	}
}

// nested writes a length-prefixed message.
func (e *reqEncoder) nested(p *msgPlan) error {
	mark := e.open()
	if err := e.object(p); err != nil {
		return err
	}
	e.close(mark)
	return nil
}

// open reserves one byte for a length; close writes the length of what
// follows it, widening the prefix when needed.
func (e *reqEncoder) open() int {
	e.out = append(e.out, 0)
	return len(e.out)
}

func (e *reqEncoder) close(start int) {
	n := len(e.out) - start
	if n < 128 {
		e.out[start-1] = byte(n)
		return
	}
	extra := protowire.SizeVarint(uint64(n)) - 1
	for i := 0; i < extra; i++ {
		e.out = append(e.out, 0)
	}
	copy(e.out[start+extra:], e.out[start:start+n])
	protowire.AppendVarint(e.out[:start-1], uint64(n))
}

func (e *reqEncoder) singular(f *fieldPlan) error {
	v, b, zero, err := e.scalar(f)
	if err != nil {
		return err
	}
	if zero && !f.presence {
		return nil // protobuf does not write a zero field without presence
	}
	e.out = protowire.AppendTag(e.out, f.num, f.wt)
	e.appendScalar(f, v, b)
	return nil
}

func (e *reqEncoder) appendScalar(f *fieldPlan, v uint64, b []byte) {
	switch f.wt {
	case protowire.VarintType:
		e.out = protowire.AppendVarint(e.out, v)
	case protowire.Fixed32Type:
		e.out = protowire.AppendFixed32(e.out, uint32(v))
	case protowire.Fixed64Type:
		e.out = protowire.AppendFixed64(e.out, v)
	default:
		e.out = protowire.AppendBytes(e.out, b)
	}
}

func (e *reqEncoder) listField(f *fieldPlan) error {
	if e.r.Peek() != generic.JSONArray {
		return e.mismatch()
	}
	var c generic.JSONContainer
	if err := e.r.BeginArray(&c); err != nil {
		return bad(err)
	}
	ok, err := e.r.More(&c)
	if err != nil {
		return bad(err)
	}
	if !ok {
		return nil
	}
	mark := -1
	if f.packed {
		e.out = protowire.AppendTag(e.out, f.num, protowire.BytesType)
		mark = e.open()
	}
	for ok {
		if e.r.Peek() == generic.JSONNull {
			return errFallback
		}
		switch {
		case f.msg != nil:
			e.out = protowire.AppendTag(e.out, f.num, protowire.BytesType)
			if err := e.nested(f.msg); err != nil {
				return err
			}
		default:
			v, b, _, err := e.scalar(f)
			if err != nil {
				return err
			}
			if !f.packed {
				e.out = protowire.AppendTag(e.out, f.num, f.wt)
			}
			e.appendScalar(f, v, b)
		}
		if ok, err = e.r.More(&c); err != nil {
			return bad(err)
		}
	}
	if mark >= 0 {
		e.close(mark)
	}
	return nil
}

// mapField writes a JSON object as map entries. The reader refuses
// duplicate keys, as protojson does.
func (e *reqEncoder) mapField(f *fieldPlan) error {
	if e.r.Peek() != generic.JSONObject {
		return e.mismatch()
	}
	var c generic.JSONContainer
	if err := e.r.BeginObject(&c); err != nil {
		return bad(err)
	}
	for {
		ok, err := e.r.More(&c)
		if err != nil {
			return bad(err)
		}
		if !ok {
			return nil
		}
		kb, err := e.r.Key(&c)
		if err != nil {
			return bad(err)
		}
		e.out = protowire.AppendTag(e.out, f.num, protowire.BytesType)
		mark := e.open()
		k := f.mkey
		e.out = protowire.AppendTag(e.out, 1, k.wt)
		switch k.kind {
		case protoreflect.StringKind:
			e.out = protowire.AppendBytes(e.out, kb)
		case protoreflect.BoolKind:
			switch string(kb) {
			case "true":
				e.out = protowire.AppendVarint(e.out, 1)
			case "false":
				e.out = protowire.AppendVarint(e.out, 0)
			default:
				return errFallback
			}
		default:
			v, err := intValue(k.kind, kb)
			if err != nil {
				return err
			}
			e.appendScalar(k, v, nil)
		}
		if e.r.Peek() == generic.JSONNull {
			return errFallback
		}
		val := f.mval
		e.out = protowire.AppendTag(e.out, 2, val.wt)
		if val.msg != nil {
			if err := e.nested(val.msg); err != nil {
				return err
			}
		} else {
			v, b, _, err := e.scalar(val)
			if err != nil {
				return err
			}
			e.appendScalar(val, v, b)
		}
		e.close(mark)
	}
}

// scalar reads one non-message value of f's kind: v for numbers, bools
// and enums, b for strings and bytes; zero says it is the kind's zero.
func (e *reqEncoder) scalar(f *fieldPlan) (v uint64, b []byte, zero bool, err error) {
	kind := e.r.Peek()
	switch f.kind {
	case protoreflect.BoolKind:
		if kind != generic.JSONTrue && kind != generic.JSONFalse {
			return 0, nil, false, e.mismatch()
		}
		t, err := e.r.Bool()
		if err != nil {
			return 0, nil, false, bad(err)
		}
		if t {
			return 1, nil, false, nil
		}
		return 0, nil, true, nil
	case protoreflect.StringKind:
		if kind != generic.JSONString {
			return 0, nil, false, e.mismatch()
		}
		// String may return the reader's scratch space: the caller writes
		// b out before the next read.
		b, err = e.r.String()
		if err != nil {
			return 0, nil, false, bad(err)
		}
		return 0, b, len(b) == 0, nil
	case protoreflect.BytesKind:
		if kind != generic.JSONString {
			return 0, nil, false, e.mismatch()
		}
		s, err := e.r.String()
		if err != nil {
			return 0, nil, false, bad(err)
		}
		b, err = decodeBase64(s)
		return 0, b, len(b) == 0, err
	case protoreflect.EnumKind:
		if f.enum.null {
			return 0, nil, false, errFallback
		}
		var n int32
		switch kind {
		case generic.JSONString:
			s, err := e.r.String()
			if err != nil {
				return 0, nil, false, bad(err)
			}
			num, ok := f.enum.byName[string(s)]
			if !ok {
				return 0, nil, false, errFallback
			}
			n = num
		case generic.JSONNumber:
			t, err := e.r.Number()
			if err != nil {
				return 0, nil, false, bad(err)
			}
			x, err := intValue(protoreflect.Int32Kind, t)
			if err != nil {
				return 0, nil, false, err
			}
			n = int32(x)
		default:
			return 0, nil, false, e.mismatch()
		}
		return uint64(int64(n)), nil, n == 0, nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		var x float64
		switch kind {
		case generic.JSONString:
			s, err := e.r.String()
			if err != nil {
				return 0, nil, false, bad(err)
			}
			switch string(s) {
			case "NaN":
				x = math.NaN()
			case "Infinity":
				x = math.Inf(1)
			case "-Infinity":
				x = math.Inf(-1)
			default:
				return 0, nil, false, errFallback
			}
		case generic.JSONNumber:
			t, err := e.r.Number()
			if err != nil {
				return 0, nil, false, bad(err)
			}
			x, err = strconv.ParseFloat(string(t), bits)
			if err != nil {
				return 0, nil, false, errFallback
			}
		default:
			return 0, nil, false, e.mismatch()
		}
		if bits == 32 {
			u := math.Float32bits(float32(x))
			return uint64(u), nil, u == 0, nil
		}
		u := math.Float64bits(x)
		return u, nil, u == 0, nil
	}
	// integers, as numbers or strings
	var t []byte
	switch kind {
	case generic.JSONString:
		t, err = e.r.String()
	case generic.JSONNumber:
		t, err = e.r.Number()
	default:
		return 0, nil, false, e.mismatch()
	}
	if err != nil {
		return 0, nil, false, bad(err)
	}
	v, err = intValue(f.kind, t)
	return v, nil, v == 0, err
}

// intValue parses a plain decimal integer (no sign on zero, no leading
// zeros, no fraction or exponent) and returns its wire value for kind.
func intValue(kind protoreflect.Kind, t []byte) (uint64, error) {
	neg := len(t) > 0 && t[0] == '-'
	digits := t
	if neg {
		digits = t[1:]
	}
	if len(digits) == 0 || len(digits) > 20 || digits[0] == '0' && (len(digits) > 1 || neg) {
		return 0, errFallback
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return 0, errFallback
		}
	}
	switch kind {
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		bits := 64
		if kind == protoreflect.Int32Kind || kind == protoreflect.Sint32Kind || kind == protoreflect.Sfixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseInt(string(t), 10, bits)
		if err != nil {
			return 0, errFallback
		}
		switch kind {
		case protoreflect.Sint32Kind, protoreflect.Sint64Kind:
			return protowire.EncodeZigZag(n), nil
		case protoreflect.Sfixed32Kind:
			return uint64(uint32(int32(n))), nil
		}
		return uint64(n), nil
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		if neg {
			return 0, errFallback
		}
		bits := 64
		if kind == protoreflect.Uint32Kind || kind == protoreflect.Fixed32Kind {
			bits = 32
		}
		n, err := strconv.ParseUint(string(t), 10, bits)
		if err != nil {
			return 0, errFallback
		}
		return n, nil
	}
	return 0, errFallback
}

// decodeBase64 accepts what protojson accepts: standard or URL alphabet,
// padded or not.
func decodeBase64(s []byte) ([]byte, error) {
	enc := base64.StdEncoding
	for _, c := range s {
		if c == '-' || c == '_' {
			enc = base64.URLEncoding
			break
		}
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	if err != nil {
		return nil, errFallback
	}
	return out[:n], nil
}
