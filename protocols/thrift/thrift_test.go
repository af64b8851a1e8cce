package thrift

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

func targetOf(addr string) generic.Target { return generic.Target{Address: addr} }

var configs = []serverConfig{
	{protocol: "binary", transport: "framed"},
	{protocol: "binary", transport: "buffered"},
	{protocol: "compact", transport: "framed"},
	{protocol: "compact", transport: "buffered"},
	{protocol: "binary", transport: "framed", mux: true},
	{protocol: "compact", transport: "buffered", mux: true},
	{protocol: "binary", transport: "header"},
	{protocol: "compact", transport: "header"},
	{protocol: "compact", transport: "header", mux: true},
}

// fullAll is an All value with every field set; the echo must return it
// unchanged (optDefault equals its default, so the generated server does
// not write it back).
const fullAll = `{
  "b": true, "by": -128, "i8v": 127, "i16v": -32768, "i32v": 2147483647,
  "i64v": "9223372036854775807", "d": 3.25, "s": "héllo \"quoted\" \u0001 😀",
  "bin": "AAEC/w==", "color": "BLUE", "point": {"x": 1, "y": -2},
  "choice": {"n": "9007199254740993"},
  "li": [1, -1, 2147483647], "ss": ["a", "b"], "msl": {"k": "-9007199254740993", "j": 5},
  "mis": {"1": "one", "-2": "minus two"}, "mlp": {"9007199254740993": {"x": 3, "y": 4}},
  "nested": {"RED": [[1, 2], [3]], "GREEN": []}, "lmi": [{"i": {"a": 1, "b": "x"}}, {}],
  "id": 42, "tags": ["t1"], "mbd": {"true": 1.5, "false": -2}, "mds": {"1.5": "x", "-0.25": "y"},
  "opt": 0, "withDefault": 7, "colour": "RED", "points": [{"x": 5, "y": 6}], "name": "n"
}`

type tcase struct {
	name   string
	method string
	body   string
	params []generic.Param
	want   string // JSON compared value by value
	// for errors
	code     generic.Code
	status   int
	contains string
	check    func(t *testing.T, e *generic.Error)
}

