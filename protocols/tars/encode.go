package tars

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/TarsCloud/TarsGo/tars/protocol/codec"

	"github.com/rpcbridge/rpcbridge/generic"
)

// convError is a conversion error. The path to the bad value is built
// while the error travels up (so that nothing is allocated for paths on
// success), innermost segment first.
type convError struct {
	segs []string
	msg  string
}

func (c *convError) Error() string { return c.msg }

func convErr(format string, args ...any) *convError {
	return &convError{msg: fmt.Sprintf(format, args...)}
}

// at adds a path segment (".name", "[3]", "[\"key\"]") to a conversion
// error; other errors pass through.
func at(err error, seg string) error {
	if c, ok := err.(*convError); ok {
		c.segs = append(c.segs, seg)
	}
	return err
}

// inputError turns a conversion error into INVALID_ARGUMENT naming the
// argument ("a") or the field ("a.inner.points[0].x").
func inputError(err error) error {
	if je, ok := err.(*generic.JSONError); ok {
		return generic.InvalidJSON(je)
	}
	c, ok := err.(*convError)
	if !ok {
		return err
	}
	var b strings.Builder
	for i := len(c.segs) - 1; i >= 0; i-- {
		b.WriteString(c.segs[i])
	}
	p := strings.TrimPrefix(b.String(), ".")
	if p == "" {
		return generic.Errorf(generic.CodeInvalidArgument, "%s", c.msg)
	}
	what := "field"
	if len(c.segs) == 1 {
		what = "argument"
	}
	return generic.Errorf(generic.CodeInvalidArgument, "%s %q: %s", what, p, c.msg)
}

func got(raw []byte) string {
	if len(raw) > 64 {
		return string(raw[:64]) + "..."
	}
	return string(raw)
}

// maxDepth bounds nesting, in request JSON and in replies.
const maxDepth = 100

// encoder writes request JSON as Tars values. It reads the JSON through
// a generic.JSONReader, so input that breaks rpcbridge's JSON rules is a
// *generic.JSONError. Struct fields go on the wire in tag order, whatever
// the order of the JSON keys. While the keys come in tag order, which is
// the usual case, each field is written as it is read. When one does not,
// the object is read again from its start: a first pass notes where each
// field's value is (generic.JSONReader.Span), then the values are read
// from there in tag order, which checks them.
type encoder struct {
	b *codec.Buffer
	// w is b's buffer, to take back what a struct wrote when its keys turn
	// out not to be in tag order; nil: always read structs in two passes.
	w *bytes.Buffer
	// lenient: missing require fields get zero values (used when writing
	// defaults and zero structs), instead of an error.
	lenient bool
}

// span is where a field's value is in the input; end 0 means absent.
type span struct{ start, end int32 }

// fields writes obj, a JSON object (an empty body, or null, at the top
// means {}), as the fields of s, in tag order, without struct begin/end
// markers.
func (e *encoder) fields(s *structDesc, obj []byte, top bool, depth int) error {
	// The reader is a parameter of every method rather than a field: its
	// scratch space counts as escaping, and as a field it would take b's
	// buffers to the heap with it.
	var jr generic.JSONReader
	r := &jr
	r.Reset(obj, maxDepth+1)
	switch r.Peek() {
	case generic.JSONEnd:
		return e.write(r, s, nil, top, depth)
	case generic.JSONNull:
		if err := r.Null(); err != nil {
			return err
		}
		if err := r.End(); err != nil {
			return err
		}
		return e.write(r, s, nil, top, depth)
	case generic.JSONObject:
		return e.object(r, s, top, depth)
	}
	return e.notObject(r, s, top)
}

// notObject is the error for a value at the cursor that is not an object.
func (e *encoder) notObject(r *generic.JSONReader, s *structDesc, top bool) error {
	start := r.Offset()
	if err := r.Skip(); err != nil {
		return err
	}
	if top {
		if err := r.End(); err != nil {
			return err
		}
		return generic.Errorf(generic.CodeInvalidArgument, "request body must be a JSON object keyed by argument name, got %s", got(r.Input()[start:]))
	}
	return convErr("want a JSON object for %s, got %s", s.name, got(r.Input()[start:r.Offset()]))
}

