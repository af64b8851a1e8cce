package grpc_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
)

const (
	testdata = "../../testdata/grpc"
	service  = "demo.v1.PeopleService"
)

// source is one way of getting the schema, with the backend it needs.
type source struct {
	name       string
	reflection bool // the backend serves reflection
	opts       grpc.Options
}

func sources() []source {
	expose := []string{"x-request-id"}
	return []source{
		{name: "reflection", reflection: true,
			opts: grpc.Options{Service: service, Reflection: true, ExposeHeaders: expose}},
		{name: "protoset", reflection: false,
			opts: grpc.Options{Service: service, Protosets: []string{filepath.Join(testdata, "people.protoset")}, ExposeHeaders: expose}},
		{name: "protofiles", reflection: false,
			opts: grpc.Options{Service: service, ProtoFiles: []string{"people.proto"}, ImportPaths: []string{testdata}, ExposeHeaders: expose}},
	}
}

// startPeople starts the sample service on 127.0.0.1:0 for the test.
func startPeople(t testing.TB, withReflection bool) *people.Server {
	t.Helper()
	srv, err := people.Start("127.0.0.1:0", withReflection)
	if err != nil {
		t.Fatalf("start people: %v", err)
	}
	t.Cleanup(srv.Stop)
	return srv
}

// dial creates the adapter and a client for addr.
func dial(t testing.TB, o grpc.Options, addr string) generic.Client {
	t.Helper()
	p, err := grpc.New(o)
	if err != nil {
		t.Fatalf("grpc.New: %v", err)
	}
	if p.Name() != "grpc" {
		t.Fatalf("Name() = %q, want grpc", p.Name())
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: addr})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func golden(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(testdata, "golden", name))
	if err != nil {
		t.Fatalf("golden: %v", err)
	}
	return b
}

// sameJSON compares JSON semantically; numbers compare by their text.
func sameJSON(t *testing.T, got, want []byte) {
	t.Helper()
	g, err := decodeJSON(got)
	if err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	w, err := decodeJSON(want)
	if err != nil {
		t.Fatalf("want invalid JSON %s: %v", want, err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got JSON\n%s\nwant\n%s", got, want)
	}
}

func decodeJSON(b []byte) (any, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return nil, err
	}
	return normalizeNumbers(v), nil
}

// normalizeNumbers rewrites numbers so that 1.5 and 1.50 or -2 and -2.0
// compare equal, without going through float64 for integers.
func normalizeNumbers(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = normalizeNumbers(e)
		}
	case []any:
		for i, e := range x {
			x[i] = normalizeNumbers(e)
		}
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i
		}
		f, _ := x.Float64()
		return f
	}
	return v
}

// tcase is one row of the table run over every schema source.
type tcase struct {
	name    string
	method  string
	body    string
	params  []generic.Param
	meta    map[string]string
	timeout time.Duration
	stream  bool // collect messages through OnMessage

	want     string // expected reply JSON (inline)
	golden   string // expected reply JSON (file under golden/)
	wantMeta map[string]string

	code        generic.Code // expected error code
	status      int          // expected HTTP status
	msgContains []string     // substrings of the error message
	detail      string       // substring of the first error detail
	backendCode int
	minMsgs     int // messages expected before a stream error
}

