package dubbo

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"

	hessian "github.com/apache/dubbo-go-hessian2"
	big "github.com/dubbogo/gost/math/big"
)

// convError is a value that does not fit its declared Java type.
type convError struct {
	path string // where in the argument: "", ".address.city", "[2]"
	typ  string
	val  string
	why  string
}

func (e *convError) Error() string {
	s := "want " + e.typ + ", got " + e.val
	if e.why != "" {
		s += " (" + e.why + ")"
	}
	return s
}

func shortJSON(raw []byte) string {
	s := string(bytes.TrimSpace(raw))
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

func bad(raw []byte, typ, why string) *convError {
	return &convError{typ: typ, val: shortJSON(raw), why: why}
}

func prefixPath(err error, p string) error {
	if ce, ok := err.(*convError); ok {
		ce.path = p + ce.path
	}
	return err
}

// javaType normalises a Java type name: "[Ljava.lang.String;" becomes
// "java.lang.String[]", "[I" becomes "int[]"; generic parameters
// ("java.util.List<java.lang.Long>") are kept for the element type.
func javaType(t string) string {
	t = strings.TrimSpace(t)
	if strings.HasPrefix(t, "[") {
		dims := 0
		for dims < len(t) && t[dims] == '[' {
			dims++
		}
		rest := t[dims:]
		var base string
		switch rest {
		case "Z":
			base = "boolean"
		case "B":
			base = "byte"
		case "C":
			base = "char"
		case "S":
			base = "short"
		case "I":
			base = "int"
		case "J":
			base = "long"
		case "F":
			base = "float"
		case "D":
			base = "double"
		default:
			if strings.HasPrefix(rest, "L") && strings.HasSuffix(rest, ";") {
				base = rest[1 : len(rest)-1]
			} else {
				return t
			}
		}
		return base + strings.Repeat("[]", dims)
	}
	return t
}

// wireType is the type name sent in $invoke's parameter types: the JVM
// binary name for arrays ("[I", "[Ljava.lang.String;"), the class name
// without generic parameters otherwise.
func wireType(t string) string {
	t = javaType(t)
	if i := strings.IndexByte(t, '<'); i >= 0 {
		t = t[:i]
	}
	if !strings.HasSuffix(t, "[]") {
		return t
	}
	dims := 0
	for strings.HasSuffix(t, "[]") {
		t = t[:len(t)-2]
		dims++
	}
	var code string
	switch t {
	case "boolean":
		code = "Z"
	case "byte":
		code = "B"
	case "char":
		code = "C"
	case "short":
		code = "S"
	case "int":
		code = "I"
	case "long":
		code = "J"
	case "float":
		code = "F"
	case "double":
		code = "D"
	default:
		code = "L" + t + ";"
	}
	return strings.Repeat("[", dims) + code
}

// splitGeneric splits "java.util.Map<java.lang.String, java.lang.Long>"
// into "java.util.Map" and its type arguments.
func splitGeneric(t string) (string, []string) {
	i := strings.IndexByte(t, '<')
	if i < 0 || !strings.HasSuffix(t, ">") {
		return t, nil
	}
	base, inner := t[:i], t[i+1:len(t)-1]
	args := SplitTypeList(inner)
	for j := range args {
		args[j] = strings.TrimSpace(args[j])
	}
	return base, args
}

// SplitTypeList splits a comma-separated list of Java types at the commas
// outside a generic's <...> ("Map<String,Long>, int" is two types). The
// parts are not trimmed; an empty list is one empty part.
func SplitTypeList(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i, c := range s {
		switch c {
		case '<':
			depth++
		case '>':
			depth--
		case ',':
			if depth == 0 {
				parts = append(parts, s[start:i])
				start = i + 1
			}
		}
	}
	return append(parts, s[start:])
}

func isNull(raw []byte) bool {
	return bytes.Equal(bytes.TrimSpace(raw), []byte("null"))
}

// toHessian converts one JSON value to the plain Go value hessian2 encodes
// as Java type t. It never returns json.Number or another named type that
// hessian2 would encode as nothing.
func toHessian(raw json.RawMessage, t string) (any, error) {
	t = javaType(t)
	if isNull(raw) || len(bytes.TrimSpace(raw)) == 0 {
		switch t {
		case "boolean", "byte", "char", "short", "int", "long", "float", "double":
			return nil, bad(raw, t, "a primitive cannot be null")
		}
		return nil, nil
	}
	if strings.HasSuffix(t, "[]") {
		return toArray(raw, strings.TrimSuffix(t, "[]"))
	}
	base, targs := splitGeneric(t)
	switch base {
	case "long", "java.lang.Long":
		v, err := generic.ParseInt(raw, 64)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return v, nil
	case "int", "java.lang.Integer":
		v, err := generic.ParseInt(raw, 32)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return int32(v), nil
	case "short", "java.lang.Short":
		v, err := generic.ParseInt(raw, 16)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return int16(v), nil
	case "byte", "java.lang.Byte":
		v, err := generic.ParseInt(raw, 8)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return int8(v), nil
	case "float", "java.lang.Float":
		v, err := generic.ParseFloat(raw, 32)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return float32(v), nil
	case "double", "java.lang.Double":
		v, err := generic.ParseFloat(raw, 64)
		if err != nil {
			return nil, bad(raw, t, "")
		}
		return v, nil
	case "boolean", "java.lang.Boolean":
		switch string(bytes.TrimSpace(raw)) {
		case "true", `"true"`:
			return true, nil
		case "false", `"false"`:
			return false, nil
		}
		return nil, bad(raw, t, "")
	case "char", "java.lang.Character":
		var s string
		if json.Unmarshal(raw, &s) != nil || len([]rune(s)) != 1 {
			return nil, bad(raw, t, "want a one-character string")
		}
		return s, nil
	case "java.lang.String", "java.lang.CharSequence":
		var s string
		if json.Unmarshal(raw, &s) != nil {
			return nil, bad(raw, t, "")
		}
		return s, nil
	case "java.math.BigDecimal":
		s, ok := numberText(raw)
		if !ok {
			return nil, bad(raw, t, "want a decimal number or string")
		}
		d := new(big.Decimal)
		if err := d.FromString(s); err != nil {
			return nil, bad(raw, t, "want a decimal number or string")
		}
		return d, nil
	case "java.math.BigInteger":
		s, ok := numberText(raw)
		if !ok {
			return nil, bad(raw, t, "want an integer number or string")
		}
		i := new(big.Integer)
		if err := i.FromString(s); err != nil {
			return nil, bad(raw, t, "want an integer number or string")
		}
		return i, nil
	case "java.util.Date", "java.sql.Timestamp", "java.sql.Date":
		return toDate(raw, t)
	case "java.util.List", "java.util.ArrayList", "java.util.LinkedList", "java.util.Collection",
		"java.util.Set", "java.util.HashSet", "java.util.LinkedHashSet", "java.util.TreeSet",
		"java.lang.Iterable":
		elem := "java.lang.Object"
		if len(targs) == 1 {
			elem = targs[0]
		}
		var items []json.RawMessage
		if json.Unmarshal(raw, &items) != nil {
			return nil, bad(raw, t, "want a JSON array")
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := toHessian(it, elem)
			if err != nil {
				return nil, prefixPath(err, "["+strconv.Itoa(i)+"]")
			}
			out[i] = v
		}
		return out, nil
	case "java.util.Map", "java.util.HashMap", "java.util.LinkedHashMap", "java.util.TreeMap",
		"java.util.concurrent.ConcurrentHashMap":
		key, val := "java.lang.String", "java.lang.Object"
		if len(targs) == 2 {
			key, val = targs[0], targs[1]
		}
		return toMap(raw, t, key, val)
	case "java.lang.Object", "java.io.Serializable":
		return toObject(raw)
	case "byte[]":
		return nil, nil // unreachable: arrays are handled above
	}
	return toPOJO(raw, t)
}

// numberText returns the text of a JSON number or of a string.
func numberText(raw []byte) (string, bool) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		if json.Unmarshal([]byte(s), &str) != nil {
			return "", false
		}
		return strings.TrimSpace(str), str != ""
	}
	if s == "" || s == "true" || s == "false" || s[0] == '{' || s[0] == '[' {
		return "", false
	}
	return s, true
}