// object reads the object at the cursor as struct s, and leaves the
// cursor after it.
func (e *encoder) object(r *generic.JSONReader, s *structDesc, top bool, depth int) error {
	if depth > maxDepth {
		return convErr("value nested too deeply")
	}
	if e.w != nil {
		mark, size := r.Mark(), e.w.Len()
		if done, err := e.stream(r, s, top, depth); done || err != nil {
			return err
		}
		r.Rewind(mark)
		e.w.Truncate(size)
	}
	var small [24]span
	var spans []span
	if len(s.fields) <= len(small) {
		spans = small[:len(s.fields)]
	} else {
		spans = make([]span, len(s.fields))
	}
	var c generic.JSONContainer
	if err := r.BeginObject(&c); err != nil {
		return err
	}
	for {
		ok, err := r.More(&c)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		key, err := r.Key(&c)
		if err != nil {
			return err
		}
		f := s.byName[string(key)]
		if f == nil {
			if top {
				return generic.Errorf(generic.CodeInvalidArgument, "unknown argument %q (want one of %s)", generic.Clip(string(key)), fieldNames(s))
			}
			return convErr("unknown field %q in %s", generic.Clip(string(key)), s.name)
		}
		start, end, err := r.Span()
		if err != nil {
			return err
		}
		spans[fieldIndex(s, f)] = span{int32(start), int32(end)}
	}
	if top {
		if err := r.End(); err != nil {
			return err
		}
	}
	after := r.Offset()
	if err := e.write(r, s, spans, top, depth); err != nil {
		return err
	}
	r.Seek(after)
	return nil
}

// stream reads the object at the cursor as struct s in one pass, writing
// each field as it comes, as long as the keys come in tag order. done is
// false, with a nil error, when a key comes out of order or a required
// field is missing by then: the caller starts the object again.
func (e *encoder) stream(r *generic.JSONReader, s *structDesc, top bool, depth int) (done bool, err error) {
	var c generic.JSONContainer
	if err := r.BeginObject(&c); err != nil {
		return false, err
	}
	next := 0 // the next field to write
	for {
		ok, err := r.More(&c)
		if err != nil {
			return false, err
		}
		if !ok {
			break
		}
		key, err := r.Key(&c)
		if err != nil {
			return false, err
		}
		f := s.byName[string(key)]
		if f == nil {
			if top {
				return false, generic.Errorf(generic.CodeInvalidArgument, "unknown argument %q (want one of %s)", generic.Clip(string(key)), fieldNames(s))
			}
			return false, convErr("unknown field %q in %s", generic.Clip(string(key)), s.name)
		}
		k := fieldIndex(s, f)
		if k < next {
			return false, nil
		}
		for ; next < k; next++ {
			if missing(s.fields[next], e.lenient, top) {
				return false, nil // it may come later
			}
			if err := e.absent(r, s, s.fields[next], top, depth); err != nil {
				return false, err
			}
		}
		next = k + 1
		if r.Peek() == generic.JSONNull {
			if err := r.Null(); err != nil {
				return false, err
			}
			if missing(f, e.lenient, top) {
				return false, nil
			}
			if err := e.absent(r, s, f, top, depth); err != nil {
				return false, err
			}
			continue
		}
		if err := e.value(r, f.t, f.tag, depth+1); err != nil {
			return false, at(err, "."+f.name)
		}
	}
	if top {
		if err := r.End(); err != nil {
			return false, err
		}
	}
	for ; next < len(s.fields); next++ {
		if err := e.absent(r, s, s.fields[next], top, depth); err != nil {
			return false, err
		}
	}
	return true, nil
}

