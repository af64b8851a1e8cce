package generic

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxSafeInteger is the largest integer a JavaScript number holds exactly
// (2^53 - 1). Integers beyond ±MaxSafeInteger are written as JSON strings.
const MaxSafeInteger = 1<<53 - 1

// AppendInt appends v as JSON: a number when JavaScript holds it exactly,
// a quoted decimal string otherwise.
func AppendInt(dst []byte, v int64) []byte {
	if v > MaxSafeInteger || v < -MaxSafeInteger {
		dst = append(dst, '"')
		dst = strconv.AppendInt(dst, v, 10)
		return append(dst, '"')
	}
	return strconv.AppendInt(dst, v, 10)
}

// AppendUint appends v as JSON, quoted beyond MaxSafeInteger.
func AppendUint(dst []byte, v uint64) []byte {
	if v > MaxSafeInteger {
		dst = append(dst, '"')
		dst = strconv.AppendUint(dst, v, 10)
		return append(dst, '"')
	}
	return strconv.AppendUint(dst, v, 10)
}

// ParseInt parses a JSON integer token (a number, or a string holding one)
// into a signed integer of the given bit size. Fractions, exponents that do
// not give a whole number, and values out of range are errors that say so.
func ParseInt(raw []byte, bits int) (int64, error) {
	s, err := intText(raw)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseInt(s, 10, bits)
	if err != nil {
		return 0, rangeError(s, "int"+strconv.Itoa(bits), err)
	}
	return v, nil
}

// ParseUint is ParseInt for unsigned integers.
func ParseUint(raw []byte, bits int) (uint64, error) {
	s, err := intText(raw)
	if err != nil {
		return 0, err
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, rangeError(s, "uint"+strconv.Itoa(bits), err)
	}
	return v, nil
}

// ParseFloat parses a JSON number, or a string holding one ("NaN",
// "Infinity" and "-Infinity" included), as a float of the given bit size.
func ParseFloat(raw []byte, bits int) (float64, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal([]byte(s), &str); err != nil {
			return 0, errText("want a number, got %s", quoteShort(s))
		}
		switch str {
		case "NaN", "Infinity", "-Infinity":
			v, _ := strconv.ParseFloat(strings.Replace(str, "inity", "", 1), bits)
			return v, nil
		}
		s = str
	}
	v, err := strconv.ParseFloat(s, bits)
	if err != nil {
		return 0, errText("want a number, got %s", quoteShort(string(raw)))
	}
	return v, nil
}

func intText(raw []byte) (string, error) {
	s := strings.TrimSpace(string(raw))
	if len(s) >= 2 && s[0] == '"' {
		var str string
		if err := json.Unmarshal([]byte(s), &str); err != nil {
			return "", errText("want an integer, got %s", quoteShort(s))
		}
		s = strings.TrimSpace(str)
	}
	if s == "" {
		return "", errText("want an integer, got %s", quoteShort(string(raw)))
	}
	if strings.ContainsAny(s, ".eE") {
		// 1e3 and 5.0 are whole numbers in JSON; accept them exactly.
		if i, ok := wholeNumber(s); ok {
			return i, nil
		}
		return "", errText("want an integer, got %s", quoteShort(string(raw)))
	}
	for i, c := range s {
		if (c < '0' || c > '9') && !(i == 0 && (c == '-' || c == '+')) {
			return "", errText("want an integer, got %s", quoteShort(string(raw)))
		}
	}
	return s, nil
}

// wholeNumber rewrites a decimal with a fraction or exponent as an integer
// string when it is a whole number, without going through float64.
func wholeNumber(s string) (string, bool) {
	neg := false
	if s[0] == '-' || s[0] == '+' {
		neg = s[0] == '-'
		s = s[1:]
	}
	exp := 0
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil || e > 400 || e < -400 {
			return "", false
		}
		exp = e
		s = s[:i]
	}
	intPart, frac, _ := strings.Cut(s, ".")
	digits := intPart + frac
	exp -= len(frac)
	if digits == "" {
		return "", false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return "", false
		}
	}
	if exp >= 0 {
		digits += strings.Repeat("0", exp)
	} else {
		cut := len(digits) + exp
		if cut < 0 {
			cut = 0
		}
		if strings.Trim(digits[cut:], "0") != "" {
			return "", false
		}
		digits = digits[:cut]
	}
	digits = strings.TrimLeft(digits, "0")
	if digits == "" {
		digits = "0"
	}
	if neg && digits != "0" {
		digits = "-" + digits
	}
	return digits, true
}

type textError string

func (e textError) Error() string { return string(e) }

