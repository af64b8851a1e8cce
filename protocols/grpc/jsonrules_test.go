package grpc

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	gogrpc "google.golang.org/grpc"

	"github.com/rpcbridge/rpcbridge/generic"
)

// TestJSONRuleBreaksAreRefusedBeforeTheWire: the direct encoder refuses
// every rule break with its INVALID_ARGUMENT JSON error, and a call with
// such a body fails with INVALID_ARGUMENT without reaching the server.
func TestJSONRuleBreaksAreRefusedBeforeTheWire(t *testing.T) {
	// Bodies for demo.v1.PeopleService/Echo that break rpcbridge's JSON
	// rules, with the direct encoder's exact error.
	breaks := []struct{ name, body, want string }{
		{"NUL after the object", "{\"text\":\"x\"}\x00garbage", `invalid JSON at offset 12: NUL byte`},
		{"NUL first", "\x00{\"text\":\"x\"}", `invalid JSON at offset 0: NUL byte`},
		{"NUL in a string", "{\"text\":\"x\x00\"}", `invalid JSON at offset 10: NUL byte`},
		{"duplicate key", `{"text":"x","text":"y"}`, `invalid JSON at offset 12: duplicate key "text"`},
		{"duplicate escaped key", `{"text":"x","\u0074ext":"y"}`, `invalid JSON at offset 12: duplicate key "text"`},
		{"duplicate map key", `{"counts":{"a":"1","a":"2"}}`, `invalid JSON at offset 19: duplicate key "a"`},
		{"invalid UTF-8", "{\"text\":\"\xff\"}", `invalid JSON at offset 9: invalid UTF-8`},
		{"invalid UTF-8 in a key", "{\"te\xc3xt\":\"x\"}", `invalid JSON at offset 4: invalid UTF-8`},
		{"trailing data", `{"text":"x"} x`, `invalid JSON at offset 13: unexpected data after the value`},
		{"second value", `{"text":"x"}{}`, `invalid JSON at offset 12: unexpected data after the value`},
		{"lone surrogate", `{"text":"\ud800"}`, `invalid JSON at offset 9: lone surrogate \ud800`},
		{"trailing comma", `{"text":"x",}`, `invalid JSON at offset 12: trailing comma`},
	}
	ps, err := loadProtosets([]string{peopleProtoset})
	if err != nil {
		t.Fatal(err)
	}
	s, err := newSchema(ps, time.Now(), false)
	if err != nil {
		t.Fatal(err)
	}
	_, m := s.find("demo.v1.PeopleService", "Echo")
	if m == nil || m.request == nil {
		t.Fatal("Echo has no direct request plan")
	}
	var calls atomic.Int64
	gs := gogrpc.NewServer(gogrpc.ForceServerCodecV2(rawCodec{}),
		gogrpc.UnknownServiceHandler(func(_ any, ss gogrpc.ServerStream) error {
			calls.Add(1)
			var in []byte
			if err := ss.RecvMsg(&in); err != nil {
				return err
			}
			return ss.SendMsg([]byte{})
		}))
	c := dialProtoset(t, Options{}, serveGRPC(t, gs))
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, tc := range breaks {
		_, err := encodeRequest(m.request, []byte(tc.body), nil)
		ge, ok := err.(*generic.Error)
		if !ok || ge.Code != generic.CodeInvalidArgument || ge.Message != tc.want {
			t.Errorf("%s: encodeRequest(%q): got %v want %s %q", tc.name, tc.body, err, generic.CodeInvalidArgument, tc.want)
		}
		_, err = c.Invoke(ctx, &generic.Call{Method: "Echo", Body: []byte(tc.body)})
		if code := generic.CodeOf(err); code != generic.CodeInvalidArgument {
			t.Errorf("%s: Invoke(%q): got %v (%s) want %s", tc.name, tc.body, err, code, generic.CodeInvalidArgument)
		}
	}
	if n := calls.Load(); n != 0 {
		t.Fatalf("got %d calls at the server want 0: a refused body reached the wire", n)
	}
	if _, err := c.Invoke(ctx, &generic.Call{Method: "Echo", Body: []byte(`{"text":"x"}`)}); err != nil {
		t.Fatalf("valid body: got %v want a reply", err)
	}
	if n := calls.Load(); n != 1 {
		t.Fatalf("valid body: got %d calls at the server want 1", n)
	}
}