// missing says that field f, when absent, is an error.
func missing(f *fieldDesc, lenient, top bool) bool {
	return f.def == nil && f.require && !lenient && !top
}

// absent writes field f of s, absent from the JSON (or null): its IDL
// default or zero value, or the error for a missing required field.
func (e *encoder) absent(r *generic.JSONReader, s *structDesc, f *fieldDesc, top bool, depth int) error {
	if f.def != nil {
		if err := e.writeDefault(f, depth+1); err != nil {
			return at(err, "."+f.name)
		}
		return nil
	}
	if missing(f, e.lenient, top) {
		return at(convErr("required field of %s is missing", s.name), "."+f.name)
	}
	return e.zero(r, f.t, f.tag, depth+1)
}

// write writes the fields of s from their spans (nil: all absent).
func (e *encoder) write(r *generic.JSONReader, s *structDesc, spans []span, top bool, depth int) error {
	for k, f := range s.fields {
		var sp span
		if spans != nil {
			sp = spans[k]
		}
		if sp.end == 0 || isNull(r.Input()[sp.start:sp.end]) {
			if err := e.absent(r, s, f, top, depth); err != nil {
				return err
			}
			continue
		}
		r.Seek(int(sp.start))
		if err := e.value(r, f.t, f.tag, depth+1); err != nil {
			return at(err, "."+f.name)
		}
	}
	return nil
}

// writeDefault writes f's IDL default, read by the same code as requests
// (with a reader of its own).
func (e *encoder) writeDefault(f *fieldDesc, depth int) error {
	var dr generic.JSONReader
	dr.Reset(f.def, maxDepth+1)
	lenient := e.lenient
	e.lenient = true
	err := e.value(&dr, f.t, f.tag, depth)
	e.lenient = lenient
	return err
}

func fieldIndex(s *structDesc, f *fieldDesc) int {
	for i, g := range s.fields {
		if g == f {
			return i
		}
	}
	return 0
}

func fieldNames(s *structDesc) string {
	names := make([]string, len(s.fields))
	for i, f := range s.fields {
		names[i] = f.name
	}
	return strings.Join(names, ", ")
}

func isNull(v []byte) bool { return len(v) == 4 && string(v) == "null" }

// mismatch is the error for a value at the cursor that does not fit: the
// reader's error if it is not valid JSON, else convErr(format, args...,
// the value's text).
func (e *encoder) mismatch(r *generic.JSONReader, format string, args ...any) error {
	start := r.Offset()
	if err := r.Skip(); err != nil {
		return err
	}
	return convErr(format, append(args, got(r.Input()[start:r.Offset()]))...)
}

// token reads a number, or a string, at the cursor and returns its text
// (with the quotes, for a string; content is the string unescaped). ok is
// false, and nothing is read, for other kinds.
func (e *encoder) token(r *generic.JSONReader, kind generic.JSONKind) (tok, content []byte, ok bool, err error) {
	start := r.Offset()
	switch kind {
	case generic.JSONNumber:
		tok, err = r.Number()
		return tok, nil, true, err
	case generic.JSONString:
		content, err = r.String()
		return r.Input()[start:r.Offset()], content, true, err
	}
	return nil, nil, false, nil
}