func errText(format string, args ...any) error {
	return textError(strings.TrimSpace(fmt.Sprintf(format, args...)))
}

func rangeError(s, typ string, err error) error {
	if ne, ok := err.(*strconv.NumError); ok && ne.Err == strconv.ErrRange {
		return errText("%s is out of range for %s", quoteShort(s), typ)
	}
	return errText("want %s, got %s", typ, quoteShort(s))
}

func quoteShort(s string) string {
	if len(s) > 64 {
		s = s[:64] + "..."
	}
	return s
}

// BindParams merges path and query parameters into a JSON request object.
// Each parameter binds to the top-level field of input whose Name or
// JSONName equals the parameter's name, converted by the field's kind:
// integers stay exact, booleans accept true/false/1/0, strings, bytes and
// enum names are quoted, and a list of scalars collects repeated query
// parameters. Parameters override body fields of the same name. A path
// parameter that names no field is an INVALID_ARGUMENT error; an unknown
// query parameter is ignored. With no params, body is returned unchanged.
func BindParams(body []byte, params []Param, input *Type) ([]byte, error) {
	if len(params) == 0 {
		return body, nil
	}
	obj := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
			return nil, Errorf(CodeInvalidArgument, "request body must be a JSON object")
		}
	}
	lists := map[string][]json.RawMessage{}
	for _, p := range params {
		f := input.Field(p.Name)
		if f == nil {
			if p.Path {
				return nil, Errorf(CodeInvalidArgument, "path parameter %q names no request field", Clip(p.Name))
			}
			continue
		}
		key := f.Name
		if f.JSONName != "" {
			key = f.JSONName
		}
		t := f.Type
		if t != nil && (t.Kind == KindList || t.Kind == KindSet) && t.Elem != nil && isScalar(t.Elem.Kind) {
			v, err := paramValue(p.Value, t.Elem)
			if err != nil {
				return nil, Errorf(CodeInvalidArgument, "parameter %q: %s", Clip(p.Name), err)
			}
			lists[key] = append(lists[key], v)
			continue
		}
		v, err := paramValue(p.Value, t)
		if err != nil {
			return nil, Errorf(CodeInvalidArgument, "parameter %q: %s", Clip(p.Name), err)
		}
		obj[key] = v
	}
	for k, vs := range lists {
		b, _ := json.Marshal(vs)
		obj[k] = b
	}
	return json.Marshal(obj)
}

func isScalar(k Kind) bool {
	switch k {
	case KindMessage, KindList, KindSet, KindMap, KindAny:
		return false
	}
	return true
}

// paramValue converts one parameter's text into a JSON value for t.
func paramValue(s string, t *Type) (json.RawMessage, error) {
	kind := KindString
	if t != nil {
		kind = t.Kind
	}
	q := func(s string) json.RawMessage { b, _ := json.Marshal(s); return b }
	switch kind {
	case KindBool:
		switch strings.ToLower(s) {
		case "true", "1":
			return json.RawMessage("true"), nil
		case "false", "0":
			return json.RawMessage("false"), nil
		}
		return nil, errText("want a boolean, got %q", quoteShort(s))
	case KindInt8, KindInt16, KindInt32, KindInt64:
		v, err := ParseInt(q(s), bitsOf(kind))
		if err != nil {
			return nil, err
		}
		return AppendInt(nil, v), nil
	case KindUint8, KindUint16, KindUint32, KindUint64:
		v, err := ParseUint(q(s), bitsOf(kind))
		if err != nil {
			return nil, err
		}
		return AppendUint(nil, v), nil
	case KindFloat32, KindFloat64:
		if _, err := ParseFloat(q(s), bitsOf(kind)); err != nil {
			return nil, err
		}
		if strings.ContainsAny(s, "NI") {
			return q(s), nil
		}
		return json.RawMessage(strings.TrimSpace(s)), nil
	case KindEnum:
		if _, err := strconv.ParseInt(s, 10, 32); err == nil {
			return json.RawMessage(s), nil
		}
		return q(s), nil
	case KindMessage, KindList, KindSet, KindMap, KindAny:
		if json.Valid([]byte(s)) {
			return json.RawMessage(s), nil
		}
		if kind == KindAny {
			return q(s), nil
		}
		return nil, errText("want a JSON %s, got %q", kind, quoteShort(s))
	default: // string, bytes
		return q(s), nil
	}
}

func bitsOf(k Kind) int {
	switch k {
	case KindInt8, KindUint8:
		return 8
	case KindInt16, KindUint16:
		return 16
	case KindInt32, KindUint32, KindFloat32:
		return 32
	}
	return 64
}
