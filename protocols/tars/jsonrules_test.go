package tars_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/wiretap"
)

// TestJSONRuleBreaksAreRefusedBeforeTheWire: bodies that break rpcbridge's
// JSON rules fail with INVALID_ARGUMENT and the reader's exact error, and
// not a byte of them reaches the servant, in both protocol versions.
// (Duplicate keys used to be accepted, the last one winning.)
func TestJSONRuleBreaksAreRefusedBeforeTheWire(t *testing.T) {
	outOfOrder := "{\"a\":{\"s\":\"ok\",\"b\":true,\"strs\":[\"\xff\"]}}"
	outOfOrderDup := `{"a":{"s":"ok","b":true,"smap":{"k":1,"k":2}}}`
	breaks := []struct{ name, method, body, want string }{
		{"NUL after the object", "context", "{\"key\":\"x\"}\x00garbage", `invalid JSON at offset 11: NUL byte`},
		{"NUL first", "context", "\x00{\"key\":\"x\"}", `invalid JSON at offset 0: NUL byte`},
		{"NUL in a string", "context", "{\"key\":\"x\x00\"}", `invalid JSON at offset 9: NUL byte`},
		{"duplicate key", "context", `{"key":"x","key":"y"}`, `invalid JSON at offset 11: duplicate key "key"`},
		{"duplicate escaped key", "context", `{"key":"x","\u006bey":"y"}`, `invalid JSON at offset 11: duplicate key "key"`},
		{"duplicate nested key", "echoAll", `{"a":{"smap":{"k":1,"k":2}}}`, `invalid JSON at offset 20: duplicate key "k"`},
		{"duplicate key, fields out of tag order", "echoAll", outOfOrderDup,
			`invalid JSON at offset ` + strconv.Itoa(strings.LastIndex(outOfOrderDup, `"k"`)) + `: duplicate key "k"`},
		{"invalid UTF-8", "context", "{\"key\":\"\xff\"}", `invalid JSON at offset 8: invalid UTF-8`},
		{"invalid UTF-8, fields out of tag order", "echoAll", outOfOrder,
			`invalid JSON at offset ` + strconv.Itoa(strings.IndexByte(outOfOrder, 0xff)) + `: invalid UTF-8`},
		{"trailing data", "context", `{"key":"x"} x`, `invalid JSON at offset 12: unexpected data after the value`},
		{"second value", "context", `{"key":"x"}{}`, `invalid JSON at offset 11: unexpected data after the value`},
		{"lone surrogate", "context", `{"key":"\ud800"}`, `invalid JSON at offset 8: lone surrogate \ud800`},
		{"leading zero", "add", `{"a":01}`, `invalid JSON at offset 5: leading zero in number`},
	}
	addr, sent := wiretap.CountingProxy(t, startEcho(t).Addr())
	for _, version := range []int{1, 3} {
		c := newClient(t, addr, version, 1)
		for _, tc := range breaks {
			_, err := invoke(c, tc.method, tc.body, nil)
			ge, ok := err.(*generic.Error)
			if !ok || ge.Code != generic.CodeInvalidArgument || ge.Message != tc.want {
				t.Errorf("version %d, %s: %s(%q): got %v want %s %q", version, tc.name, tc.method, tc.body, err, generic.CodeInvalidArgument, tc.want)
			}
		}
	}
	if got := sent.Load(); got != 0 {
		t.Fatalf("got %d bytes sent to the servant want 0: a refused body reached the wire", got)
	}
	c := newClient(t, addr, 1, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: "add", Body: []byte(`{"a":1,"b":2}`)})
	if err != nil || string(res.Body) != `{"return":3}` {
		t.Fatalf("valid body: got %v, %v want {\"return\":3}", res, err)
	}
	if sent.Load() == 0 {
		t.Fatal("valid body: got 0 bytes sent to the servant want a call")
	}
}