// value writes the JSON value at the cursor as type t at tag, and leaves
// the cursor after it.
func (e *encoder) value(r *generic.JSONReader, t *typ, tag byte, depth int) error {
	if depth > maxDepth {
		return convErr("value nested too deeply")
	}
	kind := r.Peek()
	if kind == generic.JSONNull {
		if err := r.Null(); err != nil {
			return err
		}
		return e.zero(r, t, tag, depth)
	}
	b := e.b
	switch t.kind {
	case kBool:
		if kind != generic.JSONTrue && kind != generic.JSONFalse {
			return e.mismatch(r, "want a boolean, got %s")
		}
		v, err := r.Bool()
		if err != nil {
			return err
		}
		if v {
			return b.WriteInt8(1, tag)
		}
		return b.WriteInt8(0, tag)
	case kByte, kShort, kInt, kLong:
		tok, _, ok, err := e.token(r, kind)
		if err != nil {
			return err
		}
		if !ok {
			return e.mismatch(r, "want %s (an integer), got %s", t.name)
		}
		n, err := parseInt(tok, bitsOf(t.kind))
		if err != nil {
			return convErr("%s", intMessage(err, t))
		}
		return b.WriteInt64(n, tag)
	case kUByte, kUShort, kUInt:
		tok, _, ok, err := e.token(r, kind)
		if err != nil {
			return err
		}
		if !ok {
			return e.mismatch(r, "want %s (an integer), got %s", t.name)
		}
		n, err := parseUint(tok, bitsOf(t.kind))
		if err != nil {
			return convErr("%s", intMessage(err, t))
		}
		// TarsGo writes unsigned values in the next wider signed type.
		return b.WriteInt64(int64(n), tag)
	case kFloat, kDouble:
		bits := 64
		if t.kind == kFloat {
			bits = 32
		}
		tok, _, ok, err := e.token(r, kind)
		if err != nil {
			return err
		}
		if !ok {
			return e.mismatch(r, "want a number (%s), got %s", t.name)
		}
		var f float64
		if kind == generic.JSONString {
			f, err = generic.ParseFloat(tok, bits)
		} else {
			f, err = strconv.ParseFloat(string(tok), bits)
		}
		if err != nil {
			return convErr("want a number (%s), got %s", t.name, got(tok))
		}
		if t.kind == kFloat {
			return b.WriteFloat32(float32(f), tag)
		}
		return b.WriteFloat64(f, tag)
	case kString:
		if kind != generic.JSONString {
			return e.mismatch(r, "want a string, got %s")
		}
		s, err := r.String()
		if err != nil {
			return err
		}
		return writeString(b, s, tag)
	case kBytes:
		if kind != generic.JSONString {
			return e.mismatch(r, "want a base64 string, got %s")
		}
		start := r.Offset()
		s, err := r.String()
		if err != nil {
			return err
		}
		raw, err := decodeBase64(s)
		if err != nil {
			return convErr("want base64, got %s", got(r.Input()[start:r.Offset()]))
		}
		_ = b.WriteHead(codec.SimpleList, tag)
		_ = b.WriteHead(codec.BYTE, 0)
		_ = b.WriteInt32(int32(len(raw)), 0)
		return b.WriteBytes(raw)
	case kEnum:
		tok, content, ok, err := e.token(r, kind)
		if err != nil {
			return err
		}
		if !ok {
			return e.mismatch(r, "want a name or number of enum %s, got %s", t.en.name)
		}
		n, err := enumValue(t.en, tok, content, kind == generic.JSONString)
		if err != nil {
			return convErr("%s", err.Error())
		}
		return b.WriteInt32(n, tag)
	case kStruct:
		if kind != generic.JSONObject {
			return e.mismatch(r, "want a JSON object for %s, got %s", t.st.name)
		}
		_ = b.WriteHead(codec.StructBegin, tag)
		if err := e.object(r, t.st, false, depth+1); err != nil {
			return err
		}
		return b.WriteHead(codec.StructEnd, 0)
	case kVector:
		return e.vector(r, t, kind, tag, depth)
	case kMap:
		return e.mapValue(r, t, kind, tag, depth)
	}
	return convErr("unsupported type %s", t.name)
}

func (e *encoder) vector(r *generic.JSONReader, t *typ, kind generic.JSONKind, tag byte, depth int) error {
	if kind != generic.JSONArray {
		return e.mismatch(r, "want a JSON array (%s), got %s", t.name)
	}
	// The count precedes the elements on the wire.
	n, err := r.Count()
	if err != nil {
		return err
	}
	_ = e.b.WriteHead(codec.LIST, tag)
	_ = e.b.WriteInt32(int32(n), 0)
	var c generic.JSONContainer
	if err := r.BeginArray(&c); err != nil {
		return err
	}
	for idx := 0; ; idx++ {
		ok, err := r.More(&c)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		if err := e.value(r, t.elem, 0, depth+1); err != nil {
			return at(err, "["+strconv.Itoa(idx)+"]")
		}
	}
}