var cases = []tcase{
	{name: "ping from the extended base service", method: "ping", body: `{"msg":"hi"}`, want: `"pong:hi"`},
	{name: "every type round-trips", method: "echo", body: `{"a":` + fullAll + `}`,
		want: strings.Replace(fullAll, `"opt": 0,`, `"opt": 0,`, 1)},
	{name: "defaults fill absent default-requiredness fields", method: "echo",
		body: `{"a":{"point":{"x":1,"y":2},"choice":{"s":"x"}}}`,
		want: `{"b":false,"by":0,"i8v":0,"i16v":0,"i32v":0,"i64v":0,"d":0,"s":"","bin":"","color":0,
		  "point":{"x":1,"y":2},"choice":{"s":"x"},"li":[],"ss":[],"msl":{},"mis":{},"mlp":{},"nested":{},
		  "lmi":[],"id":0,"tags":[],"mbd":{},"mds":{},"withDefault":42,"colour":"GREEN","points":[],"name":""}`},
	{name: "i64 above 2^53 as number in, string out", method: "add", body: `{"a":9007199254740993,"b":1,"c":1,"d":-1}`, want: `"9007199254740994"`},
	{name: "i64 above 2^53 as string in", method: "add", body: `{"a":"9223372036854775806","b":1}`, want: `"9223372036854775807"`},
	{name: "all arguments bind", method: "add", body: `{"a":1,"b":2,"c":3,"d":4}`, want: `10`},
	{name: "path and query params bind by argument type", method: "makePoint", body: `{"y":4}`,
		params: []generic.Param{{Name: "x", Value: "3", Path: true}, {Name: "y", Value: "-9"}, {Name: "zzz", Value: "ignored"}},
		want:   `{"x":3,"y":-9}`},
	{name: "list of typedef across files", method: "ids", body: `{"tags":["a","b"]}`, want: `["9007199254740992","9007199254740993"]`},
	{name: "binary base64", method: "echoBinary", body: `{"b":"3q2+7w=="}`, want: `"3q2+7w=="`},
	{name: "double NaN as string", method: "echoDouble", body: `{"d":"NaN"}`, want: `"NaN"`},
	{name: "double exact", method: "echoDouble", body: `{"d":1e-7}`, want: `1e-7`},
	{name: "enum number in, name out", method: "echoColor", body: `{"c":5}`, want: `"BLUE"`},
	{name: "enum name in", method: "echoColor", body: `{"c":"GREEN"}`, want: `"GREEN"`},
	{name: "map i64 keys", method: "echoMap", body: `{"m":{"-9223372036854775808":"min","0":"zero"}}`, want: `{"-9223372036854775808":"min","0":"zero"}`},
	{name: "union one field", method: "echoChoice", body: `{"c":{"p":{"x":1,"y":1}}}`, want: `{"p":{"x":1,"y":1}}`},
	{name: "required fields present", method: "echoReq", body: `{"r":{"name":"n","qty":2}}`, want: `{"name":"n","qty":2}`},
	{name: "void gives an empty object", method: "doNothing", body: ``, want: `{}`},
	{name: "null is absent", method: "echoReq", body: `{"r":{"name":"n","qty":2,"note":null}}`, want: `{"name":"n","qty":2}`},

	{name: "bad JSON", method: "add", body: `{"a":1,`, code: generic.CodeInvalidArgument, status: 400, contains: "invalid JSON at offset 7: unexpected end of input"},
	{name: "body not an object", method: "add", body: `[1]`, code: generic.CodeInvalidArgument, status: 400, contains: "JSON object keyed by argument name, got an array"},
	{name: "wrong type names path, type and value", method: "echo", body: `{"a":{"point":{"x":"abc"}}}`,
		code: generic.CodeInvalidArgument, status: 400, contains: `field "a.point.x": want i32, got "abc"`},
	{name: "wrong type in list", method: "echo", body: `{"a":{"li":[1,true]}}`,
		code: generic.CodeInvalidArgument, status: 400, contains: `field "a.li[1]": want i32, got true`},
	{name: "wrong type in map value", method: "echo", body: `{"a":{"msl":{"k":"x"}}}`,
		code: generic.CodeInvalidArgument, status: 400, contains: `field "a.msl[\"k\"]": want i64, got "x"`},
	{name: "bad map key", method: "echo", body: `{"a":{"mis":{"one":"x"}}}`,
		code: generic.CodeInvalidArgument, status: 400, contains: `field "a.mis[\"one\"]": want a i32 key, got "one"`},
	{name: "out of range", method: "add", body: `{"b":2147483648}`, code: generic.CodeInvalidArgument, status: 400, contains: `field "b": 2147483648 is out of range for i32`},
	{name: "fraction for integer", method: "add", body: `{"c":1.5}`, code: generic.CodeInvalidArgument, status: 400, contains: `field "c": want i16, got the number 1.5`},
	{name: "missing required", method: "echoReq", body: `{"r":{"name":"x"}}`, code: generic.CodeInvalidArgument, status: 400, contains: `field "r.qty": missing required field`},
	{name: "union with two fields", method: "echoChoice", body: `{"c":{"s":"a","n":1}}`, code: generic.CodeInvalidArgument, status: 400, contains: `union Choice takes exactly one field, got "s" and "n"`},
	{name: "union with no field", method: "echoChoice", body: `{"c":{}}`, code: generic.CodeInvalidArgument, status: 400, contains: `union Choice takes exactly one field, got none`},
	{name: "struct map keys rejected", method: "structKeys", body: `{"m":{}}`, code: generic.CodeInvalidArgument, status: 400, contains: `maps keyed by Point cannot be written in JSON`},
	{name: "unknown enum name", method: "echoColor", body: `{"c":"PINK"}`, code: generic.CodeInvalidArgument, status: 400, contains: `want Color (one of RED, GREEN, BLUE, or a number), got "PINK"`},
	{name: "unknown field", method: "add", body: `{"q":1}`, code: generic.CodeInvalidArgument, status: 400, contains: `unknown field "q"`},
	{name: "bad base64", method: "echoBinary", body: `{"b":"!!"}`, code: generic.CodeInvalidArgument, status: 400, contains: `field "b": want base64`},
	{name: "unknown path param", method: "add", params: []generic.Param{{Name: "nope", Value: "1", Path: true}}, code: generic.CodeInvalidArgument, status: 400, contains: "names no request field"},
	{name: "unknown method is 404", method: "nope", code: generic.CodeNotFound, status: 404, contains: `method "nope" not found`},
	{name: "method the server does not serve is 501", method: "notServed", code: generic.CodeUnimplemented, status: 501},
	{name: "declared exception with fields", method: "fail", body: `{"kind":"boom","code":7}`, code: generic.CodeBackendException, status: 502,
		check: func(t *testing.T, e *generic.Error) {
			if e.Exception != "Boom" {
				t.Errorf("exception: got %q want Boom", e.Exception)
			}
			jsonEqual(t, e.Fields, `{"why":"it broke","code":7,"details":["a","b"]}`)
		}},
	{name: "declared exception from an include, mapped status", method: "fail", body: `{"kind":"notfound"}`, code: generic.CodeBackendException, status: 404,
		check: func(t *testing.T, e *generic.Error) {
			if e.Exception != "NotFound" {
				t.Errorf("exception: got %q want NotFound", e.Exception)
			}
			jsonEqual(t, e.Fields, `{"message":"no such order","id":"1152921504606846977"}`)
		}},
	{name: "handler crash is 502", method: "fail", body: `{"kind":"crash"}`, code: generic.CodeBackendError, status: 502,
		check: func(t *testing.T, e *generic.Error) {
			if strings.Contains(e.Message, "crashed") {
				t.Errorf("message leaks the backend's text: %q", e.Message)
			}
		}},
	{name: "connection still good after errors", method: "ping", body: `{"msg":"again"}`, want: `"pong:again"`},
}

