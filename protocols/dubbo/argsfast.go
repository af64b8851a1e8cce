package dubbo

import (
	"bytes"
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// argKind says how writeFast writes an argument of a Java type.
type argKind uint8

const (
	// argGeneric: toHessian, then hessianWriter.value.
	argGeneric argKind = iota
	argLong
	argInt
	argShort
	argByte
	argDouble
	argFloat
	argBool
	argString
	// argPOJO: an object streamed as toPOJO converts it (an enum name as
	// toPOJO converts it too).
	argPOJO
	// argObject: any JSON streamed as toObject converts it.
	argObject
)

// argKindOf classifies Java type t as toHessian converts it; for a POJO
// it also returns the class. Every type toHessian's switch names is one
// of the other kinds (a test reads that switch to check it).
func argKindOf(t string) (argKind, string) {
	t = javaType(t)
	if strings.HasSuffix(t, "[]") {
		return argGeneric, ""
	}
	base, _ := splitGeneric(t)
	switch base {
	case "long", "java.lang.Long":
		return argLong, ""
	case "int", "java.lang.Integer":
		return argInt, ""
	case "short", "java.lang.Short":
		return argShort, ""
	case "byte", "java.lang.Byte":
		return argByte, ""
	case "double", "java.lang.Double":
		return argDouble, ""
	case "float", "java.lang.Float":
		return argFloat, ""
	case "boolean", "java.lang.Boolean":
		return argBool, ""
	case "java.lang.String", "java.lang.CharSequence":
		return argString, ""
	case "java.lang.Object", "java.io.Serializable":
		return argObject, ""
	case "char", "java.lang.Character",
		"java.math.BigDecimal", "java.math.BigInteger",
		"java.util.Date", "java.sql.Timestamp", "java.sql.Date",
		"java.util.List", "java.util.ArrayList", "java.util.LinkedList", "java.util.Collection",
		"java.util.Set", "java.util.HashSet", "java.util.LinkedHashSet", "java.util.TreeSet",
		"java.lang.Iterable",
		"java.util.Map", "java.util.HashMap", "java.util.LinkedHashMap", "java.util.TreeMap",
		"java.util.concurrent.ConcurrentHashMap",
		"byte[]":
		return argGeneric, ""
	}
	return argPOJO, base
}

// argField is a top-level key of a request body and its value's span.
type argField struct {
	key        []byte
	start, end int
}

var nullJSON = []byte("null")

// writeFast writes the whole request for call (with request id 0) from
// its JSON body without converting the arguments into Go values first:
// a method with one signature whose arguments all convert. It reports
// false when it cannot; the caller then takes the general path (prepare,
// writeRequest), which writes the same request (map entries aside, whose
// order hessian maps do not keep) or returns the call's error. It never
// writes a request that the general path would refuse.
func (p *Protocol) writeFast(ctx context.Context, w *hessianWriter, s *callScratch, iface string, call *generic.Call) (time.Duration, bool) {
	if call.Method == "" {
		return 0, false
	}
	sigs := p.methods[call.Method]
	if len(sigs) == 0 && p.o.TypesFor != nil {
		ms := p.o.TypesFor(call.Method)
		if len(ms) != 1 {
			return 0, false
		}
		sig, err := newSignature(ms[0])
		if err != nil {
			return 0, false
		}
		sigs = []signature{sig}
	}
	if len(sigs) != 1 {
		return 0, false
	}
	sig := sigs[0]
	timeout := p.o.RequestTimeout
	if d, ok := ctx.Deadline(); ok {
		if timeout = time.Until(d); timeout <= 0 {
			return 0, false
		}
	}
	body := call.Body
	if len(call.Params) > 0 {
		b, err := generic.BindParams(body, call.Params, sig.input)
		if err != nil {
			return 0, false
		}
		body = b
	}
	body = bytes.TrimSpace(body)
	r := &s.json
	s.bigJSON = s.bigJSON || len(body) > scratchLimit
	if len(body) > 0 {
		// Valid JSON by the gateway's rules, which json.Unmarshal accepts
		// alike (and reads alike: no duplicate keys, no bad UTF-8).
		r.Reset(body, 0)
		if r.Skip() != nil || r.End() != nil {
			return 0, false
		}
	}
	isObj := len(body) > 0 && body[0] == '{'
	fields := s.fields[:0]
	if isObj {
		var c generic.JSONContainer
		r.Reset(body, 0)
		if r.BeginObject(&c) != nil {
			return 0, false
		}
		for {
			more, err := r.More(&c)
			if err != nil {
				return 0, false
			}
			if !more {
				break
			}
			off := r.Offset()
			key, err := r.Key(&c)
			if err != nil || bytes.IndexByte(body[off:r.Offset()], '\\') >= 0 {
				return 0, false // a key with escapes is left to the general path
			}
			start, end, err := r.Span()
			if err != nil {
				return 0, false
			}
			fields = append(fields, argField{key: key, start: start, end: end})
		}
	}
	s.fields = fields
	// As signature.convert binds the body to the parameters.
	params := sig.params
	if !isObj && len(body) > 0 && !isNull(body) && len(params) != 1 {
		return 0, false
	}
	if len(params) == 0 && len(fields) > 0 {
		return 0, false
	}
	whole := false
	if len(params) == 1 {
		if !isObj {
			whole = len(body) > 0
		} else if findArg(body, fields, params[0].Name, -1) == nil && findArg(body, fields, "", 0) == nil && len(fields) > 0 {
			whole = true
		}
	}
	if isObj && !whole {
		for _, f := range fields {
			known := false
			for i, prm := range params {
				if string(f.key) == prm.Name || isArgN(f.key, i) {
					known = true
					break
				}
			}
			if !known {
				return 0, false
			}
		}
	}
	p.writeRequestHead(w, 0, iface, call.Method, sig.types, sig.head)
	w.listStart("[object", len(params))
	for i, prm := range params {
		var raw []byte
		switch {
		case whole:
			raw = body
		default:
			if raw = findArg(body, fields, prm.Name, -1); raw == nil {
				raw = findArg(body, fields, "", i)
			}
		}
		if raw == nil {
			raw = nullJSON
		}
		if !writeArg(w, r, raw, prm.Type, sig.kinds[i], sig.classes[i]) {
			return 0, false
		}
	}
	if p.writeRequestTail(w, iface, call, timeout) != nil {
		return 0, false
	}
	return timeout, true
}

// findArg returns the value of the field named name, or (name empty) of
// the field "arg<n>"; nil when there is none.
func findArg(body []byte, fields []argField, name string, n int) []byte {
	for _, f := range fields {
		if name != "" && string(f.key) == name || name == "" && isArgN(f.key, n) {
			return body[f.start:f.end]
		}
	}
	return nil
}

// isArgN reports whether key is "arg<n>".
func isArgN(key []byte, n int) bool {
	if n < 0 || len(key) < 4 || string(key[:3]) != "arg" {
		return false
	}
	var buf [24]byte
	return string(strconv.AppendInt(buf[:0], int64(n), 10)) == string(key[3:])
}

// writeArg writes one argument, raw JSON of Java type t; false when it
// does not convert or write (the general path then reports why).
func writeArg(w *hessianWriter, r *generic.JSONReader, raw []byte, t string, kind argKind, class string) bool {
	switch kind {
	case argLong, argInt, argShort, argByte:
		if isPlainInteger(raw) {
			bits := 8
			switch kind {
			case argLong:
				bits = 64
			case argInt:
				bits = 32
			case argShort:
				bits = 16
			}
			v, err := strconv.ParseInt(string(raw), 10, bits)
			if err != nil {
				return false
			}
			if kind == argLong {
				w.long(v)
			} else {
				w.int(int32(v))
			}
			return true
		}
	case argDouble, argFloat:
		if isNumber(raw) {
			bits := 64
			if kind == argFloat {
				bits = 32
			}
			v, err := strconv.ParseFloat(string(raw), bits)
			if err != nil {
				return false
			}
			if kind == argFloat {
				w.float(float32(v))
			} else {
				w.double(v)
			}
			return true
		}
	case argBool:
		switch string(raw) {
		case "true":
			w.bool(true)
			return true
		case "false":
			w.bool(false)
			return true
		}
	case argString:
		if raw[0] == '"' {
			r.Reset(raw, 0)
			str, err := r.String()
			if err != nil {
				return false
			}
			w.stringBytes(str)
			return true
		}
	case argPOJO:
		switch raw[0] {
		case '{':
			r.Reset(raw, 0)
			return writeUntyped(w, r, 0, class)
		case '"':
			// An enum constant: toPOJO's {_class: class, name: name}.
			r.Reset(raw, 0)
			str, err := r.String()
			if err != nil {
				return false
			}
			w.object(class, enumFields)
			w.stringBytes(str)
			return true
		}
		if !isNull(raw) {
			return false
		}
	case argObject:
		r.Reset(raw, 0)
		return writeUntyped(w, r, 0, "")
	}
	v, err := toHessian(raw, t)
	if err != nil {
		return false
	}
	return w.value(v, 0) == nil
}

// isPlainInteger reports whether raw is a JSON number without fraction
// or exponent (which generic.ParseInt reads as strconv.ParseInt does).
func isPlainInteger(raw []byte) bool {
	return isNumber(raw) && bytes.IndexAny(raw, ".eE") < 0
}

// isNumber reports whether raw starts as a JSON number does (the body
// was checked as JSON).
func isNumber(raw []byte) bool {
	return len(raw) > 0 && (raw[0] == '-' || raw[0] >= '0' && raw[0] <= '9')
}

// writeUntyped writes the JSON value at r's cursor as toObject converts
// it and hessianWriter.value writes the result: objects as untyped maps
// (without a "_class" key), arrays as untyped lists, integers that fit an
// int as ints, other integers as longs, other numbers as doubles. With a
// class, the object is toPOJO's: it gets a "class" key when it has none.
func writeUntyped(w *hessianWriter, r *generic.JSONReader, depth int, class string) bool {
	if depth > maxHessianDepth {
		return false
	}
	switch r.Peek() {
	case generic.JSONNull:
		w.null()
		return r.Null() == nil
	case generic.JSONTrue, generic.JSONFalse:
		b, err := r.Bool()
		w.bool(b)
		return err == nil
	case generic.JSONString:
		s, err := r.String()
		if err != nil {
			return false
		}
		w.stringBytes(s)
		return true
	case generic.JSONNumber:
		num, err := r.Number()
		if err != nil {
			return false
		}
		if bytes.IndexAny(num, ".eE") < 0 {
			if v, err := strconv.ParseInt(string(num), 10, 64); err == nil {
				if v >= -1<<31 && v < 1<<31 {
					w.int(int32(v))
				} else {
					w.long(v)
				}
				return true
			}
		}
		f, err := strconv.ParseFloat(string(num), 64)
		if err != nil {
			return false
		}
		w.double(f)
		return true
	case generic.JSONArray:
		n, err := r.Count()
		if err != nil {
			return false
		}
		w.listStart("", n)
		var c generic.JSONContainer
		if r.BeginArray(&c) != nil {
			return false
		}
		for i := 0; ; i++ {
			more, err := r.More(&c)
			if err != nil {
				return false
			}
			if !more {
				return i == n
			}
			if !writeUntyped(w, r, depth+1, "") {
				return false
			}
		}
	case generic.JSONObject:
		var c generic.JSONContainer
		if r.BeginObject(&c) != nil {
			return false
		}
		w.b = append(w.b, 'H')
		hasClass := false
		for {
			more, err := r.More(&c)
			if err != nil {
				return false
			}
			if !more {
				break
			}
			key, err := r.Key(&c)
			if err != nil {
				return false
			}
			if string(key) == "_class" {
				// toObjectMap drops it, once converted.
				mark := len(w.b)
				if !writeUntyped(w, r, depth+1, "") {
					return false
				}
				w.b = w.b[:mark]
				continue
			}
			if string(key) == "class" {
				hasClass = true
			}
			w.stringBytes(key)
			if !writeUntyped(w, r, depth+1, "") {
				return false
			}
		}
		if class != "" && !hasClass {
			w.string("class")
			w.string(class)
		}
		w.b = append(w.b, 'Z')
		return true
	}
	return false
}
