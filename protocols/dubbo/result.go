package dubbo

import (
	"encoding/base64"
	"fmt"
	mathbig "math/big"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/rpcbridge/rpcbridge/generic"

	hessian "github.com/apache/dubbo-go-hessian2"
	big "github.com/dubbogo/gost/math/big"
)

// appendJSON writes a decoded hessian2 value as JSON: maps with any keys
// become objects (keys as strings), BigDecimal and BigInteger strings,
// integers beyond 2^53 strings, dates RFC 3339 in UTC, enums their names,
// byte arrays base64. The "class"/"_class" keys of POJOs are dropped
// unless keepClass, which writes the class as "class".
func appendJSON(dst []byte, v any, keepClass bool, depth int) ([]byte, error) {
	if depth > 64 {
		return nil, fmt.Errorf("reply nests deeper than 64 levels")
	}
	switch x := v.(type) {
	case nil:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendString(dst, x), nil
	case int:
		return generic.AppendInt(dst, int64(x)), nil
	case int8:
		return generic.AppendInt(dst, int64(x)), nil
	case int16:
		return generic.AppendInt(dst, int64(x)), nil
	case int32:
		return generic.AppendInt(dst, int64(x)), nil
	case int64:
		return generic.AppendInt(dst, x), nil
	case uint8:
		return generic.AppendUint(dst, uint64(x)), nil
	case uint16:
		return generic.AppendUint(dst, uint64(x)), nil
	case uint32:
		return generic.AppendUint(dst, uint64(x)), nil
	case uint64:
		return generic.AppendUint(dst, x), nil
	case float32:
		return generic.AppendFloat(dst, float64(x), 32), nil
	case float64:
		return generic.AppendFloat(dst, x, 64), nil
	case []byte:
		dst = append(dst, '"')
		dst = base64.StdEncoding.AppendEncode(dst, x)
		return append(dst, '"'), nil
	case time.Time:
		return appendString(dst, x.UTC().Format(time.RFC3339Nano)), nil
	case *time.Time:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendString(dst, x.UTC().Format(time.RFC3339Nano)), nil
	case *big.Decimal:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendString(dst, x.String()), nil
	case big.Decimal:
		return appendString(dst, x.String()), nil
	case *big.Integer:
		if x == nil {
			return append(dst, "null"...), nil
		}
		return appendString(dst, x.String()), nil
	case hessian.POJOEnum:
		return appendString(dst, x.String()), nil
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e, keepClass, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case map[any]any:
		return appendAnyMap(dst, x, keepClass, depth)
	case map[string]any:
		m := make(map[any]any, len(x))
		for k, e := range x {
			m[k] = e
		}
		return appendAnyMap(dst, m, keepClass, depth)
	}
	return appendReflect(dst, reflect.ValueOf(v), keepClass, depth)
}

// appendString writes s as json.Marshal does (generic.AppendMarshalString).
func appendString(dst []byte, s string) []byte { return generic.AppendMarshalString(dst, s) }

func keyString(k any) string {
	switch x := k.(type) {
	case string:
		return x
	case nil:
		return "null"
	case time.Time:
		return x.UTC().Format(time.RFC3339Nano)
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(k)
}

// appendAnyMap writes a map as an object with sorted keys. An unknown
// Java class arrives as a map holding "_class"; an enum of an unknown
// class as {"_class": ..., "name": ...}, written as its name.
func appendAnyMap(dst []byte, m map[any]any, keepClass bool, depth int) ([]byte, error) {
	cls, _ := m[hessian.ClassKey].(string)
	// dubbo-go providers generalise BigDecimal and BigInteger replies into
	// maps of their Go fields.
	gcls := cls
	if gcls == "" {
		gcls, _ = m["class"].(string)
	}
	switch gcls {
	case "java.math.BigDecimal":
		if v, ok := m["value"].(string); ok {
			return appendString(dst, v), nil
		}
	case "java.math.BigInteger":
		if v, ok := bigIntegerOf(m); ok {
			return appendString(dst, v), nil
		}
	}
	if cls != "" && len(m) == 2 {
		if name, ok := m["name"].(string); ok && !keepClass {
			return appendString(dst, name), nil
		}
	}
	type kv struct {
		k string
		v any
	}
	entries := make([]kv, 0, len(m)+1)
	for k, v := range m {
		ks := keyString(k)
		if ks == hessian.ClassKey || (ks == "class" && cls == "") {
			if s, ok := v.(string); ok && cls == "" {
				cls = s
			}
			continue
		}
		entries = append(entries, kv{ks, v})
	}
	if keepClass && cls != "" {
		entries = append(entries, kv{"class", cls})
	}
	sort.Slice(entries, func(i, j int) bool { return entries[i].k < entries[j].k })
	dst = append(dst, '{')
	for i, e := range entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendString(dst, e.k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, e.v, keepClass, depth+1); err != nil {
			return nil, err
		}
	}
	return append(dst, '}'), nil
}

