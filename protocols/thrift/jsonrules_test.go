package thrift

import (
	"context"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/wiretap"
)

// TestJSONRuleBreaksAreRefusedBeforeTheWire: bodies that break rpcbridge's
// JSON rules fail with INVALID_ARGUMENT and the reader's exact error, and
// not a byte of them reaches the server. (A NUL byte used to
// read as the end of the input: "\x00{...}" called ping with no
// arguments, and "{...}\x00garbage" was accepted.)
func TestJSONRuleBreaksAreRefusedBeforeTheWire(t *testing.T) {
	breaks := []struct{ name, method, body, want string }{
		{"NUL after the object", "ping", "{\"msg\":\"x\"}\x00garbage", `invalid JSON at offset 11: NUL byte`},
		{"NUL first", "ping", "\x00{\"msg\":\"x\"}", `invalid JSON at offset 0: NUL byte`},
		{"NUL alone", "ping", "\x00", `invalid JSON at offset 0: NUL byte`},
		{"NUL in a string", "ping", "{\"msg\":\"x\x00\"}", `invalid JSON at offset 9: NUL byte`},
		{"duplicate key", "ping", `{"msg":"x","msg":"y"}`, `invalid JSON at offset 11: duplicate key "msg"`},
		{"duplicate key, first null", "ping", `{"msg":null,"msg":"y"}`, `invalid JSON at offset 12: duplicate key "msg"`},
		{"duplicate escaped key", "ping", `{"msg":"x","\u006dsg":"y"}`, `invalid JSON at offset 11: duplicate key "msg"`},
		{"duplicate map key", "echoMap", `{"m":{"1":"a","1":"b"}}`, `invalid JSON at offset 14: duplicate key "1"`},
		{"duplicate escaped map key", "echoMap", `{"m":{"1":"a","\u0031":"b"}}`, `invalid JSON at offset 14: duplicate key "1"`},
		{"invalid UTF-8", "ping", "{\"msg\":\"\xff\"}", `invalid JSON at offset 8: invalid UTF-8`},
		{"invalid UTF-8 in a map value", "echoMap", "{\"m\":{\"1\":\"a\xe2\x82\"}}", `invalid JSON at offset 12: invalid UTF-8`},
		{"trailing data", "ping", `{"msg":"x"} x`, `invalid JSON at offset 12: unexpected data after the value`},
		{"second value", "ping", `{"msg":"x"}{}`, `invalid JSON at offset 11: unexpected data after the value`},
		{"lone surrogate", "ping", `{"msg":"\ud800"}`, `invalid JSON at offset 8: lone surrogate \ud800`},
	}
	cfg := configs[0]
	addr, sent := wiretap.CountingProxy(t, startServer(t, cfg).addr)
	c := newClient(t, &testServer{addr: addr}, cfg, nil)
	for _, tc := range breaks {
		_, err := c.Invoke(context.Background(), &generic.Call{Method: tc.method, Body: []byte(tc.body)})
		ge, ok := err.(*generic.Error)
		if !ok || ge.Code != generic.CodeInvalidArgument || ge.Message != tc.want {
			t.Errorf("%s: %s(%q): got %v want %s %q", tc.name, tc.method, tc.body, err, generic.CodeInvalidArgument, tc.want)
		}
	}
	if got := sent.Load(); got != 0 {
		t.Fatalf("got %d bytes sent to the server want 0: a refused body reached the wire", got)
	}
	res, err := c.Invoke(context.Background(), &generic.Call{Method: "ping", Body: []byte(`{"msg":"x"}`)})
	if err != nil || string(res.Body) != `"pong:x"` {
		t.Fatalf("valid body: got %v, %v want \"pong:x\"", res, err)
	}
	if got := sent.Load(); got == 0 {
		t.Fatal("valid body: got 0 bytes sent to the server want a call")
	}
}