func (e *encoder) mapValue(r *generic.JSONReader, t *typ, kind generic.JSONKind, tag byte, depth int) error {
	if kind != generic.JSONObject {
		return e.mismatch(r, "want a JSON object (%s), got %s", t.name)
	}
	n, err := r.Count()
	if err != nil {
		return err
	}
	_ = e.b.WriteHead(codec.MAP, tag)
	_ = e.b.WriteInt32(int32(n), 0)
	var c generic.JSONContainer
	if err := r.BeginObject(&c); err != nil {
		return err
	}
	for {
		ok, err := r.More(&c)
		if err != nil {
			return err
		}
		if !ok {
			return nil
		}
		r.Peek()
		koff := r.Offset()
		kc, err := r.Key(&c)
		if err != nil {
			return err
		}
		if err := e.key(r, t.key, koff, kc, depth+1); err != nil {
			return at(err, "["+strconv.Quote(r.StringAt(koff))+"]")
		}
		if err := e.value(r, t.elem, 1, depth+1); err != nil {
			return at(err, "["+strconv.Quote(r.StringAt(koff))+"]")
		}
	}
}

// key writes a map key, given as a JSON object key (the string at offset
// off, content its text): the key string itself for strings, its text for
// numbers, booleans and enums, and JSON text for structs, vectors and
// maps. It leaves the cursor where it was.
func (e *encoder) key(r *generic.JSONReader, t *typ, off int, content []byte, depth int) error {
	switch t.kind {
	case kString:
		return writeString(e.b, content, 0)
	case kBool:
		switch string(content) {
		case "true":
			return e.b.WriteInt8(1, 0)
		case "false":
			return e.b.WriteInt8(0, 0)
		}
		return convErr("want a boolean, got %s", got(content))
	case kByte, kShort, kInt, kLong, kUByte, kUShort, kUInt, kFloat, kDouble, kEnum, kBytes:
		// The quoted key, read again as a value of t.
		pos := r.Offset()
		r.Seek(off)
		err := e.value(r, t, 0, depth)
		r.Seek(pos)
		return err
	}
	// The key holds JSON for t, read by a reader of its own.
	text := append([]byte(nil), content...)
	var kr generic.JSONReader
	kr.Reset(text, maxDepth+1)
	err := e.value(&kr, t, 0, depth)
	if err == nil {
		err = kr.End()
	}
	if _, bad := err.(*generic.JSONError); bad {
		return convErr("map key must hold JSON for %s, got %s", t.name, got(text))
	}
	return err
}

// zero writes the zero value of t (the IDL defaults inside structs).
func (e *encoder) zero(r *generic.JSONReader, t *typ, tag byte, depth int) error {
	if depth > maxDepth {
		return generic.Errorf(generic.CodeInvalidArgument, "value nested too deeply")
	}
	b := e.b
	switch t.kind {
	case kFloat:
		return b.WriteFloat32(0, tag)
	case kDouble:
		return b.WriteFloat64(0, tag)
	case kString:
		return b.WriteString("", tag)
	case kBytes:
		_ = b.WriteHead(codec.SimpleList, tag)
		_ = b.WriteHead(codec.BYTE, 0)
		return b.WriteInt32(0, 0)
	case kVector:
		_ = b.WriteHead(codec.LIST, tag)
		return b.WriteInt32(0, 0)
	case kMap:
		_ = b.WriteHead(codec.MAP, tag)
		return b.WriteInt32(0, 0)
	case kStruct:
		_ = b.WriteHead(codec.StructBegin, tag)
		saved := e.lenient
		e.lenient = true
		err := e.write(r, t.st, nil, false, depth+1)
		e.lenient = saved
		if err != nil {
			return err
		}
		return b.WriteHead(codec.StructEnd, 0)
	}
	return b.WriteInt8(0, tag)
}

