package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
)

// cmdResult is what one `rpcbridge` command printed, and its exit code.
type cmdResult struct {
	code           int
	stdout, stderr string
}

// rpcbridgeRun runs `rpcbridge args...` in-process, within 30 s.
func rpcbridgeRun(t *testing.T, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var out, errOut bytes.Buffer
	code := run(ctx, args, &out, &errOut)
	return cmdResult{code, out.String(), errOut.String()}
}

// wantCall runs `rpcbridge call args...` and checks that it succeeded
// with exactly want on stdout and nothing on stderr.
func wantCall(t *testing.T, want string, args ...string) {
	t.Helper()
	r := rpcbridgeRun(t, append([]string{"call"}, args...)...)
	if r.code != 0 || r.stdout != want || r.stderr != "" {
		t.Errorf("call %q:\ngot  exit %d, stdout %q, stderr %q\nwant exit 0, stdout %q, stderr \"\"", args, r.code, r.stdout, r.stderr, want)
	}
}

// wantCallError runs `rpcbridge call args...` and checks that it failed
// with exit code 1, nothing on stdout and the JSON error body want (and a
// newline) on stderr.
func wantCallError(t *testing.T, want string, args ...string) {
	t.Helper()
	r := rpcbridgeRun(t, append([]string{"call"}, args...)...)
	if r.code != 1 || r.stdout != "" || r.stderr != want+"\n" {
		t.Errorf("call %q:\ngot  exit %d, stdout %q, stderr %q\nwant exit 1, stdout \"\", stderr %q", args, r.code, r.stdout, r.stderr, want+"\n")
	}
}

// The demo's people 1 and 2 as the gRPC adapter prints them.
const (
	adaJSON  = `{"id":"1","name":"Ada Lovelace","email":"ada@example.com","role":"ROLE_ADMIN","address":{"street":"12 St James's Square","city":"London","geo":{"lat":51.5074,"lng":-0.1345}},"tags":["math","engines"],"createdAt":"2024-01-02T03:04:05Z"}`
	alanJSON = `{"id":"2","name":"Alan Turing","email":"alan@example.com","role":"ROLE_USER","address":{"street":"Bletchley Park","city":"Milton Keynes"},"tags":["logic"],"createdAt":"2024-01-02T03:04:05Z"}`
	// order1JSON is the demo's order 1 as the Thrift adapter prints it.
	order1JSON = `{"id":1,"customer":"ada","items":[{"sku":"book-42","qty":2,"priceCents":1250}],"status":"PAID","totalCents":2500}`
	// person404Error is the error body of people Get with id 404.
	person404Error = `{"error":{"code":"NOT_FOUND","message":"person 404 not found","protocol":"grpc","service":"demo.v1.PeopleService","method":"Get","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"PERSON_NOT_FOUND","domain":"people.demo.rpcbridge","metadata":{"id":"404"}}],"backend_code":5}}`
)

