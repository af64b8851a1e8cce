package thrift

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

// maxDepth bounds nesting in request JSON and in replies.
const maxDepth = 64

// inputError is a request value that does not fit the IDL. path is built
// innermost first while the error unwinds, so the happy path never pays for
// it.
type inputError struct {
	path []string
	msg  string
}

func (e *inputError) Error() string {
	if len(e.path) == 0 {
		return e.msg
	}
	return fmt.Sprintf("field %q: %s", e.pathString(), e.msg)
}

func (e *inputError) pathString() string {
	var b strings.Builder
	for i := len(e.path) - 1; i >= 0; i-- {
		p := e.path[i]
		if i != len(e.path)-1 && p[0] != '[' {
			b.WriteByte('.')
		}
		b.WriteString(p)
	}
	return b.String()
}

// at adds a path segment to an input error; other errors pass through.
func at(err error, seg string) error {
	var ie *inputError
	if errors.As(err, &ie) {
		ie.path = append(ie.path, seg)
	}
	return err
}

func badInput(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// encoder streams request JSON into a TProtocol, field by field, following
// the compiled descriptor tree. It is reused across calls on one
// connection and allocates nothing for most values.
type encoder struct {
	r   generic.JSONReader
	p   thrift.TProtocol
	ctx context.Context
	bin []byte // base64 scratch
}

// writeArgs writes body (a JSON object keyed by argument name) as the
// arguments struct. An empty body is an empty object.
func (e *encoder) writeArgs(sd *structDesc, body []byte) error {
	e.r.Reset(body, maxDepth)
	if e.r.Peek() == generic.JSONEnd {
		e.r.Reset([]byte("{}"), maxDepth)
	}
	if e.r.Peek() != generic.JSONObject {
		if err := e.checkValue(); err != nil {
			return err
		}
		return badInput("request body must be a JSON object keyed by argument name, got %s", e.describe())
	}
	if err := e.writeStruct(sd, 0); err != nil {
		return err
	}
	return e.r.End()
}

// checkValue reads the next value to see that it is valid JSON (the
// reader's error if not) and goes back to its start.
func (e *encoder) checkValue() error {
	e.r.Peek()
	save := e.r.Offset()
	if err := e.r.Skip(); err != nil {
		return err
	}
	e.r.Seek(save)
	return nil
}

// wantGot reports a value of the wrong type, or a syntax error when the
// value is not valid JSON at all.
func (e *encoder) wantGot(want string) error {
	if err := e.checkValue(); err != nil {
		return err
	}
	return badInput("want %s, got %s", want, e.describe())
}

// describe says what the next value is, for "got ..." in messages; it
// does not consume it.
func (e *encoder) describe() string {
	save := e.r.Offset()
	defer e.r.Seek(save)
	switch e.r.Peek() {
	case generic.JSONObject:
		return "an object"
	case generic.JSONArray:
		return "an array"
	case generic.JSONTrue:
		return "true"
	case generic.JSONFalse:
		return "false"
	case generic.JSONNull:
		return "null"
	case generic.JSONString:
		s, err := e.r.String()
		if err != nil {
			return "a bad string"
		}
		return shortQuote(s)
	case generic.JSONNumber:
		n, err := e.r.Number()
		if err != nil {
			return "a bad number"
		}
		return "the number " + short(string(n))
	}
	return "nothing"
}

func short(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}

func shortQuote(b []byte) string {
	if len(b) > 40 {
		return strconv.Quote(string(b[:40])) + "..."
	}
	return strconv.Quote(string(b))
}

func (e *encoder) writeStruct(sd *structDesc, depth int) error {
	if depth > maxDepth {
		return badInput("nesting deeper than %d", maxDepth)
	}
	if e.r.Peek() != generic.JSONObject {
		return e.wantGot(sd.category + " " + sd.name + " (a JSON object)")
	}
	var c generic.JSONContainer
	if err := e.r.BeginObject(&c); err != nil {
		return err
	}
	if err := e.p.WriteStructBegin(e.ctx, sd.name); err != nil {
		return err
	}
	// keyed marks the fields the object names (to refuse a second key for
	// one, which the reader does not track here), written those it sets
	// (null sets nothing).
	var keyed, written uint64
	var big []uint8 // the same two bits per field, past 64 fields
	if len(sd.fields) > 64 {
		big = make([]uint8, len(sd.fields))
	}
	set := 0
	var first *fieldDesc
	for {
		ok, err := e.r.More(&c)
		if err != nil {
			return err
		}
		if !ok {
			break
		}
		koff := e.r.Offset()
		key, err := e.r.KeyUnchecked(&c)
		if err != nil {
			return err
		}
		f := sd.byName[string(key)]
		if f == nil {
			return badInput("unknown field %s in %s %s (fields: %s)", shortQuote(key), sd.category, sd.name, fieldNames(sd))
		}
		if big != nil {
			if big[f.index]&1 != 0 {
				return e.r.DuplicateKey(koff)
			}
			big[f.index] |= 1
		} else {
			if keyed&(1<<uint(f.index)) != 0 {
				return e.r.DuplicateKey(koff)
			}
			keyed |= 1 << uint(f.index)
		}
		if e.r.Peek() == generic.JSONNull {
			if err := e.r.Null(); err != nil {
				return err
			}
			continue
		}
		if big != nil {
			big[f.index] |= 2
		} else {
			written |= 1 << uint(f.index)
		}
		set++
		if sd.isUnion() {
			if set > 1 {
				return badInput("union %s takes exactly one field, got %q and %q", sd.name, first.name, f.name)
			}
			first = f
		}
		if err := e.field(f, depth); err != nil {
			return err
		}
	}
	seen := func(f *fieldDesc) bool {
		if big != nil {
			return big[f.index]&2 != 0
		}
		return written&(1<<uint(f.index)) != 0
	}
	if sd.isUnion() && set != 1 {
		return badInput("union %s takes exactly one field, got none", sd.name)
	}
	for _, f := range sd.after {
		if seen(f) {
			continue
		}
		if f.def == nil {
			return at(badInput("missing required field"), f.name)
		}
		saved := e.r
		e.r.Reset(f.def, maxDepth)
		err := e.field(f, depth)
		e.r = saved
		if err != nil {
			return err
		}
	}
	if err := e.p.WriteFieldStop(e.ctx); err != nil {
		return err
	}
	return e.p.WriteStructEnd(e.ctx)
}

func (e *encoder) field(f *fieldDesc, depth int) error {
	if err := e.p.WriteFieldBegin(e.ctx, f.name, f.typ.wire, f.id); err != nil {
		return err
	}
	if err := e.value(f.typ, depth+1); err != nil {
		return at(err, f.name)
	}
	return e.p.WriteFieldEnd(e.ctx)
}

func fieldNames(sd *structDesc) string {
	names := make([]string, 0, len(sd.fields))
	for _, f := range sd.fields {
		names = append(names, f.name)
	}
	return strings.Join(names, ", ")
}

func (e *encoder) value(t *ttype, depth int) error {
	switch t.kind {
	case kBool:
		switch e.r.Peek() {
		case generic.JSONTrue, generic.JSONFalse:
			v, err := e.r.Bool()
			if err != nil {
				return err
			}
			return e.p.WriteBool(e.ctx, v)
		}
		return e.wantGot("bool")
	case kByte:
		v, err := e.int(t, 8)
		if err != nil {
			return err
		}
		return e.p.WriteByte(e.ctx, int8(v))
	case kI16:
		v, err := e.int(t, 16)
		if err != nil {
			return err
		}
		return e.p.WriteI16(e.ctx, int16(v))
	case kI32:
		v, err := e.int(t, 32)
		if err != nil {
			return err
		}
		return e.p.WriteI32(e.ctx, int32(v))
	case kI64:
		v, err := e.int(t, 64)
		if err != nil {
			return err
		}
		return e.p.WriteI64(e.ctx, v)
	case kDouble:
		v, err := e.double()
		if err != nil {
			return err
		}
		return e.p.WriteDouble(e.ctx, v)
	case kString:
		if e.r.Peek() != generic.JSONString {
			return e.wantGot("string")
		}
		s, err := e.r.String()
		if err != nil {
			return err
		}
		// Strings and binaries share one encoding in the binary and compact
		// protocols; WriteBinary spares a []byte -> string copy.
		return e.p.WriteBinary(e.ctx, s)
	case kUUID:
		if e.r.Peek() != generic.JSONString {
			return e.wantGot("uuid (a string such as \"00112233-4455-6677-8899-aabbccddeeff\")")
		}
		s, err := e.r.String()
		if err != nil {
			return err
		}
		return e.uuid(s)
	case kBinary:
		if e.r.Peek() != generic.JSONString {
			return e.wantGot("binary (base64 string)")
		}
		s, err := e.r.String()
		if err != nil {
			return err
		}
		b, err := e.base64(s)
		if err != nil {
			return err
		}
		return e.p.WriteBinary(e.ctx, b)
	case kEnum:
		v, err := e.enum(t)
		if err != nil {
			return err
		}
		return e.p.WriteI32(e.ctx, v)
	case kStruct:
		return e.writeStruct(t.st, depth)
	case kList, kSet:
		if depth > maxDepth {
			return badInput("nesting deeper than %d", maxDepth)
		}
		if e.r.Peek() != generic.JSONArray {
			return e.wantGot(t.describe() + " (a JSON array)")
		}
		n, err := e.r.Count()
		if err != nil {
			return err
		}
		if t.kind == kList {
			err = e.p.WriteListBegin(e.ctx, t.elem.wire, n)
		} else {
			err = e.p.WriteSetBegin(e.ctx, t.elem.wire, n)
		}
		if err != nil {
			return err
		}
		var c generic.JSONContainer
		if err := e.r.BeginArray(&c); err != nil {
			return err
		}
		for i := 0; ; i++ {
			ok, err := e.r.More(&c)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			if e.r.Peek() == generic.JSONNull {
				return at(e.wantGot(t.elem.describe()), "["+strconv.Itoa(i)+"]")
			}
			if err := e.value(t.elem, depth+1); err != nil {
				return at(err, "["+strconv.Itoa(i)+"]")
			}
		}
		if t.kind == kList {
			return e.p.WriteListEnd(e.ctx)
		}
		return e.p.WriteSetEnd(e.ctx)
	case kMap:
		if depth > maxDepth {
			return badInput("nesting deeper than %d", maxDepth)
		}
		if e.r.Peek() != generic.JSONObject {
			return e.wantGot(t.describe() + " (a JSON object)")
		}
		switch t.key.kind {
		case kStruct, kList, kSet, kMap:
			return badInput("maps keyed by %s cannot be written in JSON: object keys are strings", t.key.describe())
		}
		n, err := e.r.Count()
		if err != nil {
			return err
		}
		if err := e.p.WriteMapBegin(e.ctx, t.key.wire, t.elem.wire, n); err != nil {
			return err
		}
		var c generic.JSONContainer
		if err := e.r.BeginObject(&c); err != nil {
			return err
		}
		for {
			ok, err := e.r.More(&c)
			if err != nil {
				return err
			}
			if !ok {
				break
			}
			e.r.Peek()
			koff := e.r.Offset()
			k, err := e.r.Key(&c)
			if err != nil {
				return err
			}
			if err := e.key(t.key, k); err != nil {
				return at(err, "["+strconv.Quote(string(k))+"]")
			}
			if e.r.Peek() == generic.JSONNull {
				return at(e.wantGot(t.elem.describe()), "["+strconv.Quote(e.r.StringAt(koff))+"]")
			}
			if err := e.value(t.elem, depth+1); err != nil {
				return at(err, "["+strconv.Quote(e.r.StringAt(koff))+"]")
			}
		}
		return e.p.WriteMapEnd(e.ctx)
	}
	return fmt.Errorf("unsupported type %s", t.describe())
}

func bitsOf(k kind) int {
	switch k {
	case kByte:
		return 8
	case kI16:
		return 16
	case kI32:
		return 32
	}
	return 64
}

// int reads an integer of the given width: a JSON number or a string
// holding one.
func (e *encoder) int(t *ttype, bits int) (int64, error) {
	var tok []byte
	kind := e.r.Peek()
	start := e.r.Offset()
	switch kind {
	case generic.JSONNumber:
		n, err := e.r.Number()
		if err != nil {
			return 0, err
		}
		if v, ok := fastInt(n, bits); ok {
			return v, nil
		}
		tok = n
	case generic.JSONString:
		s, err := e.r.String()
		if err != nil {
			return 0, err
		}
		if v, ok := fastInt(s, bits); ok {
			return v, nil
		}
		tok = e.r.Input()[start:e.r.Offset()]
	default:
		return 0, e.wantGot(t.name)
	}
	v, err := generic.ParseInt(tok, bits)
	if err != nil {
		if strings.Contains(err.Error(), "out of range") {
			return 0, badInput("%s is out of range for %s", short(strings.Trim(string(tok), `"`)), t.name)
		}
		e.r.Seek(start)
		return 0, e.wantGot(t.name)
	}
	return v, nil
}

// fastInt parses plain decimal digits with an optional minus sign.
func fastInt(b []byte, bits int) (int64, bool) {
	if len(b) == 0 {
		return 0, false
	}
	neg := b[0] == '-'
	if neg {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > 19 {
		return 0, false
	}
	var v uint64
	for _, c := range b {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + uint64(c-'0')
	}
	limit := uint64(1) << (bits - 1)
	if neg {
		if v > limit {
			return 0, false
		}
		return -int64(v), true
	}
	if v >= limit {
		return 0, false
	}
	return int64(v), true
}

func (e *encoder) double() (float64, error) {
	kind := e.r.Peek()
	start := e.r.Offset()
	switch kind {
	case generic.JSONNumber:
		n, err := e.r.Number()
		if err != nil {
			return 0, err
		}
		v, err := strconv.ParseFloat(string(n), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			e.r.Seek(start)
			return 0, e.wantGot("double")
		}
		if math.IsInf(v, 0) {
			return 0, badInput("%s is out of range for double", short(string(n)))
		}
		return v, nil
	case generic.JSONString:
		if _, err := e.r.String(); err != nil {
			return 0, err
		}
		v, err := generic.ParseFloat(e.r.Input()[start:e.r.Offset()], 64)
		if err != nil {
			e.r.Seek(start)
			return 0, e.wantGot("double")
		}
		return v, nil
	}
	return 0, e.wantGot("double")
}

func (e *encoder) base64(s []byte) ([]byte, error) {
	n := base64.RawStdEncoding.DecodedLen(len(s)) + 3 // enough for every accepted alphabet and padding
	if cap(e.bin) < n {
		e.bin = make([]byte, n)
	}
	buf := e.bin[:n]
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if m, err := enc.Decode(buf, s); err == nil {
			return buf[:m], nil
		}
	}
	return nil, badInput("want base64, got %s", shortQuote(s))
}

func (e *encoder) enum(t *ttype) (int32, error) {
	kind := e.r.Peek()
	start := e.r.Offset()
	switch kind {
	case generic.JSONString:
		s, err := e.r.String()
		if err != nil {
			return 0, err
		}
		if v, ok := t.enum.byName[string(s)]; ok {
			return v, nil
		}
		if v, ok := fastInt(s, 32); ok {
			return int32(v), nil
		}
		e.r.Seek(start)
		return 0, badInput("want %s (one of %s, or a number), got %s", t.name, enumNames(t.enum), e.describe())
	case generic.JSONNumber:
		v, err := e.int(t, 32)
		return int32(v), err
	}
	if err := e.checkValue(); err != nil {
		return 0, err
	}
	return 0, badInput("want %s (one of %s, or a number), got %s", t.name, enumNames(t.enum), e.describe())
}

func enumNames(d *enumDesc) string {
	names := make([]string, 0, len(d.values))
	for _, v := range d.values {
		names = append(names, v.Name)
	}
	return strings.Join(names, ", ")
}

// uuid writes a uuid from its text.
func (e *encoder) uuid(s []byte) error {
	u, err := thrift.ParseTuuid(string(s))
	if err != nil {
		return badInput("want a uuid (8-4-4-4-12 hex digits), got %q", generic.Clip(string(s)))
	}
	return e.p.WriteUUID(e.ctx, u)
}

// key writes a map key that arrived as a JSON object key.
func (e *encoder) key(t *ttype, k []byte) error {
	switch t.kind {
	case kString:
		return e.p.WriteBinary(e.ctx, k)
	case kUUID:
		return e.uuid(k)
	case kBinary:
		b, err := e.base64(k)
		if err != nil {
			return err
		}
		return e.p.WriteBinary(e.ctx, b)
	case kBool:
		switch string(k) {
		case "true":
			return e.p.WriteBool(e.ctx, true)
		case "false":
			return e.p.WriteBool(e.ctx, false)
		}
		return badInput("want a bool key (\"true\" or \"false\"), got %s", shortQuote(k))
	case kByte, kI16, kI32, kI64:
		v, ok := fastInt(k, bitsOf(t.kind))
		if !ok {
			return badInput("want a %s key, got %s", t.name, shortQuote(k))
		}
		switch t.kind {
		case kByte:
			return e.p.WriteByte(e.ctx, int8(v))
		case kI16:
			return e.p.WriteI16(e.ctx, int16(v))
		case kI32:
			return e.p.WriteI32(e.ctx, int32(v))
		}
		return e.p.WriteI64(e.ctx, v)
	case kDouble:
		v, err := strconv.ParseFloat(string(k), 64)
		if err != nil {
			return badInput("want a double key, got %s", shortQuote(k))
		}
		return e.p.WriteDouble(e.ctx, v)
	case kEnum:
		if v, ok := t.enum.byName[string(k)]; ok {
			return e.p.WriteI32(e.ctx, v)
		}
		if v, ok := fastInt(k, 32); ok {
			return e.p.WriteI32(e.ctx, int32(v))
		}
		return badInput("want a %s key (one of %s, or a number), got %s", t.name, enumNames(t.enum), shortQuote(k))
	}
	return badInput("maps keyed by %s cannot be written in JSON", t.describe())
}

// checkDefault proves at compile time that an IDL default encodes.
func checkDefault(t *ttype, j []byte) error {
	buf := thrift.NewTMemoryBuffer()
	e := &encoder{p: thrift.NewTBinaryProtocolConf(buf, nil), ctx: context.Background()}
	e.r.Reset(j, maxDepth)
	return e.value(t, 0)
}
