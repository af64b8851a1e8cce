package dubbo_test

import (
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
)

// Requests the adapter must refuse before calling the provider: a key that
// names no parameter, and a body that is not an object for a method that
// does not take exactly one parameter.
func TestArgumentsThatNameNoParameterAreRefused(t *testing.T) {
	c := mainClient(t)
	cases := []struct{ name, method, body, inMessage string }{
		{"unknown key beside both parameters", "join", `{"v": ["a"], "sep": "-", "nope": 1}`, `"nope"`},
		{"unknown key beside the one parameter", "echoLong", `{"v": 1, "x": 2}`, `"x"`},
		{"argN beyond the parameters", "join", `{"arg0": ["a"], "arg2": "-"}`, `"arg2"`},
		{"long unknown key is cut", "join", `{"v": ["a"], "` + strings.Repeat("k", 5000) + `": 1}`, `kkk..."`},
		{"array body for two parameters", "join", `[["a"], "-"]`, "must be a JSON object"},
		{"number body for two parameters", "join", `1`, "must be a JSON object"},
		{"string body for two parameters", "join", `"a"`, "must be a JSON object"},
		{"number body for no parameters", "ping", `1`, "must be a JSON object"},
		{"keys for no parameters", "ping", `{"a": 1}`, "takes no arguments"},
	}
	for _, tc := range cases {
		got, err := invoke(t, c, tc.method, tc.body)
		ge := generic.AsError(err)
		if err == nil || ge.Code != generic.CodeInvalidArgument || !strings.Contains(ge.Message, tc.inMessage) {
			t.Errorf("%s: got %q, %v; want INVALID_ARGUMENT with %s in the message", tc.name, got, err, tc.inMessage)
			continue
		}
		if len(ge.Message) > 300 {
			t.Errorf("%s: message is %d bytes, want the client's key cut short", tc.name, len(ge.Message))
		}
	}
	// What stays accepted: names, arg0..argN, a whole-body single
	// argument, and nothing at all.
	for _, tc := range []struct{ method, body, want string }{
		{"join", `{"arg0": ["a", "b"], "sep": "+"}`, `"a+b"`},
		{"echoLong", `7`, `7`},
		{"createUser", `{"name": "zo", "age": 1}`, `{"id": 1001, "name": "zo", "age": 1, "tags": [], "address": null}`},
		{"ping", ``, `"pong"`},
		{"ping", `null`, `"pong"`},
	} {
		got, err := invoke(t, c, tc.method, tc.body)
		if err != nil || !jsonEqual(t, got, tc.want) {
			t.Errorf("%s %s: got %s, %v; want %s", tc.method, tc.body, got, err, tc.want)
		}
	}
}

func TestAMethodTheProviderLacksIsNotFound(t *testing.T) {
	c := dial(t, newProtocol(t, func(o *dubbo.Options) { o.Methods = nil; o.Overloads = nil }), mainAddr)
	for _, body := range []string{
		`{"types": ["long"], "args": [1]}`,
		`{"types": ["com.example.NoSuchType"], "args": [{}]}`,
	} {
		_, err := invoke(t, c, "noSuchMethod", body)
		if ge := generic.AsError(err); err == nil || ge.Code != generic.CodeNotFound || ge.HTTPStatus() != 404 {
			t.Errorf("%s: got %v, want NOT_FOUND (404)", body, err)
		}
	}
	// A business exception that says "not found" stays an exception.
	_, err := invoke(t, mainClient(t), "fail", `{"id": 7}`)
	if ge := generic.AsError(err); err == nil || ge.Code != generic.CodeBackendException {
		t.Errorf("fail: got %v, want BACKEND_EXCEPTION", err)
	}
}