func cases(t *testing.T) []tcase {
	return []tcase{
		{name: "get_golden", method: "Get", body: `{"id":1}`, meta: map[string]string{"x-request-id": "req-1"},
			golden: "get_1.json", wantMeta: map[string]string{"x-request-id": "req-1"}},
		{name: "method_lower_case_alias", method: "get", body: `{"id":"3"}`,
			want: `{"id":"3","name":"Grace Hopper","email":"grace@example.com","role":"ROLE_GUEST","createdAt":"2024-01-02T03:04:05Z"}`},
		{name: "method_fully_qualified", method: "demo.v1.PeopleService/Get", body: `{"id":3}`,
			want: `{"id":"3","name":"Grace Hopper","email":"grace@example.com","role":"ROLE_GUEST","createdAt":"2024-01-02T03:04:05Z"}`},
		{name: "path_param_binds_id", method: "Get", params: []generic.Param{{Name: "id", Value: "2", Path: true}},
			want: `{"id":"2","name":"Alan Turing","email":"alan@example.com","role":"ROLE_USER","address":{"street":"Bletchley Park","city":"Milton Keynes"},"tags":["logic"],"createdAt":"2024-01-02T03:04:05Z"}`},
		{name: "path_param_int64_above_2p53_stays_exact", method: "Get",
			params: []generic.Param{{Name: "id", Value: "9007199254740993", Path: true}, {Name: "unknown", Value: "x"}},
			code:   generic.CodeNotFound, status: 404, backendCode: 5,
			msgContains: []string{"person 9007199254740993 not found"}, detail: `"9007199254740993"`},
		{name: "query_param_overrides_body", method: "Get", body: `{"id":1}`,
			params: []generic.Param{{Name: "id", Value: "2"}},
			want:   `{"id":"2","name":"Alan Turing","email":"alan@example.com","role":"ROLE_USER","address":{"street":"Bletchley Park","city":"Milton Keynes"},"tags":["logic"],"createdAt":"2024-01-02T03:04:05Z"}`},
		{name: "path_param_naming_no_field", method: "Get", params: []generic.Param{{Name: "nope", Value: "1", Path: true}},
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{`"nope"`}},
		{name: "echo_everything_golden", method: "Echo", body: string(golden(t, "echo_everything.request.json")),
			golden: "echo_everything.json"},
		{name: "enum_by_number_and_name", method: "Echo", body: `{"role":2,"roles":[1,"ROLE_GUEST"]}`,
			want: `{"role":"ROLE_USER","roles":["ROLE_ADMIN","ROLE_GUEST"]}`},
		{name: "oneof_message_variant", method: "Echo", body: `{"place":{"city":"Oslo","geo":{"lat":59.9}}}`,
			want: `{"place":{"city":"Oslo","geo":{"lat":59.9}}}`},
		{name: "oneof_two_variants_rejected", method: "Echo", body: `{"name":"a","number":1}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"oneof"}},
		{name: "map_int32_keys", method: "Echo", body: `{"addresses":{"2147483647":{"street":"max"}}}`,
			want: `{"addresses":{"2147483647":{"street":"max"}}}`},
		{name: "uint64_max_exact", method: "Echo", body: `{"u64":18446744073709551615,"f64":"18446744073709551614"}`,
			want: `{"u64":"18446744073709551615","f64":"18446744073709551614"}`},
		{name: "empty_body_is_empty_message", method: "Echo", body: ``, want: `{}`},
		{name: "metadata_forwarded", method: "Echo", body: `{}`, meta: map[string]string{"X-Request-Id": "abc-123"},
			want: `{"requestId":"abc-123"}`, wantMeta: map[string]string{"x-request-id": "abc-123"}},
		{name: "server_streaming_golden", method: "List", body: `{}`, stream: true,
			meta: map[string]string{"x-request-id": "stream-1"}, golden: "list_all.json"},
		{name: "server_streaming_filtered", method: "List", body: `{"role":"ROLE_USER"}`, stream: true,
			want: `[{"id":"2","name":"Alan Turing","email":"alan@example.com","role":"ROLE_USER","address":{"street":"Bletchley Park","city":"Milton Keynes"},"tags":["logic"],"createdAt":"2024-01-02T03:04:05Z"}]`},
		{name: "server_streaming_error_mid_stream", method: "List", body: `{"failAfter":1}`, stream: true,
			code: generic.CodeInternal, status: 500, backendCode: 13, msgContains: []string{"stream failed after 1"}, minMsgs: 1},
		{name: "server_streaming_without_receiver", method: "List", body: `{}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"server streaming"}},
		{name: "bidi_streaming_without_receiver", method: "Chat", body: `{}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"bidirectional"}},
		{name: "client_streaming_body_is_one_message", method: "Count", body: `{"id":7}`,
			want: `{"count":"1","ids":["7"]}`},

		{name: "reserved_and_invalid_headers_skipped", method: "Echo", body: `{}`,
			meta: map[string]string{"x-request-id": "r2", "Content-Type": "text/plain", "grpc-timeout": "1S", "bad key": "x"},
			want: `{"requestId":"r2"}`},
		{name: "header_value_not_ascii", method: "Echo", body: `{}`, meta: map[string]string{"x-request-id": "caf\u00e9\n"},
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{`"x-request-id"`}},

		// Errors.
		{name: "malformed_json", method: "Get", body: `{"id":`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"demo.v1.GetPersonRequest"}},
		{name: "unknown_field", method: "Get", body: `{"id":1,"nope":true}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{`unknown field "nope"`}},
		{name: "string_where_int_wanted", method: "Get", body: `{"id":"abc"}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"id", "abc"}},
		{name: "int64_out_of_range", method: "Get", body: `{"id":"9223372036854775808"}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"field id: 9223372036854775808 is out of range for int64"}},
		{name: "int32_out_of_range", method: "Echo", body: `{"i32":2147483648}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"field i32: 2147483648 is out of range for int32"}},
		{name: "uint64_negative", method: "Echo", body: `{"u64":"-1"}`,
			code: generic.CodeInvalidArgument, status: 400, msgContains: []string{"u64"}},
		{name: "unknown_method", method: "Nope", body: `{}`,
			code: generic.CodeNotFound, status: 404, msgContains: []string{`"Nope"`, service}},
		{name: "not_found_with_error_info", method: "Get", body: `{"id":99}`,
			code: generic.CodeNotFound, status: 404, backendCode: 5,
			msgContains: []string{"person 99 not found"}, detail: `"reason":"PERSON_NOT_FOUND"`},
		{name: "backend_invalid_argument", method: "Get", body: `{"id":-1}`,
			code: generic.CodeInvalidArgument, status: 400, backendCode: 3, msgContains: []string{"id must be positive, got -1"}},
		{name: "backend_internal", method: "Get", body: `{"id":1}`, meta: map[string]string{"x-fault": "internal"},
			code: generic.CodeInternal, status: 500, backendCode: 13, msgContains: []string{"injected internal error"}},
		{name: "backend_slower_than_deadline", method: "Get", body: `{"id":1,"delayMs":5000}`, timeout: 150 * time.Millisecond,
			code: generic.CodeDeadlineExceeded, status: 504, msgContains: []string{"deadline"}},
	}
}

func TestCasesOverEverySchemaSource(t *testing.T) {
	for _, src := range sources() {
		t.Run(src.name, func(t *testing.T) {
			srv := startPeople(t, src.reflection)
			c := dial(t, src.opts, srv.Addr())
			for _, tc := range cases(t) {
				t.Run(tc.name, func(t *testing.T) { runCase(t, c, tc) })
			}
		})
	}
}

func runCase(t *testing.T, c generic.Client, tc tcase) {
	timeout := tc.timeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	call := &generic.Call{Method: tc.method, Body: []byte(tc.body), Params: tc.params, Meta: tc.meta}
	var msgs [][]byte
	if tc.stream {
		call.OnMessage = func(b []byte) error { msgs = append(msgs, append([]byte(nil), b...)); return nil }
	}
	start := time.Now()
	res, err := c.Invoke(ctx, call)
	if tc.code != "" {
		if err == nil {
			t.Fatalf("got reply %s, want error %s", res.Body, tc.code)
		}
		if res != nil {
			t.Fatalf("got result %+v with error, want nil result", res)
		}
		var ge *generic.Error
		if !errors.As(err, &ge) {
			t.Fatalf("got error %T %v, want *generic.Error", err, err)
		}
		if ge.Code != tc.code || ge.HTTPStatus() != tc.status {
			t.Fatalf("got code %s status %d (%v), want %s %d", ge.Code, ge.HTTPStatus(), err, tc.code, tc.status)
		}
		for _, s := range tc.msgContains {
			if !strings.Contains(ge.Message, s) {
				t.Fatalf("got message %q, want it to contain %q", ge.Message, s)
			}
		}
		if ge.Protocol != "grpc" || ge.Service != service || ge.Method == "" {
			t.Fatalf("got protocol %q service %q method %q, want grpc %s and a method", ge.Protocol, ge.Service, ge.Method, service)
		}
		if tc.backendCode != 0 && ge.BackendCode != tc.backendCode {
			t.Fatalf("got backend code %d, want %d", ge.BackendCode, tc.backendCode)
		}
		if tc.detail != "" {
			if len(ge.Details) == 0 {
				t.Fatalf("got no details, want one containing %s", tc.detail)
			}
			var compact bytes.Buffer
			if err := json.Compact(&compact, ge.Details[0]); err != nil {
				t.Fatalf("detail is not JSON: %s", ge.Details[0])
			}
			if !strings.Contains(compact.String(), tc.detail) || !strings.Contains(compact.String(), "google.rpc.ErrorInfo") {
				t.Fatalf("got detail %s, want an ErrorInfo containing %s", compact.String(), tc.detail)
			}
		}
		if len(msgs) < tc.minMsgs {
			t.Fatalf("got %d stream messages before the error, want %d", len(msgs), tc.minMsgs)
		}
		if tc.code == generic.CodeDeadlineExceeded && time.Since(start) > 3*time.Second {
			t.Fatalf("deadline error took %v, want about %v", time.Since(start), tc.timeout)
		}
		return
	}
	if err != nil {
		t.Fatalf("got error %v, want a reply", err)
	}
	want := []byte(tc.want)
	if tc.golden != "" {
		want = golden(t, tc.golden)
	}
	if tc.stream {
		if !res.Streamed || res.Body != nil {
			t.Fatalf("got Streamed=%v Body=%s, want a streamed result with no body", res.Streamed, res.Body)
		}
		sameJSON(t, append(append([]byte("["), bytes.Join(msgs, []byte(","))...), ']'), want)
	} else {
		sameJSON(t, res.Body, want)
	}
	for k, v := range tc.wantMeta {
		if res.Meta[k] != v {
			t.Fatalf("got meta %q = %q, want %q", k, res.Meta[k], v)
		}
	}
}
