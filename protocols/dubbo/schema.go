package dubbo

import (
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
)

// schemaType describes a Java type in the protocol-neutral schema.
func schemaType(t string) *generic.Type {
	t = javaType(t)
	if strings.HasSuffix(t, "[]") {
		elem := strings.TrimSuffix(t, "[]")
		if elem == "byte" {
			return &generic.Type{Kind: generic.KindBytes, Name: t}
		}
		return &generic.Type{Kind: generic.KindList, Name: t, Elem: schemaType(elem)}
	}
	base, args := splitGeneric(t)
	switch base {
	case "long", "java.lang.Long":
		return &generic.Type{Kind: generic.KindInt64, Name: base}
	case "int", "java.lang.Integer":
		return &generic.Type{Kind: generic.KindInt32, Name: base}
	case "short", "java.lang.Short":
		return &generic.Type{Kind: generic.KindInt16, Name: base}
	case "byte", "java.lang.Byte":
		return &generic.Type{Kind: generic.KindInt8, Name: base}
	case "float", "java.lang.Float":
		return &generic.Type{Kind: generic.KindFloat32, Name: base}
	case "double", "java.lang.Double":
		return &generic.Type{Kind: generic.KindFloat64, Name: base}
	case "boolean", "java.lang.Boolean":
		return &generic.Type{Kind: generic.KindBool, Name: base}
	case "char", "java.lang.Character", "java.lang.String", "java.lang.CharSequence",
		"java.math.BigDecimal", "java.math.BigInteger", "java.util.Date", "java.sql.Timestamp", "java.sql.Date":
		return &generic.Type{Kind: generic.KindString, Name: base}
	case "java.util.List", "java.util.ArrayList", "java.util.LinkedList", "java.util.Collection", "java.lang.Iterable":
		e := &generic.Type{Kind: generic.KindAny, Name: "java.lang.Object"}
		if len(args) == 1 {
			e = schemaType(args[0])
		}
		return &generic.Type{Kind: generic.KindList, Name: base, Elem: e}
	case "java.util.Set", "java.util.HashSet", "java.util.LinkedHashSet", "java.util.TreeSet":
		e := &generic.Type{Kind: generic.KindAny, Name: "java.lang.Object"}
		if len(args) == 1 {
			e = schemaType(args[0])
		}
		return &generic.Type{Kind: generic.KindSet, Name: base, Elem: e}
	case "java.util.Map", "java.util.HashMap", "java.util.LinkedHashMap", "java.util.TreeMap",
		"java.util.concurrent.ConcurrentHashMap":
		k := &generic.Type{Kind: generic.KindString, Name: "java.lang.String"}
		v := &generic.Type{Kind: generic.KindAny, Name: "java.lang.Object"}
		if len(args) == 2 {
			k, v = schemaType(args[0]), schemaType(args[1])
		}
		return &generic.Type{Kind: generic.KindMap, Name: base, Key: k, Elem: v}
	case "java.lang.Object", "java.io.Serializable":
		return &generic.Type{Kind: generic.KindAny, Name: base}
	}
	return &generic.Type{Kind: generic.KindMessage, Name: base}
}
