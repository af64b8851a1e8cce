package grpc

import (
	"encoding/base64"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// This file writes a request's JSON straight to protobuf wire bytes for
// the common case: plain JSON whose every value protojson would accept in
// the same way. Anything else (null, unknown or duplicate fields, numbers
// in exponent form, well-known types, surrogate escapes, values out of
// range, ...) returns errFallback and the request is decoded by protojson
// as before, which also gives its exact error messages.

// errFallback says the request must go through protojson.
var errFallback = errors.New("request needs the protojson path")

// maxRequestDepth bounds nesting on the direct path.
const maxRequestDepth = 100

// rawRequest is a request already encoded; replyCodec sends it as is.
type rawRequest []byte

// reqEncoder holds the state of one request encoding.
type reqEncoder struct {
	in    []byte
	pos   int
	out   []byte
	depth int
	buf   []byte // scratch for unescaped strings
}

// encodeRequest appends the wire encoding of the JSON object body (of the
// message p) to out. An empty body is an empty message.
func encodeRequest(p *msgPlan, body, out []byte) ([]byte, error) {
	e := reqEncoder{in: body, out: out}
	e.ws()
	if e.pos == len(e.in) {
		return e.out, nil
	}
	if err := e.object(p); err != nil {
		return nil, err
	}
	e.ws()
	if e.pos != len(e.in) {
		return nil, errFallback
	}
	return e.out, nil
}

func (e *reqEncoder) ws() {
	for e.pos < len(e.in) {
		switch e.in[e.pos] {
		case ' ', '\t', '\n', '\r':
			e.pos++
		default:
			return
		}
	}
}

func (e *reqEncoder) eat(c byte) bool {
	if e.pos < len(e.in) && e.in[e.pos] == c {
		e.pos++
		return true
	}
	return false
}

func (e *reqEncoder) peek() byte {
	if e.pos < len(e.in) {
		return e.in[e.pos]
	}
	return 0
}

// object writes the fields of one JSON object as message p.
func (e *reqEncoder) object(p *msgPlan) error {
	if p.wkt != wktNone {
		return errFallback
	}
	if e.depth++; e.depth > maxRequestDepth {
		return errFallback
	}
	if !e.eat('{') {
		return errFallback
	}
	var seen [4]uint64
	var oneofs [4]protoreflect.OneofDescriptor
	nOneofs := 0
	e.ws()
	if e.eat('}') {
		e.depth--
		return nil
	}
	for {
		e.ws()
		key, err := e.str()
		if err != nil {
			return err
		}
		f := p.byName[string(key)]
		if f == nil || f.idx >= 256 || seen[f.idx/64]&(1<<(f.idx%64)) != 0 {
			return errFallback
		}
		seen[f.idx/64] |= 1 << (f.idx % 64)
		e.ws()
		if !e.eat(':') {
			return errFallback
		}
		e.ws()
		if e.peek() == 'n' {
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
		e.ws()
		if e.eat(',') {
			continue
		}
		if e.eat('}') {
			e.depth--
			return nil
		}
		return errFallback
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
	if !e.eat('[') {
		return errFallback
	}
	e.ws()
	if e.eat(']') {
		return nil
	}
	mark := -1
	if f.packed {
		e.out = protowire.AppendTag(e.out, f.num, protowire.BytesType)
		mark = e.open()
	}
	for {
		e.ws()
		if e.peek() == 'n' {
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
		e.ws()
		if e.eat(',') {
			continue
		}
		if e.eat(']') {
			break
		}
		return errFallback
	}
	if mark >= 0 {
		e.close(mark)
	}
	return nil
}

func (e *reqEncoder) mapField(f *fieldPlan) error {
	if !e.eat('{') {
		return errFallback
	}
	e.ws()
	if e.eat('}') {
		return nil
	}
	var keys []string // to reject duplicates, as protojson does
	for {
		e.ws()
		kb, err := e.str()
		if err != nil {
			return err
		}
		for _, k := range keys {
			if k == string(kb) {
				return errFallback
			}
		}
		keys = append(keys, string(kb))
		if len(keys) > 64 {
			return errFallback
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
		e.ws()
		if !e.eat(':') {
			return errFallback
		}
		e.ws()
		if e.peek() == 'n' {
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
		e.ws()
		if e.eat(',') {
			continue
		}
		if e.eat('}') {
			return nil
		}
		return errFallback
	}
}

// scalar reads one non-message value of f's kind: v for numbers, bools
// and enums, b for strings and bytes; zero says it is the kind's zero.
func (e *reqEncoder) scalar(f *fieldPlan) (v uint64, b []byte, zero bool, err error) {
	switch f.kind {
	case protoreflect.BoolKind:
		switch {
		case e.lit("true"):
			return 1, nil, false, nil
		case e.lit("false"):
			return 0, nil, true, nil
		}
		return 0, nil, false, errFallback
	case protoreflect.StringKind:
		b, err = e.str()
		if err != nil {
			return 0, nil, false, err
		}
		// str may return e.buf: copy out before the next string
		return 0, b, len(b) == 0, nil
	case protoreflect.BytesKind:
		s, err := e.str()
		if err != nil {
			return 0, nil, false, err
		}
		b, err = decodeBase64(s)
		return 0, b, len(b) == 0, err
	case protoreflect.EnumKind:
		if f.enum.null {
			return 0, nil, false, errFallback
		}
		var n int32
		if e.peek() == '"' {
			s, err := e.str()
			if err != nil {
				return 0, nil, false, err
			}
			num, ok := f.enum.byName[string(s)]
			if !ok {
				return 0, nil, false, errFallback
			}
			n = num
		} else {
			t, ok := e.number()
			if !ok {
				return 0, nil, false, errFallback
			}
			x, err := intValue(protoreflect.Int32Kind, t)
			if err != nil {
				return 0, nil, false, err
			}
			n = int32(x)
		}
		return uint64(int64(n)), nil, n == 0, nil
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		bits := 64
		if f.kind == protoreflect.FloatKind {
			bits = 32
		}
		var x float64
		if e.peek() == '"' {
			s, err := e.str()
			if err != nil {
				return 0, nil, false, err
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
		} else {
			t, ok := e.number()
			if !ok {
				return 0, nil, false, errFallback
			}
			x, err = strconv.ParseFloat(string(t), bits)
			if err != nil {
				return 0, nil, false, errFallback
			}
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
	if e.peek() == '"' {
		t, err = e.str()
		if err != nil {
			return 0, nil, false, err
		}
	} else {
		var ok bool
		if t, ok = e.number(); !ok {
			return 0, nil, false, errFallback
		}
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

func (e *reqEncoder) lit(s string) bool {
	if len(e.in)-e.pos >= len(s) && string(e.in[e.pos:e.pos+len(s)]) == s {
		end := e.pos + len(s)
		if end < len(e.in) && isIdentByte(e.in[end]) {
			return false
		}
		e.pos = end
		return true
	}
	return false
}

func isIdentByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_'
}

// number reads a JSON number token and returns its text.
func (e *reqEncoder) number() ([]byte, bool) {
	start, i := e.pos, e.pos
	in := e.in
	if i < len(in) && in[i] == '-' {
		i++
	}
	digits := func() int {
		n := 0
		for i < len(in) && in[i] >= '0' && in[i] <= '9' {
			i++
			n++
		}
		return n
	}
	if i < len(in) && in[i] == '0' {
		i++
	} else if digits() == 0 {
		return nil, false
	}
	if i < len(in) && in[i] == '.' {
		i++
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(in) && (in[i] == 'e' || in[i] == 'E') {
		i++
		if i < len(in) && (in[i] == '+' || in[i] == '-') {
			i++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	if i < len(in) && (isIdentByte(in[i]) || in[i] == '.' || in[i] == '-' || in[i] == '+') {
		return nil, false
	}
	e.pos = i
	return in[start:i], true
}

// str reads a JSON string and returns its content, unescaped. The result
// is a slice of the input, or of e.buf when it had escapes (valid until
// the next call).
func (e *reqEncoder) str() ([]byte, error) {
	if !e.eat('"') {
		return nil, errFallback
	}
	in := e.in
	start := e.pos
	i := start
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			s := in[start:i]
			if !utf8.Valid(s) {
				return nil, errFallback
			}
			e.pos = i + 1
			return s, nil
		case c == '\\':
			return e.escaped(start)
		case c < ' ':
			return nil, errFallback
		}
		i++
	}
	return nil, errFallback
}

func (e *reqEncoder) escaped(start int) ([]byte, error) {
	in := e.in
	buf := e.buf[:0]
	i := start
	for i < len(in) {
		c := in[i]
		switch {
		case c == '"':
			if !utf8.Valid(buf) {
				return nil, errFallback
			}
			e.pos = i + 1
			e.buf = buf
			return buf, nil
		case c < ' ':
			return nil, errFallback
		case c != '\\':
			buf = append(buf, c)
			i++
			continue
		}
		if i+1 >= len(in) {
			return nil, errFallback
		}
		switch in[i+1] {
		case '"', '\\', '/':
			buf = append(buf, in[i+1])
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			if i+6 > len(in) {
				return nil, errFallback
			}
			r, err := strconv.ParseUint(string(in[i+2:i+6]), 16, 32)
			if err != nil || r >= 0xd800 && r <= 0xdfff {
				return nil, errFallback
			}
			buf = utf8.AppendRune(buf, rune(r))
			i += 6
			continue
		default:
			return nil, errFallback
		}
		i += 2
	}
	return nil, errFallback
}