func toDate(raw []byte, t string) (any, error) {
	s := strings.TrimSpace(string(raw))
	if strings.HasPrefix(s, `"`) {
		var str string
		if json.Unmarshal([]byte(s), &str) != nil {
			return nil, bad(raw, t, "")
		}
		for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05", "2006-01-02"} {
			if tm, err := time.Parse(layout, str); err == nil {
				return tm, nil
			}
		}
		if ms, err := strconv.ParseInt(str, 10, 64); err == nil {
			return time.UnixMilli(ms), nil
		}
		return nil, bad(raw, t, "want RFC 3339 or epoch milliseconds")
	}
	ms, err := generic.ParseInt(raw, 64)
	if err != nil {
		return nil, bad(raw, t, "want RFC 3339 or epoch milliseconds")
	}
	return time.UnixMilli(ms), nil
}

func toArray(raw []byte, elem string) (any, error) {
	full := elem + "[]"
	if elem == "byte" {
		// byte[]: base64 text, or an array of numbers.
		var s string
		if json.Unmarshal(raw, &s) == nil {
			b, err := base64.StdEncoding.DecodeString(s)
			if err != nil {
				if b, err = base64.URLEncoding.DecodeString(s); err != nil {
					return nil, bad(raw, full, "want base64")
				}
			}
			return b, nil
		}
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, bad(raw, full, "want a JSON array")
	}
	conv := func(i int) (any, error) {
		v, err := toHessian(items[i], elem)
		if err != nil {
			return nil, prefixPath(err, "["+strconv.Itoa(i)+"]")
		}
		return v, nil
	}
	// Primitive and boxed arrays travel as typed hessian lists.
	switch elem {
	case "int", "java.lang.Integer":
		return typedArray(items, elem, conv, as[int32], false)
	case "long", "java.lang.Long":
		return typedArray(items, elem, conv, as[int64], false)
	case "short", "java.lang.Short":
		return typedArray(items, elem, conv, as[int16], false)
	case "byte":
		return typedArray(items, elem, conv, func(v any) byte { return byte(v.(int8)) }, false)
	case "double", "java.lang.Double":
		return typedArray(items, elem, conv, as[float64], false)
	case "float", "java.lang.Float":
		return typedArray(items, elem, conv, as[float32], false)
	case "boolean", "java.lang.Boolean":
		return typedArray(items, elem, conv, as[bool], false)
	case "java.lang.String":
		return typedArray(items, elem, conv, func(v any) string { s, _ := v.(string); return s }, true)
	}
	out := make([]any, len(items))
	for i := range items {
		v, err := conv(i)
		if err != nil {
			return nil, err
		}
		out[i] = v
	}
	return out, nil
}