func jsonEqual(t *testing.T, got []byte, want string) {
	t.Helper()
	g, err := decodeExact(got)
	if err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	w, err := decodeExact([]byte(want))
	if err != nil {
		t.Fatalf("bad want %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("got %s\nwant %s", got, want)
	}
}

// decodeExact decodes JSON keeping numbers as their text (normalised
// through float only for non-integers).
func decodeExact(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return v, nil
}

func runCase(t *testing.T, c *Client, tc tcase) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: tc.method, Body: []byte(tc.body), Params: tc.params})
	if tc.code == "" {
		if err != nil {
			t.Fatalf("got error %v want %s", err, tc.want)
		}
		jsonEqual(t, res.Body, tc.want)
		return
	}
	if err == nil {
		t.Fatalf("got %s want error %s", res.Body, tc.code)
	}
	var e *generic.Error
	if !errors.As(err, &e) {
		t.Fatalf("got %T %v want *generic.Error", err, err)
	}
	if e.Code != tc.code || e.HTTPStatus() != tc.status {
		t.Errorf("got %s/%d (%s) want %s/%d", e.Code, e.HTTPStatus(), e.Message, tc.code, tc.status)
	}
	if !strings.Contains(e.Message, tc.contains) {
		t.Errorf("message: got %q want it to contain %q", e.Message, tc.contains)
	}
	if e.Protocol != "thrift" || e.Method != tc.method || e.Service != "AllTypes" {
		t.Errorf("error location: got %s/%s/%s want thrift/AllTypes/%s", e.Protocol, e.Service, e.Method, tc.method)
	}
	if tc.check != nil {
		tc.check(t, e)
	}
}