func writeString(b *codec.Buffer, s []byte, tag byte) error {
	if len(s) > 255 {
		_ = b.WriteHead(codec.STRING4, tag)
		var l [4]byte
		l[0], l[1], l[2], l[3] = byte(len(s)>>24), byte(len(s)>>16), byte(len(s)>>8), byte(len(s))
		_ = b.WriteBytes(l[:])
	} else {
		_ = b.WriteHead(codec.STRING1, tag)
		_ = b.WriteBytes([]byte{byte(len(s))})
	}
	return b.WriteBytes(s)
}

func decodeBase64(s []byte) ([]byte, error) {
	enc := base64.StdEncoding
	url := false
	for _, c := range s {
		if c == '-' || c == '_' {
			url = true
			break
		}
	}
	if url {
		enc = base64.URLEncoding
	}
	if len(s)%4 != 0 {
		enc = enc.WithPadding(base64.NoPadding)
	}
	out := make([]byte, enc.DecodedLen(len(s)))
	n, err := enc.Decode(out, s)
	return out[:n], err
}

// enumValue reads an enum from a JSON token: a name or a number, as a
// number or a string (content is the string's text).
func enumValue(en *enumDesc, tok, content []byte, isString bool) (int32, error) {
	if isString {
		if n, ok := en.byName[string(content)]; ok {
			return n, nil
		}
		if n, err := strconv.ParseInt(string(content), 10, 32); err == nil {
			return int32(n), nil
		}
		names := make([]string, len(en.values))
		for i, ev := range en.values {
			names[i] = ev.Name
		}
		return 0, fmt.Errorf("%q is not a value of enum %s (want one of %s)", content, en.name, strings.Join(names, ", "))
	}
	n, err := parseInt(tok, 32)
	if err != nil {
		return 0, fmt.Errorf("want a name or number of enum %s, got %s", en.name, got(tok))
	}
	return int32(n), nil
}

func bitsOf(k kind) int {
	switch k {
	case kByte, kUByte:
		return 8
	case kShort, kUShort:
		return 16
	case kInt, kUInt:
		return 32
	}
	return 64
}

func intMessage(err error, t *typ) string {
	msg := err.Error()
	if strings.HasPrefix(msg, "want an integer") {
		return "want " + t.name + " (an integer), " + strings.TrimPrefix(msg, "want an integer, ")
	}
	return msg
}

// parseInt parses a JSON integer (a number or a string holding one)
// exactly. Plain decimal numbers take a fast path.
func parseInt(v []byte, bits int) (int64, error) {
	if len(v) > 0 && len(v) <= 18 && v[0] != '"' {
		neg := v[0] == '-'
		digits := v
		if neg {
			digits = v[1:]
		}
		var n int64
		ok := len(digits) > 0
		for _, c := range digits {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + int64(c-'0')
		}
		if ok {
			if neg {
				n = -n
			}
			if bits < 64 && (n < -(1<<(bits-1)) || n > 1<<(bits-1)-1) {
				return 0, fmt.Errorf("%s is out of range for int%d", v, bits)
			}
			return n, nil
		}
	}
	return generic.ParseInt(v, bits)
}

func parseUint(v []byte, bits int) (uint64, error) {
	if len(v) > 0 && len(v) <= 18 && v[0] >= '0' && v[0] <= '9' {
		var n uint64
		ok := true
		for _, c := range v {
			if c < '0' || c > '9' {
				ok = false
				break
			}
			n = n*10 + uint64(c-'0')
		}
		if ok {
			if bits < 64 && n > 1<<bits-1 {
				return 0, fmt.Errorf("%s is out of range for uint%d", v, bits)
			}
			return n, nil
		}
	}
	return generic.ParseUint(v, bits)
}