// typedArray converts each item with conv into a []T (a typed hessian
// list). A null item is an error unless nullable (it is then T's zero).
func typedArray[T any](items []json.RawMessage, elem string, conv func(int) (any, error), cast func(any) T, nullable bool) (any, error) {
	out := make([]T, len(items))
	for i := range items {
		v, err := conv(i)
		if err != nil {
			return nil, err
		}
		if v == nil {
			if !nullable {
				return nil, &convError{path: "[" + strconv.Itoa(i) + "]", typ: elem, val: "null"}
			}
			continue
		}
		out[i] = cast(v)
	}
	return out, nil
}

// as asserts v's type; conv returns exactly the Go type of the element.
func as[T any](v any) T { return v.(T) }

func toMap(raw []byte, t, keyType, valType string) (any, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, bad(raw, t, "want a JSON object")
	}
	kt := javaType(keyType)
	if kt == "java.lang.String" || kt == "java.lang.Object" || kt == "" {
		out := make(map[string]any, len(obj))
		for k, v := range obj {
			cv, err := toHessian(v, valType)
			if err != nil {
				return nil, prefixPath(err, "."+k)
			}
			out[k] = cv
		}
		if _, ok := out[hessian.ClassKey]; ok {
			// hessian2 would write a map with "_class" as an object.
			return toAnyMap(out), nil
		}
		return out, nil
	}
	// Non-string keys arrive as JSON strings: parse them by key type.
	out := make(map[any]any, len(obj))
	for k, v := range obj {
		kb, _ := json.Marshal(k)
		ck, err := toHessian(kb, kt)
		if err != nil {
			return nil, prefixPath(err, "."+k+" (key)")
		}
		cv, err := toHessian(v, valType)
		if err != nil {
			return nil, prefixPath(err, "."+k)
		}
		out[ck] = cv
	}
	return out, nil
}