// TestCallEveryProtocol calls the demo's backends by URL: a unary call per
// protocol, a server stream, errors, int64 beyond 2^53, metadata, the
// body from a file and from standard input, and describe on the same URLs.
func TestCallEveryProtocol(t *testing.T) {
	vars := demoBackendsProcess(t)
	grpcURL := "grpc://" + vars["people"]
	thriftURL := "thrift://" + vars["orders"] + "?idl=" + vars["ordersidl"]
	tarsURL := "tars://" + vars["stock"] + "?idl=" + vars["stockidl"] + "&servant=Demo.StockServer.StockObj"

	t.Run("grpc", func(t *testing.T) {
		wantCall(t, adaJSON+"\n", grpcURL, "demo.v1.PeopleService/Get", "-d", `{"id": 1}`)
		// grpcurl's form, and flags before the arguments.
		wantCall(t, alanJSON+"\n", "-d", `{"id": 2}`, grpcURL, "demo.v1.PeopleService.Get")
	})
	t.Run("grpc int64 beyond 2^53 stays exact", func(t *testing.T) {
		wantCall(t, `{"i64":"9007199254740993","u64":"18446744073709551615","ids":["9007199254740993","-9007199254740993"]}`+"\n",
			grpcURL, "demo.v1.PeopleService/Echo", "-d", `{"i64": 9007199254740993, "u64": "18446744073709551615", "ids": [9007199254740993, -9007199254740993]}`)
	})
	t.Run("grpc server streaming prints one line per message", func(t *testing.T) {
		wantCall(t, adaJSON+"\n"+alanJSON+"\n", grpcURL, "demo.v1.PeopleService/List", "-d", `{"limit": 2}`)
	})
	t.Run("grpc error", func(t *testing.T) {
		wantCallError(t, person404Error, grpcURL, "demo.v1.PeopleService/Get", "-d", `{"id": 404}`)
	})
	t.Run("metadata from -H", func(t *testing.T) {
		// people echoes x-request-id into the reply's requestId.
		wantCall(t, `{"text":"hi","requestId":"req-7"}`+"\n",
			grpcURL, "demo.v1.PeopleService/Echo", "-H", "X-Request-Id: req-7", "-H", "x-other:1", "-d", `{"text": "hi"}`)
	})
	t.Run("thrift", func(t *testing.T) {
		wantCall(t, order1JSON+"\n", thriftURL, "OrderService/getOrder", "-d", `{"id": 1}`)
		wantCallError(t, `{"error":{"code":"BACKEND_EXCEPTION","message":"backend raised OrderNotFound","protocol":"thrift","service":"OrderService","method":"getOrder","exception":"OrderNotFound","fields":{"id":"9007199254740993","message":"order 9007199254740993 not found"}}}`,
			thriftURL, "OrderService/getOrder", "-d", `{"id": 9007199254740993}`)
	})
	t.Run("tars", func(t *testing.T) {
		wantCall(t, `{"return":{"code":"600000","name":"Pudong Development Bank","price":7.31,"volume":41230000,"market":"SH"}}`+"\n",
			tarsURL, "Stock/getQuote", "-d", `{"code": "600000"}`)
	})
	t.Run("dubbo", func(t *testing.T) {
		ada := `{"email":"ada@example.org","id":1,"name":"ada","tags":["admin"]}` + "\n"
		users := "dubbo://" + vars["users"]
		wantCall(t, ada, users+"?types=long&version=1.0.0", "org.rpcbridge.demo.UserService/getUser", "-d", `{"arg0": 1}`)
		wantCall(t, ada, users+"?types=id:long&version=1.0.0", "org.rpcbridge.demo.UserService/getUser", "-d", `{"id": 1}`)
		wantCallError(t, `{"error":{"code":"BACKEND_EXCEPTION","message":"user 404 not found","protocol":"dubbo","service":"org.rpcbridge.demo.UserService","method":"getUser","exception":"org.rpcbridge.demo.UserNotFoundException"}}`,
			users+"?types=long&version=1.0.0", "org.rpcbridge.demo.UserService/getUser", "-d", `404`)
	})
	t.Run("http", func(t *testing.T) {
		item := `{"sku":"A-1","name":"green tea, 100 g","priceCents":450,"tags":["tea"]}` + "\n"
		wantCall(t, item, "http://"+vars["catalog"]+"?prefix=/api", "getItem", "-d", `{"sku": "A-1"}`)
		wantCall(t, item, "http://"+vars["catalog"], "api/getItem", "-d", `{"sku": "A-1"}`)
	})
	t.Run("-d @file", func(t *testing.T) {
		file := filepath.Join(t.TempDir(), "req.json")
		if err := os.WriteFile(file, []byte("{\n  \"id\": 2\n}\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		wantCall(t, alanJSON+"\n", grpcURL, "demo.v1.PeopleService/Get", "-d", "@"+file)
	})
	t.Run("-d @- reads standard input", func(t *testing.T) {
		got := callProcess(t, `{"id": 1}`, "call", grpcURL, "demo.v1.PeopleService/Get", "-d", "@-")
		if want := (cmdResult{0, adaJSON + "\n", ""}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
		got = callProcess(t, `{"id": 404}`, "call", grpcURL, "demo.v1.PeopleService/Get", "-d", "@-")
		if want := (cmdResult{1, "", person404Error + "\n"}); got != want {
			t.Errorf("got %+v, want %+v", got, want)
		}
	})
	t.Run("invalid JSON body", func(t *testing.T) {
		wantCallError(t, `{"error":{"code":"INVALID_ARGUMENT","message":"invalid JSON at offset 6: unexpected character '}', want a value","protocol":"grpc","service":"demo.v1.PeopleService","method":"Get"}}`,
			grpcURL, "demo.v1.PeopleService/Get", "-d", `{"id":}`)
	})
	t.Run("describe takes the same URLs", func(t *testing.T) {
		for _, c := range []struct {
			args []string
			want string
		}{
			{[]string{grpcURL, "demo.v1.PeopleService"}, "demo.v1.PeopleService: Chat Count Echo Get List"},
			{[]string{thriftURL, "OrderService"}, "OrderService: audit createOrder getOrder listOrders ping setStatus"},
			{[]string{tarsURL, "Stock"}, "Demo.StockServer.StockObj: getQuote listQuotes"},
			{[]string{"dubbo://" + vars["users"] + "?types=long&version=1.0.0", "org.rpcbridge.demo.UserService/getUser"}, "org.rpcbridge.demo.UserService: getUser"},
		} {
			r := rpcbridgeRun(t, append([]string{"describe", "-timeout", "10s"}, c.args...)...)
			if got := schemaMethods(t, r.stdout); r.code != 0 || got != c.want {
				t.Errorf("describe %q: got exit %d, %q (stderr %q), want exit 0, %q", c.args, r.code, got, r.stderr, c.want)
			}
		}
	})
}

// schemaMethods sums up describe's output: each service as "name: its
// methods, sorted".
func schemaMethods(t *testing.T, out string) string {
	t.Helper()
	var lines []string
	dec := json.NewDecoder(strings.NewReader(out))
	for {
		var s struct {
			Name    string `json:"name"`
			Methods []struct {
				Name string `json:"name"`
			} `json:"methods"`
		}
		if err := dec.Decode(&s); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("describe printed %q: %v", out, err)
		}
		var names []string
		for _, m := range s.Methods {
			names = append(names, m.Name)
		}
		slices.Sort(names)
		lines = append(lines, s.Name+": "+strings.Join(names, " "))
	}
	return strings.Join(lines, "\n")
}

// callProcess runs `rpcbridge args...` in a process of its own with stdin
// as its standard input, within 30 s.
func callProcess(t *testing.T, stdin string, args ...string) cmdResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = append(os.Environ(), commandEnv+"=1")
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var exit *exec.ExitError
	if err != nil && !errors.As(err, &exit) {
		t.Fatalf("rpcbridge %q: %v", args, err)
	}
	return cmdResult{cmd.ProcessState.ExitCode(), out.String(), errOut.String()}
}

// TestCallThriftCompactBuffered calls a Thrift server speaking the compact
// protocol over the buffered transport, as the URL's parameters say.
func TestCallThriftCompactBuffered(t *testing.T) {
	srv, err := orders.Start("127.0.0.1:0", orders.WithProtocol("compact"), orders.WithTransport("buffered"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Stop() })
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "order.thrift"), orders.IDL, 0o644); err != nil {
		t.Fatal(err)
	}
	// The IDL's path is relative to the working directory.
	t.Chdir(dir)
	wantCall(t, order1JSON+"\n", "thrift://"+srv.Addr()+"?idl=order.thrift&protocol=compact&transport=buffered", "OrderService/getOrder", "-d", `{"id": 1}`)
}

