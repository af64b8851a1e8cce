package dubbo_test

import (
	"bytes"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

// The package's own client and dubbo-go's generic client, calling the
// same providers with the same requests, give the same JSON and the same
// errors.
func TestDirectEngineMatchesDubboGo(t *testing.T) {
	child := testprovider.StartChild(t, "dubbo", false)
	engineClient := func(e, addr string, keepClass bool) generic.Client {
		return dial(t, debitProtocol(t, func(o *dubbo.Options) {
			o.KeepClass = keepClass
			useClient(o, e)
			o.ExceptionStatus = map[string]int{"java.lang.IllegalArgumentException": 400, bizException: 422}
		}), addr)
	}
	cases := []struct {
		addr, method, body string
		keepClass          bool
	}{
		{mainAddr, "ping", ``, false},
		{mainAddr, "who", `{}`, false},
		{mainAddr, "echoLong", `{"v": 42}`, false},
		{mainAddr, "echoLong", `{"v": "-9223372036854775808"}`, false},
		{mainAddr, "echoLong", `{"v": 9007199254740993}`, false},
		{mainAddr, "echoInt", `{"v": -2147483648}`, false},
		{mainAddr, "echoShort", `{"v": -300}`, false},
		{mainAddr, "echoByte", `{"v": -128}`, false},
		{mainAddr, "echoFloat", `{"v": 1.1}`, false},
		{mainAddr, "echoFloat", `{"v": 3.4028235e38}`, false},
		{mainAddr, "echoDouble", `{"v": -0.000123456789}`, false},
		{mainAddr, "echoDouble", `{"v": 1e300}`, false},
		{mainAddr, "echoDouble", `{"v": 32768}`, false},
		{mainAddr, "echoBool", `{"v": false}`, false},
		{mainAddr, "echoString", `{"v": ""}`, false},
		{mainAddr, "echoString", `{"v": "héllo \"w\" 😀 \u0000 \u2028"}`, false},
		{mainAddr, "echoString", `{"v": "` + longString(70000) + `"}`, false},
		{mainAddr, "echoDecimal", `{"v": "-12345678901234567890.123456789"}`, false},
		{mainAddr, "echoDecimal", `{"v": 0}`, false},
		{mainAddr, "echoBigInteger", `{"v": "-123456789012345678901234567890"}`, false},
		{mainAddr, "echoBigInteger", `{"v": "0"}`, false},
		{mainAddr, "echoDate", `{"v": "1969-12-31T23:59:59.999Z"}`, false},
		{mainAddr, "echoColor", `{"v": "GREEN"}`, false},
		{mainAddr, "echoColor", `{"v": "BLUE"}`, true},
		{mainAddr, "echoList", `{"v": [1, "9007199254740993", -5]}`, false},
		{mainAddr, "echoList", `{"v": []}`, false},
		{mainAddr, "makeMap", `{"n": 3}`, false},
		{mainAddr, "echoObject", `{"v": [1, "two", 2.5, false, null, {"a": [1]}]}`, false},
		{mainAddr, "echoObject", `{"v": 4294967296}`, false},
		{mainAddr, "sumInts", `{"v": [1, 2, 3, 2147483647, -2147483648]}`, false},
		{mainAddr, "join", `{"v": ["a", "b", "c", "d", "e", "f", "g", "h", "i"], "sep": "-"}`, false},
		{mainAddr, "createUser", `{"user": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}}`, false},
		{mainAddr, "createUser", `{"user": {"name": "ann", "age": 1, "address": {"city": "Oslo"}}}`, true},
		{mainAddr, "find", `{"id": 42}`, false},
		{mainAddr, "find", `{"name": "bob"}`, false},
		{mainAddr, "fail", `{"id": 7}`, false},
		{mainAddr, "failApache", `{"id": 7}`, false},
		{mainAddr, "echoLong", `{"v": "x"}`, false},
		{child.Addr, "who", ``, false},
		{child.Addr, "createUser", `{"user": {"name": "cy", "age": 2, "address": {"city": "Rome", "zip": "1"}}}`, false},
		{child.Addr, "debit", `{"account": "A-1", "amount": 100}`, false},
	}
	clients := map[[3]any]generic.Client{}
	get := func(e, addr string, keep bool) generic.Client {
		k := [3]any{e, addr, keep}
		if clients[k] == nil {
			clients[k] = engineClient(e, addr, keep)
		}
		return clients[k]
	}
	for _, tc := range cases {
		direct, err := invoke(t, get(ours, tc.addr, tc.keepClass), tc.method, tc.body)
		old, oldErr := invoke(t, get(dubboGo, tc.addr, tc.keepClass), tc.method, tc.body)
		name := tc.method + " " + shortBody(tc.body)
		if direct != old {
			t.Errorf("%s: got %s from the direct engine, want %s as dubbo-go gives", name, shortBody(direct), shortBody(old))
		}
		if (err == nil) != (oldErr == nil) {
			t.Errorf("%s: got error %v from the direct engine, want %v as dubbo-go gives", name, err, oldErr)
			continue
		}
		if err == nil {
			continue
		}
		ge, oge := generic.AsError(err), generic.AsError(oldErr)
		if ge.Code != oge.Code || ge.Exception != oge.Exception || ge.Message != oge.Message ||
			!bytes.Equal(ge.Fields, oge.Fields) || ge.HTTPStatus() != oge.HTTPStatus() {
			t.Errorf("%s: got %s %q %q fields %s status %d from the direct engine, want %s %q %q fields %s status %d as dubbo-go gives",
				name, ge.Code, ge.Exception, ge.Message, ge.Fields, ge.HTTPStatus(), oge.Code, oge.Exception, oge.Message, oge.Fields, oge.HTTPStatus())
		}
	}
	// A method the provider lacks is NOT_FOUND from both.
	for _, e := range []string{ours, dubboGo} {
		c := dial(t, newProtocol(t, func(o *dubbo.Options) {
			o.Methods, o.Overloads = nil, nil
			useClient(o, e)
		}), mainAddr)
		_, err := invoke(t, c, "noSuchMethod", `{"types": ["long"], "args": [1]}`)
		if got := generic.CodeOf(err); got != generic.CodeNotFound {
			t.Errorf("%s: noSuchMethod: got %s (%v), want NOT_FOUND", e, got, err)
		}
	}
}

// The clients the differential tests compare.
const (
	ours    = "rpcbridge"
	dubboGo = "dubbo-go"
)

// useClient makes o's calls go through client e (ours or dubboGo).
func useClient(o *dubbo.Options, e string) {
	if e == dubboGo {
		dubbo.UseDubboGo(o)
	}
}

func longString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = 'a' + byte(i%26)
	}
	return string(b)
}

func shortBody(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return s
}
