package dubbo_test

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// mainAddr is the in-process provider: TypesService version 1.0.0
// ("main"), group "other" version 2.0.0 ("other"), version 2.0.0 ("v2").
var mainAddr string

func TestMain(m *testing.M) {
	dubbo.QuietLibraryLogs()
	if testprovider.RunChildIfAsked() {
		return
	}
	// The provider runs in a process of its own: the package's client
	// closes its connections when a client closes, and dubbo-getty's
	// server races with itself (session.go:857 against :411) when a
	// connection it wrote on closes; in this process -race would report
	// it.
	childAddr, err := testprovider.StartProcess("dubbo main")
	if err != nil {
		fmt.Fprintln(os.Stderr, "start provider process:", err)
		os.Exit(1)
	}
	flag.Parse()
	childMainAddr, mainAddr = childAddr, childAddr
	// The provider's Java types, registered with hessian2 in this process
	// as a provider here would register them: dubbo-go's client, the
	// differential tests' reference, then reads enums as their names.
	testprovider.Register()
	os.Exit(m.Run())
}

// childMainAddr is the main provider's services in a process of their
// own.
var childMainAddr string

func p(name, typ string) dubbo.Param { return dubbo.Param{Name: name, Type: typ} }

// methods is the YAML-equivalent configuration of TypesService.
func methods() map[string]dubbo.Method {
	one := func(name, typ string) dubbo.Method { return dubbo.Method{Params: []dubbo.Param{p(name, typ)}} }
	return map[string]dubbo.Method{
		"who":            {},
		"ping":           {},
		"echoLong":       one("v", "long"),
		"echoInt":        one("v", "java.lang.Integer"),
		"echoShort":      one("v", "short"),
		"echoByte":       one("v", "byte"),
		"echoFloat":      one("v", "float"),
		"echoDouble":     one("v", "java.lang.Double"),
		"echoBool":       one("v", "boolean"),
		"echoString":     one("v", "java.lang.String"),
		"echoDecimal":    one("v", "java.math.BigDecimal"),
		"echoBigInteger": one("v", "java.math.BigInteger"),
		"echoDate":       one("v", "java.util.Date"),
		"echoColor":      one("v", "org.rpcbridge.test.Color"),
		"echoList":       one("v", "java.util.List<java.lang.Long>"),
		"makeMap":        one("n", "long"),
		"echoObject":     one("v", "java.lang.Object"),
		"sumInts":        one("v", "int[]"),
		"join":           {Params: []dubbo.Param{p("v", "[Ljava.lang.String;"), p("sep", "java.lang.String")}},
		"createUser":     one("user", "org.rpcbridge.test.User"),
		"fail":           one("id", "long"),
		"failApache":     one("id", "long"),
		"slow":           one("ms", "long"),
		"attachment":     one("key", "java.lang.String"),
		"find":           one("id", "long"),
		"tagged":         one("fail", "boolean"),
	}
}

func newProtocol(t testing.TB, mod func(*dubbo.Options)) *dubbo.Protocol {
	t.Helper()
	o := dubbo.Options{
		Interface: testprovider.Interface,
		Version:   "1.0.0",
		Methods:   methods(),
		Overloads: map[string][]dubbo.Method{"find": {{Params: []dubbo.Param{p("name", "java.lang.String")}}}},
	}
	if mod != nil {
		mod(&o)
	}
	pr, err := dubbo.New(o)
	if err != nil {
		t.Fatal(err)
	}
	return pr
}