func TestCasesOverEveryProtocolAndTransport(t *testing.T) {
	for _, cfg := range configs {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, cfg)
			c := newClient(t, s, cfg, func(o *Options) { o.ExceptionStatus = map[string]int{"NotFound": 404} })
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) { runCase(t, c, tc) })
			}
			// One connection served every case: errors that are the
			// caller's or a declared exception do not cost the connection.
			if got := s.accepted.Load(); got != 1 {
				t.Errorf("accepted connections: got %d want 1", got)
			}
		})
	}
}

func TestOnewayReturnsNoReplyAndReachesServer(t *testing.T) {
	for _, cfg := range configs {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, cfg)
			c := newClient(t, s, cfg, nil)
			res, err := c.Invoke(context.Background(), &generic.Call{Method: "fire", Body: []byte(`{"event":"launch"}`)})
			if err != nil {
				t.Fatalf("got error %v want no reply", err)
			}
			if !res.NoReply || res.Body != nil {
				t.Fatalf("got %+v want NoReply and no body", res)
			}
			select {
			case ev := <-s.h.fired:
				if ev != "launch" {
					t.Fatalf("got event %q want launch", ev)
				}
			case <-time.After(5 * time.Second):
				t.Fatal("oneway call never reached the server")
			}
			// The connection stays in step: a normal call follows.
			runCase(t, c, tcase{method: "ping", body: `{"msg":"x"}`, want: `"pong:x"`})
		})
	}
}

func TestPoolReusesConnections(t *testing.T) {
	cfg := configs[0]
	s := startServer(t, cfg)
	c := newClient(t, s, cfg, func(o *Options) { o.PoolSize = 3 })
	for i := 0; i < 20; i++ {
		runCase(t, c, tcase{method: "add", body: fmt.Sprintf(`{"a":%d}`, i), want: fmt.Sprint(i)})
	}
	if got := s.accepted.Load(); got != 1 {
		t.Fatalf("sequential calls: accepted %d connections want 1", got)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := 0; i < 40; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := c.Invoke(context.Background(), &generic.Call{Method: "add", Body: fmt.Appendf(nil, `{"a":%d,"b":1}`, i)})
			if err != nil {
				errs <- err
				return
			}
			if string(res.Body) != fmt.Sprint(i+1) {
				errs <- fmt.Errorf("got %s want %d", res.Body, i+1)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if got := s.accepted.Load(); got > 3 {
		t.Fatalf("concurrent calls: accepted %d connections want at most PoolSize 3", got)
	}
}

func TestSlowHandlerTimesOutAndConnectionIsNotReused(t *testing.T) {
	for _, cfg := range []serverConfig{configs[0], configs[3]} {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, cfg)
			c := newClient(t, s, cfg, nil)
			runCase(t, c, tcase{method: "ping", body: `{"msg":"a"}`, want: `"pong:a"`})
			ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
			defer cancel()
			_, err := c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms":2000}`)})
			if got := generic.CodeOf(err); got != generic.CodeDeadlineExceeded || generic.AsError(err).HTTPStatus() != 504 {
				t.Fatalf("got %v want DEADLINE_EXCEEDED (504)", err)
			}
			// The next call must not read the late reply of the slow one.
			runCase(t, c, tcase{method: "ping", body: `{"msg":"b"}`, want: `"pong:b"`})
			if got := s.accepted.Load(); got != 2 {
				t.Fatalf("accepted connections: got %d want 2 (the timed-out one discarded)", got)
			}
		})
	}
}