// TestCallConfig calls a service of a config by its name (or its gRPC
// service name), and refuses a name the config does not define.
func TestCallConfig(t *testing.T) {
	srv, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	cfg := filepath.Join(t.TempDir(), "gateway.yaml")
	yaml := fmt.Sprintf(`
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: '%s'}]
`, srv.Addr())
	if err := os.WriteFile(cfg, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	wantCall(t, adaJSON+"\n", "-c", cfg, "people/Get", "-d", `{"id": 1}`)
	wantCall(t, alanJSON+"\n", "-c", cfg, "demo.v1.PeopleService/Get", "-d", `{"id": 2}`)
	wantCall(t, adaJSON+"\n", "-c", cfg, "people/List", "-d", `{"limit": 1}`)
	wantCallError(t, `{"error":{"code":"NOT_FOUND","message":"person 404 not found","protocol":"grpc","service":"demo.v1.PeopleService","method":"Get","details":[{"@type":"type.googleapis.com/google.rpc.ErrorInfo","reason":"PERSON_NOT_FOUND","domain":"people.demo.rpcbridge","metadata":{"id":"404"}}],"backend_code":5}}`,
		"-c", cfg, "people/Get", "-d", `{"id": 404}`)
	r := rpcbridgeRun(t, "call", "-c", cfg, "nosuch/Get")
	if want := fmt.Sprintf("rpcbridge call: %s defines no service \"nosuch\" (services: people)\n", cfg); r.code != 2 || r.stderr != want {
		t.Errorf("unknown service: got exit %d, stderr %q, want exit 2, %q", r.code, r.stderr, want)
	}
}

// TestCallConfigDiscovery calls a service whose instances a registry
// lists: the call waits for the first one to register, and gives up with
// UNAVAILABLE when none does within -timeout.
func TestCallConfigDiscovery(t *testing.T) {
	zk := zktest.Start(t)
	cfg := filepath.Join(t.TempDir(), "gateway.yaml")
	if err := os.WriteFile(cfg, []byte(expand(zkYAML, map[string]string{"zk": zk.Addr()})), 0o644); err != nil {
		t.Fatal(err)
	}
	wantCallError(t, `{"error":{"code":"UNAVAILABLE","message":"no online instance of service \"people\" registered in \"zk\" before the call's deadline (-timeout)","protocol":"grpc","service":"people","method":"Get"}}`,
		"-c", cfg, "-timeout", "1s", "people/Get", "-d", `{"id": 1}`)

	done := make(chan cmdResult, 1)
	go func() {
		var out, errOut bytes.Buffer
		code := run(context.Background(), []string{"call", "-c", cfg, "-timeout", "20s", "people/Get", "-d", `{"id": 1}`}, &out, &errOut)
		done <- cmdResult{code, out.String(), errOut.String()}
	}()
	select {
	case r := <-done:
		t.Fatalf("the call ended before any instance registered: %+v", r)
	case <-time.After(300 * time.Millisecond):
	}
	startSDKBackend(t, zk)
	select {
	case r := <-done:
		if want := (cmdResult{0, adaJSON + "\n", ""}); r != want {
			t.Errorf("got %+v, want %+v", r, want)
		}
	case <-time.After(25 * time.Second):
		t.Fatal("the call did not end within 25s of the instance registering")
	}
}

// TestCallUsageErrors checks the arguments are refused, with exit code 2,
// before anything is dialed.
func TestCallUsageErrors(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"ftp://127.0.0.1:1", "S/m"}, `rpcbridge call: ftp://127.0.0.1:1: want a scheme of grpc, triple, dubbo, thrift, tars or http, got "ftp"`},
		{[]string{"grpc://127.0.0.1", "S/m"}, `rpcbridge call: grpc://127.0.0.1: want grpc://host:port, got host "127.0.0.1"`},
		{[]string{"grpc://127.0.0.1:1?idl=x", "S/m"}, `rpcbridge call: grpc://127.0.0.1:1?idl=x: unknown parameter "idl": grpc URLs take proto, import, protoset, tls, ca, cert, key, server_name, insecure`},
		{[]string{"grpc://127.0.0.1:1/S", "m"}, `rpcbridge call: want SERVICE/METHOD, got "m"`},
		{[]string{"grpc://127.0.0.1:1/x", "S/m"}, `rpcbridge call: grpc://127.0.0.1:1/x: the URL takes no path (got "/x"): name the method in the next argument`},
		{[]string{"tars://127.0.0.1:1?idl=a.tars", "Stock/getQuote"}, `rpcbridge call: tars://127.0.0.1:1?idl=a.tars: services[0] "Stock": tars.servant is required (App.Server.Obj)`},
		{[]string{"dubbo://127.0.0.1:1?types=long&insecure=maybe", "I/m"}, `rpcbridge call: dubbo://127.0.0.1:1?types=long&insecure=maybe: insecure: want true or false, got "maybe"`},
		{[]string{"-c", "gateway.yaml", "grpc://127.0.0.1:1", "S/m"}, `rpcbridge call: give a backend URL or -c, not both`},
		{[]string{"grpc://127.0.0.1:1", "S/m", "-H", "novalue"}, `invalid value "novalue" for flag -H: want name:value, got "novalue"`},
	} {
		r := rpcbridgeRun(t, append([]string{"call"}, c.args...)...)
		if r.code != 2 || r.stdout != "" || !strings.HasPrefix(r.stderr, c.want) {
			t.Errorf("call %q: got exit %d, stdout %q, stderr %q; want exit 2, stderr starting %q", c.args, r.code, r.stdout, r.stderr, c.want)
		}
	}
}

