package tars_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/stock"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
)

const testIDL = "../../testdata/tars/Test.tars"

func startEcho(t testing.TB) *stock.Server {
	t.Helper()
	s, err := stock.Serve("127.0.0.1:0", echoServer{})
	if err != nil {
		t.Fatalf("start servant: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

func newClient(t testing.TB, addr string, version, conns int) generic.Client {
	t.Helper()
	p, err := tars.New(tars.Options{IDL: testIDL, Servant: echoServant, Interface: "Test.Echo", Version: version, Conns: conns})
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	if p.Name() != "tars" {
		t.Fatalf("Name() = %q, want tars", p.Name())
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: addr})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func invoke(c generic.Client, method, body string, meta map[string]string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: method, Body: []byte(body), Meta: meta})
	if err != nil {
		return "", err
	}
	return string(res.Body), nil
}

// jsonEqual compares JSON semantically, keeping numbers exact.
func jsonEqual(t *testing.T, got, want string) {
	t.Helper()
	norm := func(s string) any {
		d := json.NewDecoder(strings.NewReader(s))
		d.UseNumber()
		var v any
		if err := d.Decode(&v); err != nil {
			t.Fatalf("invalid JSON %s: %v", s, err)
		}
		return v
	}
	if !reflect.DeepEqual(norm(got), norm(want)) {
		t.Fatalf("got %s\nwant %s", got, want)
	}
}

const allIn = `{"a":{
 "b":true,"by":-128,"sh":-32768,"i":-2147483648,"l":"9007199254740993","f":1.5,"d":-2.25,
 "s":"h\u00e9llo \"q\" \n","ub":255,"us":65535,"ui":4294967295,
 "bin":"AAEC/w==","ints":[1,-2,300000],"strs":["x",""],
 "smap":{"k":1},"imap":{"1":"one","-2":"minus two"},
 "lmap":{"9007199254740993":{"x":"-9007199254740993","color":"BLUE"}},
 "color":6,
 "inner":{"name":"in","points":[{"x":1},{"x":2,"y":3,"label":"p","color":"RED","limit":4}]},
 "inners":[{"name":"a"},{"name":"b","points":[]}],
 "grid":[[1,2],[],[3]]}}`

const allOut = `{"return":{
 "b":true,"by":-128,"sh":-32768,"i":-2147483648,"l":"9007199254740993","f":1.5,"d":-2.25,
 "s":"h\u00e9llo \"q\" \n","ub":255,"us":65535,"ui":4294967295,
 "bin":"AAEC/w==","ints":[1,-2,300000],"strs":["x",""],
 "smap":{"k":1},"imap":{"1":"one","-2":"minus two"},
 "lmap":{"9007199254740993":{"x":"-9007199254740993","y":7,"label":"origin","color":"BLUE","limit":10}},
 "color":"BLUE",
 "inner":{"name":"in","points":[{"x":1,"y":7,"label":"origin","color":"GREEN","limit":10},{"x":2,"y":3,"label":"p","color":"RED","limit":4}]},
 "inners":[{"name":"a","points":[]},{"name":"b","points":[]}],
 "grid":[[1,2],[],[3]]}}`

const allEmptyOut = `{"return":{
 "b":false,"by":0,"sh":0,"i":0,"l":0,"f":0,"d":0,"s":"","ub":0,"us":0,"ui":0,"bin":"","ints":[],"strs":[],
 "smap":{},"imap":{},"lmap":{},"color":"RED","inner":{"name":"","points":[]},"inners":[],"grid":[]}}`

func TestTarsAgainstTarsGoServant(t *testing.T) {
	srv := startEcho(t)
	for _, version := range []int{1, 3} {
		t.Run(fmt.Sprintf("iVersion%d", version), func(t *testing.T) {
			c := newClient(t, srv.Addr(), version, 2)
			ok := []struct {
				name, method, body, want string
				meta                     map[string]string
			}{
				{"EveryTypeRoundTrips", "echoAll", allIn, allOut, nil},
				{"EmptyStructGetsZeroValues", "echoAll", `{"a":{}}`, allEmptyOut, nil},
				{"MissingArgumentIsZero", "echoAll", `{}`, allEmptyOut, nil},
				{"LongAbove2p53AsNumber", "echoLong", `{"v":9223372036854775807}`, `{"return":"9223372036854775807"}`, nil},
				{"LongAbove2p53AsString", "echoLong", `{"v":"-9223372036854775808"}`, `{"return":"-9223372036854775808"}`, nil},
				{"LongSmallStaysNumber", "echoLong", `{"v":5}`, `{"return":5}`, nil},
				{"LongExponentWholeNumber", "echoLong", `{"v":1e3}`, `{"return":1000}`, nil},
				{"OutParameters", "split", `{"v":4294967298}`, `{"return":298,"hi":1,"lo":2}`, nil},
				{"VoidHasNoReturn", "ping", `{}`, `{}`, nil},
				{"EmptyBodyIsEmptyObject", "ping", ``, `{}`, nil},
				{"ReplyDefaultsFilledFromIDL", "makePoint", `{"x":3}`, `{"return":{"x":3,"y":7,"label":"origin","color":"GREEN","limit":10}}`, nil},
				{"RequestDefaultsFilledFromIDL", "echoPoint", `{"p":{"x":1,"color":6}}`, `{"return":{"x":1,"y":7,"label":"origin","color":"BLUE","limit":10}}`, nil},
				{"EnumByName", "nextColor", `{"c":"RED"}`, `{"return":"GREEN"}`, nil},
				{"EnumByNumber", "nextColor", `{"c":6}`, `{"return":"RED"}`, nil},
				{"EnumByNumericString", "nextColor", `{"c":"5"}`, `{"return":"BLUE"}`, nil},
				{"EnumUnknownNumberOut", "nextColor", `{"c":42}`, `{"return":42}`, nil},
				{"ContextForwarded", "context", `{"key":"x-user-id"}`, `{"return":"u-17"}`, map[string]string{"x-user-id": "u-17"}},
				{"BytesBase64", "reverse", `{"data":"AQID"}`, `{"return":"AwIB"}`, nil},
				{"TwoArguments", "add", `{"b":40,"a":2}`, `{"return":42}`, nil},
			}
			for _, tc := range ok {
				t.Run(tc.name, func(t *testing.T) {
					got, err := invoke(c, tc.method, tc.body, tc.meta)
					if err != nil {
						t.Fatalf("%s(%s): got error %v, want %s", tc.method, tc.body, err, tc.want)
					}
					jsonEqual(t, got, tc.want)
				})
			}

			bad := []struct {
				name, method, body string
				code               generic.Code
				backend            int
				msg                string
			}{
				{"UnknownMethod", "nope", `{}`, generic.CodeNotFound, 0, `"nope"`},
				{"ServerHasNoSuchFunction", "missing", `{}`, generic.CodeNotFound, -3, "no function missing"},
				{"ServerDecodeError", "fail", `{"code":-1}`, generic.CodeInvalidArgument, -1, "failed on purpose"},
				{"ServerOtherError", "fail", `{"code":77}`, generic.CodeBackendError, 77, "failed on purpose"},
				{"WrongTypeNamesArgument", "add", `{"a":"x","b":1}`, generic.CodeInvalidArgument, 0, `argument "a"`},
				{"OutOfRange", "add", `{"a":2147483648}`, generic.CodeInvalidArgument, 0, "out of range"},
				{"WrongTypeNamesNestedField", "echoAll", `{"a":{"inner":{"name":"n","points":[{"x":"zz"}]}}}`, generic.CodeInvalidArgument, 0, `"a.inner.points[0].x"`},
				{"MissingRequireField", "echoPoint", `{"p":{"y":1}}`, generic.CodeInvalidArgument, 0, `"p.x"`},
				{"UnknownArgument", "add", `{"a":1,"c":2}`, generic.CodeInvalidArgument, 0, `"c"`},
				{"UnknownField", "echoPoint", `{"p":{"x":1,"z":2}}`, generic.CodeInvalidArgument, 0, `"z"`},
				{"UnknownEnumName", "nextColor", `{"c":"PURPLE"}`, generic.CodeInvalidArgument, 0, "PURPLE"},
				{"BadBase64", "reverse", `{"data":"%%%"}`, generic.CodeInvalidArgument, 0, `argument "data"`},
				{"BadMapKey", "echoAll", `{"a":{"imap":{"x":"y"}}}`, generic.CodeInvalidArgument, 0, `"a.imap[\"x\"]"`},
				{"BodyNotObject", "add", `[1,2]`, generic.CodeInvalidArgument, 0, "JSON object"},
				{"MalformedJSON", "add", `{"a":1`, generic.CodeInvalidArgument, 0, "invalid JSON at offset 6: unexpected end of input"},
			}
			for _, tc := range bad {
				t.Run(tc.name, func(t *testing.T) {
					got, err := invoke(c, tc.method, tc.body, nil)
					if err == nil {
						t.Fatalf("%s(%s): got %s, want error %s", tc.method, tc.body, got, tc.code)
					}
					e := generic.AsError(err)
					if e.Code != tc.code || e.BackendCode != tc.backend || !strings.Contains(e.Message, tc.msg) {
						t.Fatalf("got %s (backend %d) %q, want %s (backend %d) containing %q", e.Code, e.BackendCode, e.Message, tc.code, tc.backend, tc.msg)
					}
				})
			}

			t.Run("NoSuchServant", func(t *testing.T) {
				_, err := c.Invoke(context.Background(), &generic.Call{Service: "Wrong.Server.Obj", Method: "ping"})
				if e := generic.AsError(err); e == nil || e.Code != generic.CodeNotFound || e.BackendCode != -4 {
					t.Fatalf("got %v, want NOT_FOUND with backend code -4", err)
				}
			})

			t.Run("PathAndQueryParamsBind", func(t *testing.T) {
				res, err := c.Invoke(context.Background(), &generic.Call{Method: "add", Body: []byte(`{"a":1}`),
					Params: []generic.Param{{Name: "a", Value: "20", Path: true}, {Name: "b", Value: "22"}}})
				if err != nil {
					t.Fatalf("got error %v, want 42", err)
				}
				jsonEqual(t, string(res.Body), `{"return":42}`)
			})

			t.Run("TimeoutSentFromDeadline", func(t *testing.T) {
				got, err := invoke(c, "slow", `{"ms":0}`, nil) // 5s deadline
				if err != nil {
					t.Fatal(err)
				}
				var out struct{ Return string }
				_ = json.Unmarshal([]byte(got), &out)
				var ms int
				fmt.Sscan(out.Return, &ms)
				if ms < 4000 || ms > 5000 {
					t.Fatalf("got iTimeout %q, want 4000..5000 ms", out.Return)
				}
			})

			t.Run("ConcurrentCallsMatchedByRequestID", func(t *testing.T) {
				one := newClient(t, srv.Addr(), version, 1)
				var wg sync.WaitGroup
				errs := make(chan error, 200)
				for i := 0; i < 200; i++ {
					wg.Add(1)
					go func(i int) {
						defer wg.Done()
						v := int64(i)*1_000_000_007 + 1<<53
						got, err := invoke(one, "echoLong", fmt.Sprintf(`{"v":"%d"}`, v), nil)
						want := string(generic.AppendInt([]byte(`{"return":`), v)) + "}"
						if err != nil || got != want {
							errs <- fmt.Errorf("call %d: got %s, %v want %s", i, got, err, want)
						}
					}(i)
				}
				wg.Wait()
				close(errs)
				for err := range errs {
					t.Error(err)
				}
			})

			t.Run("SlowCallTimesOutFastCallSucceeds", func(t *testing.T) {
				one := newClient(t, srv.Addr(), version, 1)
				slowDone := make(chan error, 1)
				go func() {
					ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
					defer cancel()
					_, err := one.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms":1000}`)})
					slowDone <- err
				}()
				got, err := invoke(one, "add", `{"a":1,"b":2}`, nil)
				if err != nil {
					t.Fatalf("fast call: got error %v, want a reply", err)
				}
				jsonEqual(t, got, `{"return":3}`)
				select {
				case err := <-slowDone:
					if generic.CodeOf(err) != generic.CodeDeadlineExceeded {
						t.Fatalf("slow call: got %v, want DEADLINE_EXCEEDED", err)
					}
				case <-time.After(3 * time.Second):
					t.Fatal("slow call did not time out")
				}
				// The connection survives the timeout.
				got, err = invoke(one, "add", `{"a":2,"b":2}`, nil)
				if err != nil {
					t.Fatalf("call after timeout: got error %v, want a reply", err)
				}
				jsonEqual(t, got, `{"return":4}`)
			})
		})
	}
}

func TestUnreachableIsUnavailable(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	c := newClient(t, addr, 1, 2)
	_, err = invoke(c, "ping", `{}`, nil)
	if generic.CodeOf(err) != generic.CodeUnavailable {
		t.Fatalf("got %v, want UNAVAILABLE", err)
	}
}

// TestBrokenConnectionFailsPendingAndRedials uses a bare TCP listener that
// accepts a request and then drops the connection.
func TestBrokenConnectionFailsPendingAndRedials(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan struct{}, 10)
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			accepted <- struct{}{}
			go func() {
				buf := make([]byte, 4)
				_, _ = nc.Read(buf)
				nc.Close()
			}()
		}
	}()
	c := newClient(t, ln.Addr().String(), 1, 1)
	for i := 0; i < 2; i++ {
		_, err := invoke(c, "ping", `{}`, nil)
		if generic.CodeOf(err) != generic.CodeUnavailable {
			t.Fatalf("call %d: got %v, want UNAVAILABLE", i, err)
		}
		select {
		case <-accepted:
		case <-time.After(3 * time.Second):
			t.Fatalf("call %d: no connection was dialled", i)
		}
	}
}