func dial(t testing.TB, pr *dubbo.Protocol, addr string) generic.Client {
	t.Helper()
	c, err := pr.Dial(context.Background(), generic.Target{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// sharedClient is one client for the main provider, shared by tests as
// the gateway shares it.
var (
	sharedOnce sync.Once
	shared     generic.Client
)

func mainClient(t testing.TB) generic.Client {
	sharedOnce.Do(func() {
		pr, err := dubbo.New(dubbo.Options{
			Interface:       testprovider.Interface,
			Version:         "1.0.0",
			Methods:         methods(),
			Overloads:       map[string][]dubbo.Method{"find": {{Params: []dubbo.Param{p("name", "java.lang.String")}}}},
			ExceptionStatus: map[string]int{"java.lang.IllegalArgumentException": 400},
		})
		if err != nil {
			panic(err)
		}
		shared, err = pr.Dial(context.Background(), generic.Target{Address: mainAddr})
		if err != nil {
			panic(err)
		}
	})
	return shared
}

func invoke(t testing.TB, c generic.Client, method, body string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: method, Body: []byte(body)})
	if err != nil {
		return "", err
	}
	return string(res.Body), nil
}

func jsonEqual(t testing.TB, got, want string) bool {
	t.Helper()
	var g, w any
	if err := json.Unmarshal([]byte(got), &g); err != nil {
		t.Errorf("reply is not JSON: %q", got)
		return false
	}
	if err := json.Unmarshal([]byte(want), &w); err != nil {
		t.Fatalf("bad want %q", want)
	}
	return reflect.DeepEqual(g, w)
}

func TestTypesRoundTrip(t *testing.T) {
	c := mainClient(t)
	cases := []struct {
		method, body, want string
	}{
		{"ping", ``, `"pong"`},
		{"ping", `{}`, `"pong"`},
		{"who", `{}`, `"main"`},
		{"echoLong", `{"v": 42}`, `42`},
		{"echoLong", `{"v": "-7"}`, `-7`},
		{"echoLong", `{"v": 9007199254740993}`, `"9007199254740993"`},
		{"echoLong", `{"v": "9223372036854775807"}`, `"9223372036854775807"`},
		{"echoLong", `{"arg0": 5}`, `5`},
		{"echoLong", `12`, `12`},
		{"echoInt", `{"v": 2147483647}`, `2147483647`},
		{"echoShort", `{"v": -300}`, `-300`},
		{"echoByte", `{"v": 127}`, `127`},
		{"echoFloat", `{"v": 1.5}`, `1.5`},
		{"echoDouble", `{"v": 3.141592653589793}`, `3.141592653589793`},
		{"echoBool", `{"v": true}`, `true`},
		{"echoString", `{"v": "héllo \"w\""}`, `"héllo \"w\""`},
		{"echoDecimal", `{"v": "12345678901234567890.123456789"}`, `"12345678901234567890.123456789"`},
		{"echoDecimal", `{"v": 0.1}`, `"0.1"`},
		{"echoBigInteger", `{"v": "123456789012345678901234567890"}`, `"123456789012345678901234567890"`},
		{"echoDate", `{"v": "2024-05-06T07:08:09.123Z"}`, `"2024-05-06T07:08:09.123Z"`},
		{"echoDate", `{"v": "2024-05-06T09:08:09.123+02:00"}`, `"2024-05-06T07:08:09.123Z"`},
		{"echoDate", `{"v": 1714979289123}`, `"2024-05-06T07:08:09.123Z"`},
		{"echoColor", `{"v": "GREEN"}`, `"GREEN"`},
		{"echoList", `{"v": [1, "9007199254740993"]}`, `[1, "9007199254740993"]`},
		{"makeMap", `{"n": 3}`, `{"n": 3, "big": "1152921504606846976", "nested": {"list": [1, "two", true], "none": null}}`},
		{"echoObject", `{"v": [1, "two", 2.5, false]}`, `[1, "two", 2.5, false]`},
		{"echoObject", `{"v": 7}`, `7`},
		{"sumInts", `{"v": [1, 2, 3, 2147483647]}`, `2147483653`},
		{"join", `{"v": ["a", "b", "c"], "sep": "-"}`, `"a-b-c"`},
		{"createUser", `{"user": {"name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}}`,
			`{"id": 1030, "name": "ann", "age": 30, "tags": ["x", "y"], "address": {"city": "Oslo", "zip": "0150"}}`},
		// A single POJO argument may be the whole body.
		{"createUser", `{"name": "bo", "age": 5, "tags": [], "address": null}`,
			`{"id": 1005, "name": "bo", "age": 5, "tags": [], "address": null}`},
		// Overloads: chosen by names, then by which conversion succeeds.
		{"find", `{"id": 42}`, `"long:42"`},
		{"find", `{"name": "bob"}`, `"string:bob"`},
		{"find", `{"arg0": "bob"}`, `"string:bob"`},
		{"find", `{"arg0": 43}`, `"long:43"`},
	}
	for _, tc := range cases {
		t.Run(tc.method+" "+tc.body, func(t *testing.T) {
			got, err := invoke(t, c, tc.method, tc.body)
			if err != nil {
				t.Fatalf("got error %v, want %s", err, tc.want)
			}
			if !jsonEqual(t, got, tc.want) {
				t.Errorf("got %s want %s", got, tc.want)
			}
		})
	}
}

func TestKeepClassWritesPOJOClass(t *testing.T) {
	c := dial(t, newProtocol(t, func(o *dubbo.Options) { o.KeepClass = true }), mainAddr)
	got, err := invoke(t, c, "createUser", `{"user": {"name": "ann", "age": 1, "address": {"city": "Oslo"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"class": "org.rpcbridge.test.User", "id": 1001, "name": "ann", "age": 1, "tags": [],
		"address": {"class": "org.rpcbridge.test.Address", "city": "Oslo", "zip": ""}}`
	if !jsonEqual(t, got, want) {
		t.Errorf("got %s want %s", got, want)
	}
}

func TestAdHocTypesWithoutConfiguration(t *testing.T) {
	c := dial(t, newProtocol(t, func(o *dubbo.Options) { o.Methods = nil; o.Overloads = nil }), mainAddr)
	cases := []struct{ method, body, want string }{
		{"echoLong", `{"types": ["java.lang.Long"], "args": [9007199254740993]}`, `"9007199254740993"`},
		{"join", `{"types": ["java.lang.String[]", "java.lang.String"], "args": [["p", "q"], "+"]}`, `"p+q"`},
		{"ping", ``, `"pong"`},
	}
	for _, tc := range cases {
		got, err := invoke(t, c, tc.method, tc.body)
		if err != nil {
			t.Fatalf("%s: got error %v, want %s", tc.method, err, tc.want)
		}
		if !jsonEqual(t, got, tc.want) {
			t.Errorf("%s: got %s want %s", tc.method, got, tc.want)
		}
	}
	_, err := invoke(t, c, "echoLong", `{"v": 1}`)
	if generic.CodeOf(err) != generic.CodeInvalidArgument || !strings.Contains(err.Error(), `"types"`) {
		t.Errorf("untyped call: got %v, want INVALID_ARGUMENT asking for types", err)
	}
}

func TestTypesForIsConsultedWhenYAMLHasNone(t *testing.T) {
	data, err := os.ReadFile("../../testdata/dubbo/TypesService.definition.json")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := dubbo.ParseServiceDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	c := dial(t, newProtocol(t, func(o *dubbo.Options) {
		o.Methods = nil
		o.Overloads = nil
		o.TypesFor = func(m string) []dubbo.Method { return defs[m] }
	}), mainAddr)
	for _, tc := range []struct{ method, body, want string }{
		{"sumInts", `{"arg0": [4, 5]}`, `9`},
		{"join", `{"arg0": ["a", "b"], "arg1": ","}`, `"a,b"`},
		{"find", `{"arg0": "zed"}`, `"string:zed"`},
		{"find", `{"arg0": 8}`, `"long:8"`},
	} {
		got, err := invoke(t, c, tc.method, tc.body)
		if err != nil {
			t.Fatalf("%s: got error %v, want %s", tc.method, err, tc.want)
		}
		if !jsonEqual(t, got, tc.want) {
			t.Errorf("%s: got %s want %s", tc.method, got, tc.want)
		}
	}
}

func TestParseServiceDefinition(t *testing.T) {
	data, err := os.ReadFile("../../testdata/dubbo/TypesService.definition.json")
	if err != nil {
		t.Fatal(err)
	}
	defs, err := dubbo.ParseServiceDefinition(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]dubbo.Method{
		"echoLong":   {{Params: []dubbo.Param{p("arg0", "long")}, Returns: "long"}},
		"ping":       {{Params: []dubbo.Param{}, Returns: "java.lang.String"}},
		"sumInts":    {{Params: []dubbo.Param{p("arg0", "int[]")}, Returns: "long"}},
		"join":       {{Params: []dubbo.Param{p("arg0", "java.lang.String[]"), p("arg1", "java.lang.String")}, Returns: "java.lang.String"}},
		"createUser": {{Params: []dubbo.Param{p("arg0", "org.rpcbridge.test.User")}, Returns: "org.rpcbridge.test.User"}},
		"find": {
			{Params: []dubbo.Param{p("arg0", "long")}, Returns: "java.lang.String"},
			{Params: []dubbo.Param{p("arg0", "java.lang.String")}, Returns: "java.lang.String"},
		},
	}
	if !reflect.DeepEqual(defs, want) {
		t.Errorf("got %+v\nwant %+v", defs, want)
	}
	for _, bad := range []string{`{`, `{"methods": [{"parameterTypes": []}]}`, `{"canonicalName": "x"}`} {
		if _, err := dubbo.ParseServiceDefinition([]byte(bad)); err == nil {
			t.Errorf("ParseServiceDefinition(%s): got no error, want one", bad)
		}
	}
}

func TestBadArgumentsAreInvalidArgument(t *testing.T) {
	c := mainClient(t)
	cases := []struct {
		method, body string
		wants        []string
	}{
		{"echoInt", `{"v": 2147483648}`, []string{`"v"`, "java.lang.Integer", "2147483648"}},
		{"echoLong", `{"v": "abc"}`, []string{`"v"`, "long", `"abc"`}},
		{"echoLong", `{"v": 1.5}`, []string{`"v"`, "long", "1.5"}},
		{"echoLong", `{}`, []string{`"v"`, "long", "missing"}},
		{"echoByte", `{"v": 128}`, []string{`"v"`, "byte", "128"}},
		{"echoBool", `{"v": "yes"}`, []string{`"v"`, "boolean", `"yes"`}},
		{"echoDate", `{"v": "yesterday"}`, []string{`"v"`, "java.util.Date", `"yesterday"`}},
		{"echoDecimal", `{"v": "1,5"}`, []string{`"v"`, "java.math.BigDecimal", `"1,5"`}},
		{"sumInts", `{"v": [1, "x"]}`, []string{`"v[1]"`, "int", `"x"`}},
		{"createUser", `{"user": 5}`, []string{`"user"`, "org.rpcbridge.test.User", "5"}},
		{"echoList", `{"v": {"a": 1}}`, []string{`"v"`, "java.util.List", `{"a": 1}`}},
		{"ping", `{"x": 1}`, []string{"no arguments", "x"}},
		{"echoLong", `{"v": `, []string{"not valid JSON"}},
	}
	for _, tc := range cases {
		_, err := invoke(t, c, tc.method, tc.body)
		ge := generic.AsError(err)
		if err == nil || ge.Code != generic.CodeInvalidArgument || ge.HTTPStatus() != 400 {
			t.Errorf("%s %s: got %v, want INVALID_ARGUMENT (400)", tc.method, tc.body, err)
			continue
		}
		for _, w := range tc.wants {
			if !strings.Contains(ge.Message, w) {
				t.Errorf("%s %s: message %q does not contain %q", tc.method, tc.body, ge.Message, w)
			}
		}
	}
}

func TestPathAndQueryParamsBindByDeclaredType(t *testing.T) {
	c := mainClient(t)
	res, err := c.Invoke(context.Background(), &generic.Call{Method: "join", Body: []byte(`{"v": ["a", "b"]}`),
		Params: []generic.Param{{Name: "sep", Value: "::", Path: true}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Body); got != `"a::b"` {
		t.Errorf("got %s want %q", got, `"a::b"`)
	}
	res, err = c.Invoke(context.Background(), &generic.Call{Method: "echoLong",
		Params: []generic.Param{{Name: "v", Value: "9007199254740993", Path: true}, {Name: "unknown", Value: "x"}}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Body); got != `"9007199254740993"` {
		t.Errorf("got %s want %s", got, `"9007199254740993"`)
	}
	_, err = c.Invoke(context.Background(), &generic.Call{Method: "echoLong",
		Params: []generic.Param{{Name: "nope", Value: "1", Path: true}}})
	if generic.CodeOf(err) != generic.CodeInvalidArgument {
		t.Errorf("unknown path param: got %v, want INVALID_ARGUMENT", err)
	}
}

func TestJavaExceptionsBecomeBackendException(t *testing.T) {
	c := mainClient(t)
	cases := []struct {
		method, class, msg string
		status             int
	}{
		// dubbo-go providers send com.alibaba.dubbo.rpc.service.GenericException.
		{"fail", "org.rpcbridge.test.UserNotFoundException", "user 7 not found", 502},
		// Java Dubbo 3 providers send org.apache.dubbo.rpc.service.GenericException.
		{"failApache", "java.lang.IllegalArgumentException", "bad id 7", 400},
	}
	for _, tc := range cases {
		_, err := invoke(t, c, tc.method, `{"id": 7}`)
		ge := generic.AsError(err)
		if err == nil || ge.Code != generic.CodeBackendException {
			t.Fatalf("%s: got %v, want BACKEND_EXCEPTION", tc.method, err)
		}
		if ge.Exception != tc.class || ge.Message != tc.msg || ge.HTTPStatus() != tc.status {
			t.Errorf("%s: got exception %q message %q status %d, want %q %q %d",
				tc.method, ge.Exception, ge.Message, ge.HTTPStatus(), tc.class, tc.msg, tc.status)
		}
		if ge.Protocol != "dubbo" || ge.Service != testprovider.Interface || ge.Method != tc.method {
			t.Errorf("%s: got protocol %q service %q method %q", tc.method, ge.Protocol, ge.Service, ge.Method)
		}
	}
	// The connection survives exceptions.
	if got, err := invoke(t, c, "echoLong", `{"v": 3}`); err != nil || got != "3" {
		t.Errorf("after exceptions: got %s, %v want 3", got, err)
	}
}

func TestAttachmentsCarryCallMeta(t *testing.T) {
	c := mainClient(t)
	res, err := c.Invoke(context.Background(), &generic.Call{Method: "attachment", Body: []byte(`{"key": "x-request-id"}`),
		Meta: map[string]string{"x-request-id": "req-123", "x-user-id": "u1"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(res.Body); got != `"req-123"` {
		t.Errorf("got %s want %s", got, `"req-123"`)
	}
}

func TestGroupAndVersionSelectTheProvider(t *testing.T) {
	cases := []struct{ group, version, want string }{
		{"", "1.0.0", `"main"`},
		{"other", "2.0.0", `"other"`},
		{"", "2.0.0", `"v2"`},
	}
	// References for different group/version are created concurrently:
	// dubbo-go options must not leak between them.
	var wg sync.WaitGroup
	errs := make(chan string, len(cases)*10)
	for _, tc := range cases {
		c := dial(t, newProtocol(t, func(o *dubbo.Options) { o.Group, o.Version = tc.group, tc.version }), mainAddr)
		for range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				got, err := invoke(t, c, "who", ``)
				if err != nil || got != tc.want {
					errs <- fmt.Sprintf("group %q version %q: got %s, %v want %s", tc.group, tc.version, got, err, tc.want)
				}
			}()
		}
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	c := dial(t, newProtocol(t, func(o *dubbo.Options) { o.Group, o.Version = "nope", "9.9.9" }), mainAddr)
	if _, err := invoke(t, c, "who", ``); err == nil {
		t.Error("unknown group/version: got a reply, want an error")
	}
}

func TestTimeoutIsDeadlineExceeded(t *testing.T) {
	c := mainClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms": 3000}`)})
	took := time.Since(start)
	ge := generic.AsError(err)
	if err == nil || ge.Code != generic.CodeDeadlineExceeded || ge.HTTPStatus() != 504 {
		t.Fatalf("got %v, want DEADLINE_EXCEEDED (504)", err)
	}
	if took > 2*time.Second {
		t.Errorf("timeout took %v, want about 300ms", took)
	}
	// RequestTimeout applies when ctx has no deadline.
	c2 := dial(t, newProtocol(t, func(o *dubbo.Options) { o.RequestTimeout = 200 * time.Millisecond }), mainAddr)
	start = time.Now()
	_, err = c2.Invoke(context.Background(), &generic.Call{Method: "slow", Body: []byte(`{"ms": 3000}`)})
	if generic.CodeOf(err) != generic.CodeDeadlineExceeded || time.Since(start) > 2*time.Second {
		t.Errorf("RequestTimeout: got %v after %v, want DEADLINE_EXCEEDED after about 200ms", err, time.Since(start))
	}
	if got, err := invoke(t, c, "echoLong", `{"v": 4}`); err != nil || got != "4" {
		t.Errorf("after a timeout: got %s, %v want 4", got, err)
	}
}

func TestPOJOReplyOfUnregisteredClass(t *testing.T) {
	// A provider in another process, whose reply this process decodes:
	// the generalised POJO (a map with "class") and an enum.
	ch := testprovider.StartChild(t, "dubbo", false)
	c := dial(t, newProtocol(t, nil), ch.Addr)
	got, err := invoke(t, c, "createUser", `{"user": {"name": "cy", "age": 2, "address": {"city": "Rome", "zip": "1"}}}`)
	if err != nil {
		t.Fatal(err)
	}
	if !jsonEqual(t, got, `{"id": 1002, "name": "cy", "age": 2, "tags": [], "address": {"city": "Rome", "zip": "1"}}`) {
		t.Errorf("got %s", got)
	}
	got, err = invoke(t, c, "echoColor", `{"v": "BLUE"}`)
	if err != nil || got != `"BLUE"` {
		t.Errorf("enum: got %s, %v want %q", got, err, "BLUE")
	}
}

func TestNothingListeningIsUnavailable(t *testing.T) {
	ch := testprovider.StartChild(t, "dubbo", true)
	addr := ch.Addr
	ch.Kill()
	c := dial(t, newProtocol(t, nil), addr)
	start := time.Now()
	_, err := invoke(t, c, "who", ``)
	if generic.CodeOf(err) != generic.CodeUnavailable {
		t.Errorf("got %v, want UNAVAILABLE", err)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("took %v, want under 5s", took)
	}
}

func TestConcurrentCallsShareOneReference(t *testing.T) {
	c := mainClient(t)
	// A call that times out and whose reply arrives while the others run:
	// dubbo-go v3.3.2 closes the connection on such a late reply unless
	// its own timeout is still running.
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	_, err := c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms": 300}`)})
	cancel()
	if generic.CodeOf(err) != generic.CodeDeadlineExceeded {
		t.Fatalf("slow call: got %v, want DEADLINE_EXCEEDED", err)
	}
	const workers = 16
	until := time.Now().Add(700 * time.Millisecond)
	var wg sync.WaitGroup
	var mu sync.Mutex
	total := 0
	errs := make(chan string, workers*4)
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; time.Now().Before(until); i++ {
				v := int64(w)<<40 + int64(i)
				got, err := invoke(t, c, "echoLong", fmt.Sprintf(`{"v": "%d"}`, v))
				want := string(generic.AppendInt(nil, v))
				if err != nil || got != want {
					select {
					case errs <- fmt.Sprintf("worker %d call %d: got %s, %v want %s", w, i, got, err, want):
					default:
					}
				}
				mu.Lock()
				total++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Error(e)
	}
	if total < workers {
		t.Errorf("got %d calls, want at least %d", total, workers)
	}
}

func TestDescribeListsConfiguredMethods(t *testing.T) {
	c := mainClient(t)
	s, err := c.Describe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if s.Name != testprovider.Interface {
		t.Errorf("got name %q want %q", s.Name, testprovider.Interface)
	}
	m := s.Method("join")
	if m == nil || len(m.Input.Fields) != 2 {
		t.Fatalf("join: got %+v, want two fields", m)
	}
	if f := m.Input.Fields[0]; f.Name != "v" || f.Type.Kind != generic.KindList || f.Type.Elem.Kind != generic.KindString {
		t.Errorf("join.v: got %s %s, want v list of string", f.Name, f.Type.Kind)
	}
	if f := s.Method("echoLong").Input.Field("v"); f == nil || f.Type.Kind != generic.KindInt64 {
		t.Errorf("echoLong.v: got %+v, want int64", f)
	}
	if f := s.Method("createUser").Input.Field("user"); f == nil || f.Type.Kind != generic.KindMessage || f.Type.Name != "org.rpcbridge.test.User" {
		t.Errorf("createUser.user: got %+v, want message org.rpcbridge.test.User", f)
	}
	if m := s.Method("ping"); m == nil || len(m.Input.Fields) != 0 {
		t.Errorf("ping: got %+v, want no fields", m)
	}
}

func TestNewRejectsBadOptions(t *testing.T) {
	for _, o := range []dubbo.Options{
		{},
		{Interface: "a.B", Protocol: "http"},
		{Interface: "a.B", Methods: map[string]dubbo.Method{"m": {Params: []dubbo.Param{{Name: "x"}}}}},
	} {
		if _, err := dubbo.New(o); err == nil {
			t.Errorf("New(%+v): got no error, want one", o)
		}
	}
	pr, err := dubbo.New(dubbo.Options{Interface: "a.B", Protocol: "tri"})
	if err != nil || pr.Name() != "triple" {
		t.Errorf("tri: got %v name %q, want triple", err, pr.Name())
	}
	if _, err := pr.Dial(context.Background(), generic.Target{Address: "nohost"}); generic.CodeOf(err) != generic.CodeInvalidArgument {
		t.Errorf("bad address: got %v, want INVALID_ARGUMENT", err)
	}
}

func TestTriple(t *testing.T) {
	ch := testprovider.StartChild(t, "tri", false)
	pr := newProtocol(t, func(o *dubbo.Options) { o.Protocol = "tri" })
	if pr.Name() != "triple" {
		t.Errorf("got name %q want triple", pr.Name())
	}
	c := dial(t, pr, ch.Addr)
	for _, tc := range []struct{ method, body, want string }{
		{"who", ``, `"child"`},
		{"echoLong", `{"v": 9007199254740993}`, `"9007199254740993"`},
		{"echoInt", `{"v": -5}`, `-5`},
		{"join", `{"v": ["a", "b"], "sep": "/"}`, `"a/b"`},
		{"createUser", `{"user": {"name": "tri", "age": 3}}`, `{"id": 1003, "name": "tri", "age": 3, "tags": [], "address": null}`},
	} {
		got, err := invoke(t, c, tc.method, tc.body)
		if err != nil {
			t.Errorf("%s: got error %v, want %s", tc.method, err, tc.want)
			continue
		}
		if !jsonEqual(t, got, tc.want) {
			t.Errorf("%s: got %s want %s", tc.method, got, tc.want)
		}
	}
	// dubbo-go's Triple server drops the exception's class and message
	// (status 2, empty grpc-message): only the kind survives.
	_, err := invoke(t, c, "fail", `{"id": 9}`)
	if ge := generic.AsError(err); err == nil || ge.Code != generic.CodeBackendException || ge.HTTPStatus() != 502 || ge.BackendCode != 2 {
		t.Errorf("fail: got %v (backend code %d), want BACKEND_EXCEPTION (502) with backend code 2", err, ge.BackendCode)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms": 2000}`)})
	if generic.CodeOf(err) != generic.CodeDeadlineExceeded || time.Since(start) > time.Second {
		t.Errorf("slow: got %v after %v, want DEADLINE_EXCEEDED after about 200ms", err, time.Since(start))
	}
	if got, err := invoke(t, c, "echoLong", `{"v": 6}`); err != nil || got != "6" {
		t.Errorf("after timeout: got %s, %v want 6", got, err)
	}
	// Forwarded headers reach the provider as attachments over Triple too.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel2()
	res, err := c.Invoke(ctx2, &generic.Call{Method: "attachment", Body: []byte(`{"key": "x-request-id"}`),
		Meta: map[string]string{"x-request-id": "tri-7"}})
	if err != nil || string(res.Body) != `"tri-7"` {
		t.Errorf("attachment: got %v, %v want \"tri-7\"", res, err)
	}
}

func TestProviderRegistersInZooKeeper(t *testing.T) {
	zs := zktest.Start(t)
	conn, _, err := zk.Connect([]string{zs.Addr()}, 5*time.Second, zk.WithLogInfo(false))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// ZooKeeper answers ruok a moment before it accepts sessions; the
	// provider's registry client does not retry its first session.
	ready := time.Now().Add(20 * time.Second)
	for {
		if _, _, err := conn.Exists("/"); err == nil {
			break
		} else if time.Now().After(ready) {
			t.Fatalf("zookeeper not serving after 20s: %v", err)
		}
		<-time.After(50 * time.Millisecond)
	}
	ch := testprovider.StartChild(t, "dubbo zk="+zs.Addr(), false)
	path := "/dubbo/" + testprovider.Interface + "/providers"
	var nodes []string
	deadline := time.Now().Add(20 * time.Second)
	for {
		nodes, _, err = conn.Children(path)
		if err == nil && len(nodes) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no provider under %s after 20s (last error %v)", path, err)
		}
		_, _, ev, werr := conn.ExistsW(path)
		if werr == nil {
			select {
			case <-ev:
			case <-time.After(200 * time.Millisecond):
			}
		}
	}
	if len(nodes) != 1 {
		t.Fatalf("got %d provider nodes, want 1: %v", len(nodes), nodes)
	}
	inst, err := zookeeper.ParseDubboURL(nodes[0])
	if err != nil {
		t.Fatalf("ParseDubboURL(%q): %v", nodes[0], err)
	}
	if inst.Address != ch.Addr || inst.Protocol != "dubbo" || inst.Metadata["version"] != "1.0.0" {
		t.Errorf("got address %q protocol %q version %q, want %q dubbo 1.0.0", inst.Address, inst.Protocol, inst.Metadata["version"], ch.Addr)
	}
	// The discovered address is callable.
	c := dial(t, newProtocol(t, nil), inst.Address)
	if got, err := invoke(t, c, "who", ``); err != nil || got != `"child"` {
		t.Errorf("who: got %s, %v want %q", got, err, "child")
	}
}

func TestReservedAttachmentsCannotBeForwarded(t *testing.T) {
	c := mainClient(t)
	// "async: true" would make dubbo-go send without waiting for a reply.
	res, err := c.Invoke(context.Background(), &generic.Call{Method: "echoLong", Body: []byte(`{"v": 8}`),
		Meta: map[string]string{"async": "true", "version": "2.0.0", "x-ok": "1"}})
	if err != nil || string(res.Body) != "8" {
		t.Fatalf("got %v, %v want 8", res, err)
	}
	res, err = c.Invoke(context.Background(), &generic.Call{Method: "attachment", Body: []byte(`{"key": "x-ok"}`),
		Meta: map[string]string{"x-ok": "yes", "Group": "other"}})
	if err != nil || string(res.Body) != `"yes"` {
		t.Fatalf("got %v, %v want %q", res, err, "yes")
	}
}