func TestFullPoolWaitsUntilTheDeadline(t *testing.T) {
	cfg := configs[0]
	s := startServer(t, cfg)
	c := newClient(t, s, cfg, func(o *Options) { o.PoolSize = 1 })
	slowDone := make(chan error, 1)
	go func() {
		_, err := c.Invoke(context.Background(), &generic.Call{Method: "slow", Body: []byte(`{"ms":300}`)})
		slowDone <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Millisecond)
	defer cancel()
	_, err := c.Invoke(ctx, &generic.Call{Method: "ping", Body: []byte(`{"msg":"x"}`)})
	if got := generic.CodeOf(err); got != generic.CodeDeadlineExceeded {
		t.Fatalf("got %v want DEADLINE_EXCEEDED while the only connection is busy", err)
	}
	if err := <-slowDone; err != nil {
		t.Fatalf("slow call: %v", err)
	}
	runCase(t, c, tcase{method: "ping", body: `{"msg":"y"}`, want: `"pong:y"`})
	if got := s.accepted.Load(); got != 1 {
		t.Fatalf("accepted connections: got %d want 1", got)
	}
}

func TestCanceledCallInterruptsAndDiscardsConnection(t *testing.T) {
	cfg := configs[0]
	s := startServer(t, cfg)
	c := newClient(t, s, cfg, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms":5000}`)})
		done <- err
	}()
	deadline := time.Now().Add(5 * time.Second)
	for s.accepted.Load() == 0 && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	cancel()
	select {
	case err := <-done:
		if got := generic.CodeOf(err); got != generic.CodeCanceled {
			t.Fatalf("got %v want CANCELLED", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("cancel did not interrupt the call")
	}
	runCase(t, c, tcase{method: "ping", body: `{"msg":"c"}`, want: `"pong:c"`})
	if got := s.accepted.Load(); got != 2 {
		t.Fatalf("accepted connections: got %d want 2", got)
	}
}

func TestDeadBackendIsUnavailable(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Dial(context.Background(), targetOf(addr))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.Invoke(context.Background(), &generic.Call{Method: "ping", Body: []byte(`{"msg":"x"}`)})
	e := generic.AsError(err)
	if e.Code != generic.CodeUnavailable || e.HTTPStatus() != 503 {
		t.Fatalf("got %v want UNAVAILABLE (503)", err)
	}
	if strings.Contains(e.Message, addr) {
		t.Fatalf("message leaks the address: %q", e.Message)
	}
}

func TestIdleConnectionClosedByServerIsNotReused(t *testing.T) {
	for _, cfg := range []serverConfig{configs[0], configs[3]} {
		t.Run(cfg.String(), func(t *testing.T) {
			s := startServer(t, cfg)
			c := newClient(t, s, cfg, nil)
			runCase(t, c, tcase{method: "ping", body: `{"msg":"a"}`, want: `"pong:a"`})
			s.cutConnections()
			// Wait until the close has reached the client's socket.
			c.pool.mu.Lock()
			idle := c.pool.idle[0]
			c.pool.mu.Unlock()
			deadline := time.Now().Add(5 * time.Second)
			for !idle.trans.peek.peerClosed() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
			runCase(t, c, tcase{method: "ping", body: `{"msg":"b"}`, want: `"pong:b"`})
			if got := s.accepted.Load(); got != 2 {
				t.Fatalf("accepted connections: got %d want 2", got)
			}
		})
	}
}

func TestIdleTimeoutClosesConnections(t *testing.T) {
	cfg := configs[0]
	s := startServer(t, cfg)
	c := newClient(t, s, cfg, func(o *Options) { o.IdleTimeout = 30 * time.Millisecond })
	runCase(t, c, tcase{method: "ping", body: `{"msg":"a"}`, want: `"pong:a"`})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		c.pool.mu.Lock()
		n := len(c.pool.idle)
		c.pool.mu.Unlock()
		if n == 0 {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	c.pool.mu.Lock()
	n := len(c.pool.idle)
	c.pool.mu.Unlock()
	if n != 0 {
		t.Fatalf("idle connections after the idle timeout: got %d want 0", n)
	}
	runCase(t, c, tcase{method: "ping", body: `{"msg":"b"}`, want: `"pong:b"`})
	if got := s.accepted.Load(); got != 2 {
		t.Fatalf("accepted connections: got %d want 2", got)
	}
}

func TestDescribeListsMethodsWithArguments(t *testing.T) {
	p, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Dial(context.Background(), targetOf("127.0.0.1:1"))
	defer c.Close()
	s, err := c.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != "AllTypes" {
		t.Errorf("name: got %q want AllTypes", s.Name)
	}
	ping := s.Method("ping")
	if ping == nil || ping.Output.Kind != generic.KindString {
		t.Fatalf("ping (inherited from Base): got %+v", ping)
	}
	fire := s.Method("fire")
	if fire == nil || !fire.Oneway || fire.Output != nil {
		t.Fatalf("fire: got %+v want oneway with no output", fire)
	}
	add := s.Method("add")
	var names []string
	for _, f := range add.Input.Fields {
		names = append(names, fmt.Sprintf("%d:%s:%s", f.Tag, f.Name, f.Type.Kind))
	}
	if got, want := strings.Join(names, " "), "1:a:int64 2:b:int32 3:c:int16 4:d:int8"; got != want {
		t.Errorf("add input: got %q want %q", got, want)
	}
	all := s.Method("echo").Input.Field("a").Type
	id := all.Field("id")
	if id.Type.Kind != generic.KindInt64 {
		t.Errorf("typedef of typedef across files: got %s want int64", id.Type.Kind)
	}
	if wd := all.Field("withDefault"); wd.Default != "42" {
		t.Errorf("default: got %q want 42", wd.Default)
	}
	if c := all.Field("colour").Type; c.Kind != generic.KindEnum || len(c.Enum) != 3 || c.Enum[2].Name != "BLUE" || c.Enum[2].Number != 5 {
		t.Errorf("enum through typedef: got %+v", c)
	}
	if req := s.Method("echoReq").Input.Field("r").Type.Field("qty"); !req.Required {
		t.Errorf("required: got %+v", req)
	}
}

func writeIDL(t *testing.T, dir, name, text string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestIDLSyntaxErrorNamesFileAndLine(t *testing.T) {
	dir := t.TempDir()
	bad := writeIDL(t, dir, "bad.thrift", "namespace go bad\n\nstruct X {\n  1: i32 a,\n  2: string b;;\n}\n")
	_, err := New(Options{IDL: bad, Service: "S"})
	if err == nil || !strings.Contains(err.Error(), bad+":5:") {
		t.Fatalf("got %v want an error naming %s:5", err, bad)
	}

	// A syntax error in an included file names that file.
	inc := writeIDL(t, dir, "inc.thrift", "struct Y {\n  1: i32\n}\n")
	main := writeIDL(t, dir, "main.thrift", "include \"inc.thrift\"\nservice S { void f() }\n")
	_, err = New(Options{IDL: main, Service: "S"})
	if err == nil || !strings.Contains(err.Error(), inc+":2:") {
		t.Fatalf("got %v want an error naming %s:2", err, inc)
	}

	// An undefined type is placed on the line that uses it.
	undef := writeIDL(t, dir, "undef.thrift", "struct A {\n  1: i32 a,\n}\n\nservice S {\n  Missing get(1: A a),\n}\n")
	_, err = New(Options{IDL: undef, Service: "S"})
	if err == nil || !strings.Contains(err.Error(), undef+":6:") || !strings.Contains(err.Error(), "Missing") {
		t.Fatalf("got %v want an error naming %s:6 and Missing", err, undef)
	}

	_, err = New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "Nope"})
	if err == nil || !strings.Contains(err.Error(), `service "Nope" not found (services: Base, AllTypes)`) {
		t.Fatalf("got %v want service not found with the list", err)
	}
	_, err = New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes", Protocol: "json"})
	if err == nil || !strings.Contains(err.Error(), `protocol "json"`) {
		t.Fatalf("got %v want protocol error", err)
	}
}