// TestCallPrintsIndentedOnATerminal checks the reply is indented for a
// terminal and compact otherwise, its integers untouched either way.
func TestCallPrintsIndentedOnATerminal(t *testing.T) {
	body := []byte(` {"id": 9007199254740993, "tags": ["a"], "n": 1.50} `)
	for _, c := range []struct {
		pretty bool
		want   string
	}{
		{true, "{\n  \"id\": 9007199254740993,\n  \"tags\": [\n    \"a\"\n  ],\n  \"n\": 1.50\n}\n"},
		{false, `{"id":9007199254740993,"tags":["a"],"n":1.50}` + "\n"},
	} {
		var out bytes.Buffer
		w := &replyWriter{w: &out, pretty: c.pretty}
		if err := w.reply(body); err != nil || out.String() != c.want {
			t.Errorf("pretty %v: got %q, %v, want %q", c.pretty, out.String(), err, c.want)
		}
		// Stream messages are one line each, terminal or not.
		out.Reset()
		if err := w.message(body); err != nil || out.String() != `{"id":9007199254740993,"tags":["a"],"n":1.50}`+"\n" {
			t.Errorf("pretty %v: message: got %q, %v", c.pretty, out.String(), err)
		}
	}
	// A reply that is not JSON (an HTTP backend's text) is printed as is.
	var out bytes.Buffer
	if err := (&replyWriter{w: &out, pretty: true}).reply([]byte("plain text\n")); err != nil || out.String() != "plain text\n" {
		t.Errorf("text reply: got %q, %v, want %q", out.String(), err, "plain text\n")
	}
	dev, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer dev.Close()
	file, err := os.Create(filepath.Join(t.TempDir(), "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer file.Close()
	for _, c := range []struct {
		w    io.Writer
		want bool
	}{{dev, true}, {file, false}, {&bytes.Buffer{}, false}} {
		if got := isTerminal(c.w); got != c.want {
			t.Errorf("isTerminal(%T %v): got %v, want %v", c.w, c.w, got, c.want)
		}
	}
}