func toAnyMap(m map[string]any) map[any]any {
	out := make(map[any]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// toPOJO converts an object to a map carrying its Java class under
// "class" (the generic-call convention: the provider realises it), and a
// string to an enum constant (hessian's enum form: the class with one
// field "name").
func toPOJO(raw []byte, t string) (any, error) {
	base, _ := splitGeneric(t)
	s := bytes.TrimSpace(raw)
	if len(s) > 0 && s[0] == '"' {
		var name string
		if json.Unmarshal(s, &name) != nil {
			return nil, bad(raw, t, "")
		}
		return map[string]any{hessian.ClassKey: base, "name": name}, nil
	}
	if len(s) == 0 || s[0] != '{' {
		return nil, bad(raw, t, "want a JSON object (or an enum name)")
	}
	m, err := toObjectMap(raw)
	if err != nil {
		return nil, err
	}
	if _, ok := m["class"]; !ok {
		m["class"] = base
	}
	return m, nil
}

// toObjectMap converts a JSON object with untyped values. Nested objects
// that name a "class" stay POJO maps for the provider to realise.
func toObjectMap(raw []byte) (map[string]any, error) {
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) != nil || obj == nil {
		return nil, bad(raw, "object", "want a JSON object")
	}
	out := make(map[string]any, len(obj))
	for k, v := range obj {
		cv, err := toObject(v)
		if err != nil {
			return nil, prefixPath(err, "."+k)
		}
		out[k] = cv
	}
	if _, ok := out[hessian.ClassKey]; ok {
		delete(out, hessian.ClassKey)
	}
	return out, nil
}

// toObject converts JSON without a declared type: integers that fit an
// int32 become int (java.lang.Integer), larger ones long, other numbers
// double; strings, booleans, arrays and objects map directly.
func toObject(raw []byte) (any, error) {
	s := bytes.TrimSpace(raw)
	if len(s) == 0 {
		return nil, nil
	}
	switch s[0] {
	case 'n':
		return nil, nil
	case 't', 'f':
		return s[0] == 't', nil
	case '"':
		var str string
		if json.Unmarshal(s, &str) != nil {
			return nil, bad(raw, "java.lang.Object", "")
		}
		return str, nil
	case '[':
		var items []json.RawMessage
		if json.Unmarshal(s, &items) != nil {
			return nil, bad(raw, "java.lang.Object", "")
		}
		out := make([]any, len(items))
		for i, it := range items {
			v, err := toObject(it)
			if err != nil {
				return nil, prefixPath(err, "["+strconv.Itoa(i)+"]")
			}
			out[i] = v
		}
		return out, nil
	case '{':
		return toObjectMap(s)
	}
	if !bytes.ContainsAny(s, ".eE") {
		if v, err := strconv.ParseInt(string(s), 10, 64); err == nil {
			if v >= -1<<31 && v < 1<<31 {
				return int32(v), nil
			}
			return v, nil
		}
	}
	f, err := strconv.ParseFloat(string(s), 64)
	if err != nil {
		return nil, bad(raw, "java.lang.Object", "")
	}
	return f, nil
}

// argError turns a conversion error into INVALID_ARGUMENT naming the
// argument, its type and the value.
func argError(name, typ string, err error) *generic.Error {
	if ce, ok := err.(*convError); ok {
		where := name + ce.path
		if ce.path == "" {
			return generic.Errorf(generic.CodeInvalidArgument, "argument %q: %s", where, ce.Error())
		}
		return generic.Errorf(generic.CodeInvalidArgument, "argument %q (%s): %s", where, typ, ce.Error())
	}
	return generic.Errorf(generic.CodeInvalidArgument, "argument %q (%s): %s", name, typ, fmt.Sprint(err))
}
