package tars

import (
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

type encoder struct {
	b *codec.Buffer
	// lenient: missing require fields get zero values (used when writing
	// defaults and zero structs), instead of an error.
	lenient bool
}

// fields writes the JSON object obj as the fields of s, in tag order,
// without struct begin/end markers. An empty obj means {}.
func (e *encoder) fields(s *structDesc, obj []byte, top bool, depth int) error {
	if depth > maxDepth {
		return convErr("value nested too deeply")
	}
	var small [24][2]int32
	var spans [][2]int32
	if len(s.fields) <= len(small) {
		spans = small[:len(s.fields)]
	} else {
		spans = make([][2]int32, len(s.fields))
	}
	i := skipSpace(obj, 0)
	if i < len(obj) && !(len(obj)-i == 4 && string(obj[i:]) == "null") {
		if obj[i] != '{' {
			if top {
				return generic.Errorf(generic.CodeInvalidArgument, "request body must be a JSON object keyed by argument name, got %s", got(obj[i:]))
			}
			return convErr("want a JSON object for %s, got %s", s.name, got(obj[i:]))
		}
		i = skipSpace(obj, i+1)
		if i < len(obj) && obj[i] == '}' {
			i++
		} else {
			for {
				if i >= len(obj) || obj[i] != '"' {
					return e.syntax(top)
				}
				ke, err := skipString(obj, i)
				if err != nil {
					return e.syntax(top)
				}
				key, err := stringContent(obj[i:ke])
				if err != nil {
					return e.syntax(top)
				}
				f := s.byName[string(key)]
				if f == nil {
					if top {
						return generic.Errorf(generic.CodeInvalidArgument, "unknown argument %q (want one of %s)", key, fieldNames(s))
					}
					return convErr("unknown field %q in %s", key, s.name)
				}
				i = skipSpace(obj, ke)
				if i >= len(obj) || obj[i] != ':' {
					return e.syntax(top)
				}
				i = skipSpace(obj, i+1)
				ve, err := skipValue(obj, i, depth)
				if err != nil {
					return e.syntax(top)
				}
				spans[fieldIndex(s, f)] = [2]int32{int32(i), int32(ve)}
				i = skipSpace(obj, ve)
				if i >= len(obj) {
					return e.syntax(top)
				}
				if obj[i] == '}' {
					i++
					break
				}
				if obj[i] != ',' {
					return e.syntax(top)
				}
				i = skipSpace(obj, i+1)
			}
		}
		if skipSpace(obj, i) != len(obj) && top {
			return e.syntax(top)
		}
	}
	for k, f := range s.fields {
		sp := spans[k]
		v := obj[sp[0]:sp[1]]
		if sp[1] == 0 || isNull(v) {
			switch {
			case f.def != nil:
				saved := e.lenient
				e.lenient = true
				err := e.value(f.t, f.def, f.tag, depth+1)
				e.lenient = saved
				if err != nil {
					return at(err, "."+f.name)
				}
				continue
			case f.require && !e.lenient && !top:
				return at(convErr("required field of %s is missing", s.name), "."+f.name)
			}
			if err := e.zero(f.t, f.tag, depth+1); err != nil {
				return err
			}
			continue
		}
		if err := e.value(f.t, v, f.tag, depth+1); err != nil {
			return at(err, "."+f.name)
		}
	}
	return nil
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

func (e *encoder) syntax(top bool) error {
	if top {
		return generic.Errorf(generic.CodeInvalidArgument, "request body is not valid JSON")
	}
	return convErr("malformed JSON")
}

// value writes the JSON value v (no surrounding space) as type t at tag.
func (e *encoder) value(t *typ, v []byte, tag byte, depth int) error {
	if depth > maxDepth {
		return convErr("value nested too deeply")
	}
	if isNull(v) {
		return e.zero(t, tag, depth)
	}
	b := e.b
	switch t.kind {
	case kBool:
		switch string(v) {
		case "true":
			return b.WriteInt8(1, tag)
		case "false":
			return b.WriteInt8(0, tag)
		}
		return convErr("want a boolean, got %s", got(v))
	case kByte, kShort, kInt, kLong:
		n, err := parseInt(v, bitsOf(t.kind))
		if err != nil {
			return convErr("%s", intMessage(err, t))
		}
		return b.WriteInt64(n, tag)
	case kUByte, kUShort, kUInt:
		n, err := parseUint(v, bitsOf(t.kind))
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
		var f float64
		var err error
		if v[0] == '"' {
			f, err = generic.ParseFloat(v, bits)
		} else {
			f, err = strconv.ParseFloat(string(v), bits)
		}
		if err != nil {
			return convErr("want a number (%s), got %s", t.name, got(v))
		}
		if t.kind == kFloat {
			return b.WriteFloat32(float32(f), tag)
		}
		return b.WriteFloat64(f, tag)
	case kString:
		if v[0] != '"' {
			return convErr("want a string, got %s", got(v))
		}
		s, err := stringContent(v)
		if err != nil {
			return convErr("malformed JSON string")
		}
		return writeString(b, s, tag)
	case kBytes:
		if v[0] != '"' {
			return convErr("want a base64 string, got %s", got(v))
		}
		s, err := stringContent(v)
		if err != nil {
			return convErr("malformed JSON string")
		}
		raw, err := decodeBase64(s)
		if err != nil {
			return convErr("want base64, got %s", got(v))
		}
		_ = b.WriteHead(codec.SimpleList, tag)
		_ = b.WriteHead(codec.BYTE, 0)
		_ = b.WriteInt32(int32(len(raw)), 0)
		return b.WriteBytes(raw)
	case kEnum:
		n, err := enumValue(t.en, v)
		if err != nil {
			return convErr("%s", err.Error())
		}
		return b.WriteInt32(n, tag)
	case kStruct:
		if v[0] != '{' {
			return convErr("want a JSON object for %s, got %s", t.st.name, got(v))
		}
		_ = b.WriteHead(codec.StructBegin, tag)
		if err := e.fields(t.st, v, false, depth+1); err != nil {
			return err
		}
		return b.WriteHead(codec.StructEnd, 0)
	case kVector:
		return e.vector(t, v, tag, depth)
	case kMap:
		return e.mapValue(t, v, tag, depth)
	}
	return convErr("unsupported type %s", t.name)
}

func (e *encoder) vector(t *typ, v []byte, tag byte, depth int) error {
	if v[0] != '[' {
		return convErr("want a JSON array (%s), got %s", t.name, got(v))
	}
	// First pass counts the elements; the count precedes them on the wire.
	n := 0
	for i := skipSpace(v, 1); i < len(v) && v[i] != ']'; {
		end, err := skipValue(v, i, depth)
		if err != nil {
			return convErr("malformed JSON array")
		}
		n++
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	_ = e.b.WriteHead(codec.LIST, tag)
	_ = e.b.WriteInt32(int32(n), 0)
	idx := 0
	for i := skipSpace(v, 1); i < len(v) && v[i] != ']'; idx++ {
		end, _ := skipValue(v, i, depth)
		if err := e.value(t.elem, v[i:end], 0, depth+1); err != nil {
			return at(err, "["+strconv.Itoa(idx)+"]")
		}
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil
}

func (e *encoder) mapValue(t *typ, v []byte, tag byte, depth int) error {
	if v[0] != '{' {
		return convErr("want a JSON object (%s), got %s", t.name, got(v))
	}
	type entry struct{ k, v [2]int }
	n := 0
	for i := skipSpace(v, 1); i < len(v) && v[i] != '}'; {
		ke, err := skipString(v, i)
		if err != nil || v[i] != '"' {
			return convErr("malformed JSON object")
		}
		i = skipSpace(v, ke)
		if i >= len(v) || v[i] != ':' {
			return convErr("malformed JSON object")
		}
		end, err := skipValue(v, skipSpace(v, i+1), depth)
		if err != nil {
			return convErr("malformed JSON object")
		}
		n++
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	_ = e.b.WriteHead(codec.MAP, tag)
	_ = e.b.WriteInt32(int32(n), 0)
	for i := skipSpace(v, 1); i < len(v) && v[i] != '}'; {
		ke, _ := skipString(v, i)
		keyTok := v[i:ke]
		i = skipSpace(v, skipSpace(v, ke)+1)
		end, _ := skipValue(v, i, depth)
		kc, err := stringContent(keyTok)
		if err != nil {
			return convErr("malformed JSON object key")
		}
		if err := e.key(t.key, keyTok, kc, depth+1); err != nil {
			return at(err, "["+strconv.Quote(string(kc))+"]")
		}
		if err := e.value(t.elem, v[i:end], 1, depth+1); err != nil {
			return at(err, "["+strconv.Quote(string(kc))+"]")
		}
		i = skipSpace(v, end)
		if i < len(v) && v[i] == ',' {
			i = skipSpace(v, i+1)
		}
	}
	return nil
}

// key writes a map key, given as a JSON object key: the key string itself
// for strings, its text for numbers, booleans and enums, and JSON text for
// structs, vectors and maps.
func (e *encoder) key(t *typ, tok, content []byte, depth int) error {
	switch t.kind {
	case kString:
		return writeString(e.b, content, 0)
	case kBool:
		return e.value(t, content, 0, depth)
	case kByte, kShort, kInt, kLong, kUByte, kUShort, kUInt, kFloat, kDouble, kEnum, kBytes:
		return e.value(t, tok, 0, depth)
	}
	trimmed := content[skipSpace(content, 0):]
	end, err := skipValue(trimmed, 0, depth)
	if err != nil || skipSpace(trimmed, end) != len(trimmed) {
		return convErr("map key must hold JSON for %s, got %s", t.name, got(content))
	}
	return e.value(t, trimmed[:end], 0, depth)
}

// zero writes the zero value of t (the IDL defaults inside structs).
func (e *encoder) zero(t *typ, tag byte, depth int) error {
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
		err := e.fields(t.st, nil, false, depth+1)
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

func enumValue(en *enumDesc, v []byte) (int32, error) {
	if v[0] == '"' {
		s, err := stringContent(v)
		if err != nil {
			return 0, err
		}
		if n, ok := en.byName[string(s)]; ok {
			return n, nil
		}
		if n, err := strconv.ParseInt(string(s), 10, 32); err == nil {
			return int32(n), nil
		}
		names := make([]string, len(en.values))
		for i, ev := range en.values {
			names[i] = ev.Name
		}
		return 0, fmt.Errorf("%q is not a value of enum %s (want one of %s)", s, en.name, strings.Join(names, ", "))
	}
	n, err := parseInt(v, 32)
	if err != nil {
		return 0, fmt.Errorf("want a name or number of enum %s, got %s", en.name, got(v))
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