func TestDescribeListsArgumentsAndOutParams(t *testing.T) {
	p, err := tars.New(tars.Options{IDL: testIDL, Servant: echoServant, Interface: "Echo"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Dial(context.Background(), generic.Target{Address: "127.0.0.1:1"})
	s, err := c.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m := s.Method("split")
	if m == nil {
		t.Fatalf("got no method split, want one")
	}
	var got []string
	for _, f := range m.Input.Fields {
		got = append(got, fmt.Sprintf("%s:%s:%d:%v", f.Name, f.Type.Kind, f.Tag, f.Out))
	}
	want := []string{"v:int64:1:false", "hi:int32:2:true", "lo:int32:3:true"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	pt := s.Method("echoPoint").Input.Field("p").Type
	if pt.Name != "Common::Point" || pt.Field("y").Default != "7" || !pt.Field("x").Required || pt.Field("color").Type.Kind != generic.KindEnum {
		t.Fatalf("got Point schema %+v, want Common::Point with x required, y default 7, color enum", pt)
	}
	if s.Method("ping").Output.Field("return") != nil {
		t.Fatalf("void method ping: got a return field, want none")
	}
}

func TestNewReportsIDLErrorsWithPosition(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/bad.tars"
	if err := writeFile(path, "module M {\n  struct S {\n    0 require int x\n  };\n};\n"); err != nil {
		t.Fatal(err)
	}
	_, err := tars.New(tars.Options{IDL: path, Servant: "A.B.C"})
	if err == nil || !strings.Contains(err.Error(), "bad.tars:4:3: want \";\"") {
		t.Fatalf("got %v, want bad.tars:4:3: want \";\" ...", err)
	}
}

func TestStockSample(t *testing.T) {
	s, err := stock.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Stop()
	p, err := tars.New(tars.Options{IDL: "../../examples/stock/Stock.tars", Servant: stock.Servant, Interface: "Stock"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := p.Dial(context.Background(), generic.Target{Address: s.Addr()})
	defer c.Close()
	got, err := invoke(c, "listQuotes", `{"codes":["00700","nope"]}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	jsonEqual(t, got, `{"return":1,"quotes":[{"code":"00700","name":"Tencent","price":318.4,"volume":18800000,"market":"HK"}]}`)
}

func writeFile(path, s string) error {
	return os.WriteFile(path, []byte(s), 0o644)
}

// BenchmarkInvoke measures whole calls (JSON in, TCP round trip to the
// TarsGo servant, JSON out) over two connections.
func BenchmarkInvoke(b *testing.B) {
	srv := startEcho(b)
	for _, bc := range []struct{ name, method, body string }{
		{"add", "add", `{"a":1,"b":2}`},
		{"echoAll", "echoAll", allIn},
	} {
		b.Run(bc.name, func(b *testing.B) {
			c := newClient(b, srv.Addr(), 1, 2)
			call := &generic.Call{Method: bc.method, Body: []byte(bc.body)}
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := c.Invoke(context.Background(), call); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}

// TestOnewayCallsAreSentAndNotAwaited: a method named in Oneway reaches
// the servant as a TARSONEWAY packet, the call returns NoReply at once
// (the servant sends nothing back), and a normal call on the same
// connection still gets its reply. A name the interface lacks is refused.
func TestOnewayCallsAreSentAndNotAwaited(t *testing.T) {
	seen := make(chan seenCall, 4)
	s, err := stock.Serve("127.0.0.1:0", echoServer{seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	for _, version := range []int{1, 3} {
		p, err := tars.New(tars.Options{IDL: testIDL, Servant: echoServant, Interface: "Test.Echo", Version: version, Conns: 1,
			Oneway: []string{"ping"}})
		if err != nil {
			t.Fatal(err)
		}
		if m := p.Schema().Method("ping"); m == nil || !m.Oneway {
			t.Fatalf("version %d: the schema's ping is not one-way", version)
		}
		c, err := p.Dial(context.Background(), generic.Target{Address: s.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := c.Invoke(ctx, &generic.Call{Method: "ping"})
		if err != nil || !res.NoReply || res.Body != nil {
			t.Fatalf("version %d: got %+v %v, want NoReply", version, res, err)
		}
		select {
		case got := <-seen:
			if got != (seenCall{"ping", 1}) {
				t.Fatalf("version %d: the servant got %+v, want ping with packet type 1 (one-way)", version, got)
			}
		case <-ctx.Done():
			t.Fatalf("version %d: the one-way call never reached the servant", version)
		}
		out, err := invoke(c, "echoLong", `{"v":"9007199254740993"}`, nil)
		if err != nil || out != `{"return":"9007199254740993"}` {
			t.Fatalf("version %d: after a one-way call: got %s %v", version, out, err)
		}
		if got := <-seen; got != (seenCall{"echoLong", 0}) {
			t.Fatalf("version %d: the servant got %+v, want echoLong with packet type 0", version, got)
		}
		cancel()
		c.Close()
	}
	if _, err := tars.New(tars.Options{IDL: testIDL, Servant: echoServant, Interface: "Test.Echo", Oneway: []string{"nope"}}); err == nil ||
		!strings.Contains(err.Error(), `no method "nope"`) {
		t.Fatalf("unknown one-way method: got %v, want an error naming it", err)
	}
}

// TestReplyContextBecomesResultMeta: the context a servant puts on its
// reply comes back as the result's metadata (response headers), in the
// Tars protocol and in TUP.
func TestReplyContextBecomesResultMeta(t *testing.T) {
	s := startEcho(t)
	for _, version := range []int{1, 3} {
		c := newClient(t, s.Addr(), version, 1)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := c.Invoke(ctx, &generic.Call{Method: "context", Body: []byte(`{"key":"x-user-id"}`),
			Meta: map[string]string{"x-user-id": "u-17"}})
		cancel()
		if err != nil {
			t.Fatalf("version %d: %v", version, err)
		}
		if got := res.Meta["x-echo-x-user-id"]; got != "u-17" || len(res.Meta) != 1 {
			t.Fatalf("version %d: got meta %v, want x-echo-x-user-id: u-17", version, res.Meta)
		}
	}
}
