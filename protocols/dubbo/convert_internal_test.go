package dubbo

import (
	"encoding/json"
	"math"
	"reflect"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
	big "github.com/dubbogo/gost/math/big"
)

// plain reports whether v holds only the value types hessian2 encodes
// (a json.Number or other named type would encode as nothing).
func plain(v any) bool {
	switch x := v.(type) {
	case nil, bool, string, int8, int16, int32, int64, float32, float64, time.Time,
		*big.Decimal, *big.Integer, []byte, []int16, []int32, []int64, []float32, []float64, []bool, []string:
		return true
	case []any:
		for _, e := range x {
			if !plain(e) {
				return false
			}
		}
		return true
	case map[string]any:
		for _, e := range x {
			if !plain(e) {
				return false
			}
		}
		return true
	case map[any]any:
		for k, e := range x {
			if !plain(k) || !plain(e) {
				return false
			}
		}
		return true
	}
	return false
}

func TestToHessianGivesPlainValuesThatSurviveHessian2(t *testing.T) {
	cases := []struct {
		typ, json string
		want      any // after a hessian2 round trip
	}{
		{"long", `9007199254740993`, int64(9007199254740993)},
		{"java.lang.Long", `"-9223372036854775808"`, int64(math.MinInt64)},
		{"int", `7`, int32(7)},
		{"java.lang.Integer", `1e3`, int32(1000)},
		{"short", `-2`, int32(-2)},
		{"byte", `-128`, int32(-128)},
		{"float", `0.5`, float64(0.5)},
		{"double", `"NaN"`, math.NaN()},
		{"boolean", `false`, false},
		{"char", `"x"`, "x"},
		{"java.lang.String", `"s"`, "s"},
		{"java.util.Date", `"2024-05-06T07:08:09.123Z"`, time.Date(2024, 5, 6, 7, 8, 9, 123e6, time.UTC)},
		{"int[]", `[1, 2]`, []int32{1, 2}},
		{"[J", `[1, "2"]`, []int64{1, 2}},
		{"java.lang.String[]", `["a", "b"]`, []string{"a", "b"}},
		{"byte[]", `"AQI="`, []byte{1, 2}},
		{"java.util.List<java.lang.Integer>", `[1, 2]`, []any{int32(1), int32(2)}},
		{"java.util.Map<java.lang.Long, java.lang.String>", `{"5": "five"}`, map[any]any{int64(5): "five"}},
		{"java.util.Map", `{"a": 1, "b": [2.5]}`, map[any]any{"a": int32(1), "b": []any{2.5}}},
		{"java.lang.Object", `[1, 4294967296, 1.5, "x", null, true]`, []any{int32(1), int64(4294967296), 1.5, "x", nil, true}},
		{"org.example.User", `{"id": 1, "name": "n"}`, map[any]any{"class": "org.example.User", "id": int32(1), "name": "n"}},
	}
	for _, tc := range cases {
		v, err := toHessian(json.RawMessage(tc.json), tc.typ)
		if err != nil {
			t.Errorf("%s %s: %v", tc.typ, tc.json, err)
			continue
		}
		if !plain(v) {
			t.Errorf("%s %s: got %T, want a plain value", tc.typ, tc.json, v)
			continue
		}
		enc := hessian.NewEncoder()
		if err := enc.Encode(v); err != nil {
			t.Errorf("%s %s: encode: %v", tc.typ, tc.json, err)
			continue
		}
		if len(enc.Buffer()) == 0 {
			t.Errorf("%s %s: encoded to zero bytes", tc.typ, tc.json)
			continue
		}
		got, err := hessian.NewDecoder(enc.Buffer()).Decode()
		if err != nil {
			t.Errorf("%s %s: decode: %v", tc.typ, tc.json, err)
			continue
		}
		if f, ok := tc.want.(float64); ok && math.IsNaN(f) {
			if g, ok := got.(float64); !ok || !math.IsNaN(g) {
				t.Errorf("%s %s: got %#v want NaN", tc.typ, tc.json, got)
			}
			continue
		}
		if tm, ok := got.(time.Time); ok {
			got = tm.UTC()
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s %s: got %#v (%T) want %#v (%T)", tc.typ, tc.json, got, got, tc.want, tc.want)
		}
	}
}

func TestToHessianEnumAndDecimal(t *testing.T) {
	v, err := toHessian(json.RawMessage(`"RED"`), "org.example.Color")
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]any{"_class": "org.example.Color", "name": "RED"}; !reflect.DeepEqual(v, want) {
		t.Errorf("enum: got %#v want %#v", v, want)
	}
	d, err := toHessian(json.RawMessage(`"-1.25"`), "java.math.BigDecimal")
	if err != nil {
		t.Fatal(err)
	}
	if s := d.(*big.Decimal).String(); s != "-1.25" {
		t.Errorf("decimal: got %s want -1.25", s)
	}
}

func TestAppendJSONNormalisesReplies(t *testing.T) {
	loc := time.FixedZone("X", 3*3600)
	dec, _ := big.NewDecFromString("12.50")
	cases := []struct {
		name      string
		v         any
		keepClass bool
		want      string
	}{
		{"int64 beyond 2^53", int64(1) << 60, false, `"1152921504606846976"`},
		{"int64 safe", int64(-5), false, `-5`},
		{"local date to UTC", time.Date(2024, 1, 2, 6, 4, 5, 0, loc), false, `"2024-01-02T03:04:05Z"`},
		{"decimal", dec, false, `"12.50"`},
		{"NaN", math.NaN(), false, `"NaN"`},
		{"bytes", []byte{1, 2}, false, `"AQI="`},
		{"map any keys", map[any]any{int64(2): "b", "a": []any{nil, true}}, false, `{"2":"b","a":[null,true]}`},
		{"pojo drops class", map[any]any{"_class": "x.User", "id": int32(1)}, false, `{"id":1}`},
		{"pojo keeps class", map[any]any{"_class": "x.User", "id": int32(1)}, true, `{"class":"x.User","id":1}`},
		{"generalised pojo", map[any]any{"class": "x.User", "id": int32(1)}, false, `{"id":1}`},
		{"unknown enum", map[any]any{"_class": "x.Color", "name": "RED"}, false, `"RED"`},
		{"generalised decimal", map[any]any{"class": "java.math.BigDecimal", "value": "1.5"}, false, `"1.5"`},
		{"generalised biginteger", map[any]any{"class": "java.math.BigInteger", "signum": int32(-1), "mag": []int32{1, 0}}, false, `"-4294967296"`},
		{"typed slice", []int32{1, 2}, false, `[1,2]`},
	}
	for _, tc := range cases {
		got, err := appendJSON(nil, tc.v, tc.keepClass, 0)
		if err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if string(got) != tc.want {
			t.Errorf("%s: got %s want %s", tc.name, got, tc.want)
		}
	}
}

func TestJavaTypeNames(t *testing.T) {
	for in, want := range map[string][2]string{
		"[Ljava.lang.String;":            {"java.lang.String[]", "[Ljava.lang.String;"},
		"[I":                             {"int[]", "[I"},
		"int[][]":                        {"int[][]", "[[I"},
		"java.util.List<java.lang.Long>": {"java.util.List<java.lang.Long>", "java.util.List"},
		"long":                           {"long", "long"},
	} {
		if got := javaType(in); got != want[0] {
			t.Errorf("javaType(%q): got %q want %q", in, got, want[0])
		}
		if got := wireType(in); got != want[1] {
			t.Errorf("wireType(%q): got %q want %q", in, got, want[1])
		}
	}
}