// appendReflect writes values of registered Go types (POJO structs, typed
// slices and maps) the way hessian2 names their fields.
func appendReflect(dst []byte, rv reflect.Value, keepClass bool, depth int) ([]byte, error) {
	for rv.Kind() == reflect.Pointer || rv.Kind() == reflect.Interface {
		if rv.IsNil() {
			return append(dst, "null"...), nil
		}
		rv = rv.Elem()
	}
	if !rv.IsValid() {
		return append(dst, "null"...), nil
	}
	if rv.CanInterface() {
		switch x := rv.Interface().(type) {
		case time.Time, big.Decimal, hessian.POJOEnum:
			return appendJSON(dst, x, keepClass, depth)
		}
	}
	switch rv.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(dst, rv.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return generic.AppendInt(dst, rv.Int()), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return generic.AppendUint(dst, rv.Uint()), nil
	case reflect.Float32:
		return generic.AppendFloat(dst, rv.Float(), 32), nil
	case reflect.Float64:
		return generic.AppendFloat(dst, rv.Float(), 64), nil
	case reflect.String:
		return appendString(dst, rv.String()), nil
	case reflect.Slice, reflect.Array:
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return appendJSON(dst, rv.Bytes(), keepClass, depth)
		}
		dst = append(dst, '[')
		for i := 0; i < rv.Len(); i++ {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, rv.Index(i).Interface(), keepClass, depth+1); err != nil {
				return nil, err
			}
		}
		return append(dst, ']'), nil
	case reflect.Map:
		m := make(map[any]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			m[it.Key().Interface()] = it.Value().Interface()
		}
		return appendAnyMap(dst, m, keepClass, depth)
	case reflect.Struct:
		m := make(map[any]any, rv.NumField()+1)
		t := rv.Type()
		for i := 0; i < rv.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name := f.Tag.Get("hessian")
			if name == "-" {
				continue
			}
			if name == "" {
				name = lowerFirst(f.Name)
			}
			m[name] = rv.Field(i).Interface()
		}
		if p, ok := rv.Interface().(hessian.POJO); ok {
			m[hessian.ClassKey] = p.JavaClassName()
		} else if rv.CanAddr() {
			if p, ok := rv.Addr().Interface().(hessian.POJO); ok {
				m[hessian.ClassKey] = p.JavaClassName()
			}
		}
		return appendAnyMap(dst, m, keepClass, depth)
	}
	return nil, fmt.Errorf("reply holds a value of unsupported type %s", rv.Type())
}

// bigIntegerOf reads a generalised java.math.BigInteger: signum and the
// magnitude as big-endian 32-bit words.
func bigIntegerOf(m map[any]any) (string, bool) {
	signum, ok := toInt64(m["signum"])
	if !ok {
		return "", false
	}
	words := reflect.ValueOf(m["mag"])
	if words.Kind() != reflect.Slice {
		return "", false
	}
	n := new(mathbig.Int)
	for i := 0; i < words.Len(); i++ {
		w, ok := toInt64(words.Index(i).Interface())
		if !ok {
			return "", false
		}
		n.Lsh(n, 32)
		n.Or(n, mathbig.NewInt(w&0xffffffff))
	}
	if signum < 0 {
		n.Neg(n)
	}
	return n.String(), true
}

func toInt64(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case int16:
		return int64(x), true
	case int8:
		return int64(x), true
	}
	return 0, false
}

func lowerFirst(s string) string {
	r := []rune(s)
	if len(r) == 0 {
		return s
	}
	r[0] = unicode.ToLower(r[0])
	return strings.Clone(string(r))
}
