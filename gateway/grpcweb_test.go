package gateway_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/binary"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"google.golang.org/genproto/googleapis/rpc/errdetails"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/internal/grpctwo"
)

// A gRPC-Web client built from the protocol's framing
// (grpc/doc/PROTOCOL-WEB.md): 5-byte frames, flag 0x80 for the trailer
// frame, and for the -text types base64 in 4-character groups.

// webFrame is one data frame holding msg.
func webFrame(msg []byte) []byte {
	f := make([]byte, 5, 5+len(msg))
	binary.BigEndian.PutUint32(f[1:], uint32(len(msg)))
	return append(f, msg...)
}

func mustMarshal(t testing.TB, m proto.Message) []byte {
	t.Helper()
	b, err := proto.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webReply is a parsed gRPC-Web reply.
type webReply struct {
	status   int
	header   http.Header
	messages [][]byte
	trailer  map[string]string
	// frames after the trailer frame (there must be none).
	extra int
}

// webDecodeText decodes a -text body group by group, so that chunks each
// padded on their own decode as one stream.
func webDecodeText(t testing.TB, s []byte) []byte {
	t.Helper()
	if len(s)%4 != 0 {
		t.Fatalf("-text reply of %d characters, want whole 4-character groups", len(s))
	}
	var out []byte
	for i := 0; i < len(s); i += 4 {
		b, err := base64.StdEncoding.DecodeString(string(s[i : i+4]))
		if err != nil {
			t.Fatalf("-text reply: group %d %q: %v", i/4, s[i:i+4], err)
		}
		out = append(out, b...)
	}
	return out
}

// parseWebBody splits a (decoded) reply body into messages and trailers.
func parseWebBody(t testing.TB, body []byte, r *webReply) {
	t.Helper()
	for len(body) > 0 {
		if len(body) < 5 {
			t.Fatalf("reply ends inside a frame prefix: % x", body)
		}
		flag, n := body[0], binary.BigEndian.Uint32(body[1:5])
		if uint32(len(body)-5) < n {
			t.Fatalf("reply frame of %d bytes, only %d left", n, len(body)-5)
		}
		payload := body[5 : 5+n]
		body = body[5+n:]
		switch {
		case r.trailer != nil:
			r.extra++
		case flag == 0x00:
			r.messages = append(r.messages, payload)
		case flag == 0x80:
			r.trailer = map[string]string{}
			for _, line := range strings.Split(string(payload), "\r\n") {
				if line == "" {
					continue
				}
				k, v, ok := strings.Cut(line, ":")
				if !ok {
					t.Fatalf("trailer line %q has no colon", line)
				}
				r.trailer[strings.ToLower(k)] = strings.TrimSpace(v)
			}
		default:
			t.Fatalf("reply frame with flags 0x%02x", flag)
		}
	}
}

// webPost sends one gRPC-Web call and reads the whole reply.
func webPost(t testing.TB, url, ct string, body []byte, hdr ...string) webReply {
	t.Helper()
	if strings.Contains(ct, "-text") {
		body = []byte(base64.StdEncoding.EncodeToString(body))
	}
	req, err := http.NewRequest("POST", url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("X-Grpc-Web", "1")
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	r := webReply{status: resp.StatusCode, header: resp.Header}
	if resp.StatusCode != 200 {
		r.messages = [][]byte{raw}
		return r
	}
	if strings.Contains(ct, "-text") {
		raw = webDecodeText(t, raw)
	}
	parseWebBody(t, raw, &r)
	return r
}

// person decodes a reply message.
func person(t testing.TB, b []byte) *demov1.Person {
	t.Helper()
	p := &demov1.Person{}
	if err := proto.Unmarshal(b, p); err != nil {
		t.Fatalf("reply message is not a Person: %v", err)
	}
	return p
}

// wantWebStatus checks a reply's status: 200, the trailer frame's
// grpc-status and grpc-message, nothing after the trailer.
func wantWebStatus(t *testing.T, what string, r webReply, status, message string) {
	t.Helper()
	if r.status != 200 {
		t.Fatalf("%s: HTTP status got %d %q, want 200", what, r.status, r.messages)
	}
	if r.trailer == nil {
		t.Fatalf("%s: got no trailer frame, want one", what)
	}
	if got := r.trailer["grpc-status"]; got != status {
		t.Errorf("%s: trailer grpc-status got %q, want %q (message %q)", what, got, status, r.trailer["grpc-message"])
	}
	if got := r.trailer["grpc-message"]; got != message {
		t.Errorf("%s: trailer grpc-message got %q, want %q", what, got, message)
	}
	if r.extra != 0 {
		t.Errorf("%s: got %d frames after the trailer frame, want 0", what, r.extra)
	}
}

const webYAML = `
server: {max_body_bytes: 2048, cors: {allow_origins: ["https://app.example.com"], allow_headers: [x-custom], expose_headers: [x-request-id]}}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{addr}}"}]
    timeout: 2s
    forward_headers: [x-request-id, x-delay, x-fault]
  - name: plain
    protocol: http
    instances: [{address: "{{plain}}"}]
routes:
  - match: {prefix: /api/}
    service: people
`

func webEnv(t *testing.T) (*env, *backend) {
	b := newBackend(t, "plain")
	return newEnv(t, webYAML, map[string]string{"addr": startPeople(t, true), "plain": b.addr()}), b
}

func TestGRPCWebUnaryBinaryAndText(t *testing.T) {
	e, _ := webEnv(t)
	req := webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 1}))
	for _, ct := range []string{"application/grpc-web", "application/grpc-web+proto", "application/grpc-web-text", "application/grpc-web-text+proto"} {
		for _, path := range []string{"/people/demo.v1.PeopleService/Get", "/api/demo.v1.PeopleService/Get", "/demo.v1.PeopleService/Get"} {
			what := ct + " " + path
			r := webPost(t, e.url+path, ct, req, "X-Request-Id", "rid-7")
			wantWebStatus(t, what, r, "0", "")
			if got := r.header.Get("Content-Type"); got != ct {
				t.Errorf("%s: Content-Type got %q, want %q", what, got, ct)
			}
			if got := r.header.Get("X-Request-Id"); got != "rid-7" {
				t.Errorf("%s: the backend's response metadata x-request-id got %q, want rid-7", what, got)
			}
			if len(r.messages) != 1 {
				t.Fatalf("%s: got %d messages, want 1", what, len(r.messages))
			}
			p := person(t, r.messages[0])
			if p.GetId() != 1 || p.GetName() != "Ada Lovelace" || p.GetRequestId() != "rid-7" {
				t.Errorf("%s: got person %d %q request_id %q, want 1 \"Ada Lovelace\" \"rid-7\"", what, p.GetId(), p.GetName(), p.GetRequestId())
			}
		}
	}
}

func TestGRPCWebTextRequestInSeveralBase64Chunks(t *testing.T) {
	e, _ := webEnv(t)
	frame := webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 2}))
	// Each chunk padded on its own, with a line break between them.
	body := base64.StdEncoding.EncodeToString(frame[:4]) + "\r\n" + base64.StdEncoding.EncodeToString(frame[4:])
	if !strings.Contains(body[:len(body)-4], "=") {
		t.Fatalf("test setup: the first chunk %q should be padded", body)
	}
	req, _ := http.NewRequest("POST", e.url+"/people/demo.v1.PeopleService/Get", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/grpc-web-text")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := webReply{status: resp.StatusCode, header: resp.Header}
	parseWebBody(t, webDecodeText(t, raw), &r)
	wantWebStatus(t, "chunked base64", r, "0", "")
	if len(r.messages) != 1 || person(t, r.messages[0]).GetName() != "Alan Turing" {
		t.Fatalf("chunked base64: got %d messages, want Alan Turing", len(r.messages))
	}
}

func TestGRPCWebServerStreaming(t *testing.T) {
	e, _ := webEnv(t)
	for _, ct := range []string{"application/grpc-web+proto", "application/grpc-web-text"} {
		r := webPost(t, e.url+"/people/demo.v1.PeopleService/List", ct, webFrame(mustMarshal(t, &demov1.ListRequest{})))
		wantWebStatus(t, ct, r, "0", "")
		var got []string
		for _, m := range r.messages {
			got = append(got, person(t, m).GetName())
		}
		if want := "Ada Lovelace,Alan Turing,Grace Hopper"; strings.Join(got, ",") != want {
			t.Errorf("%s: messages got %q, want %s in order", ct, got, want)
		}
	}
}

func TestGRPCWebBackendErrors(t *testing.T) {
	e, _ := webEnv(t)
	ct := "application/grpc-web+proto"
	// An error before any message: trailers-only, the status also in headers.
	r := webPost(t, e.url+"/people/demo.v1.PeopleService/Get", ct, webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 99})))
	wantWebStatus(t, "not found", r, "5", "person 99 not found")
	if len(r.messages) != 0 {
		t.Errorf("not found: got %d messages, want 0", len(r.messages))
	}
	if got := r.header.Get("Grpc-Status"); got != "5" {
		t.Errorf("not found: header grpc-status got %q, want 5 (trailers-only)", got)
	}
	if got := r.header.Get("Grpc-Message"); got != "person 99 not found" {
		t.Errorf("not found: header grpc-message got %q, want \"person 99 not found\"", got)
	}
	details, err := base64.RawStdEncoding.DecodeString(strings.TrimRight(r.trailer["grpc-status-details-bin"], "="))
	if err != nil {
		t.Fatalf("grpc-status-details-bin %q: %v", r.trailer["grpc-status-details-bin"], err)
	}
	var st spb.Status
	var info errdetails.ErrorInfo
	if err := proto.Unmarshal(details, &st); err != nil || len(st.Details) != 1 || st.Details[0].UnmarshalTo(&info) != nil {
		t.Fatalf("grpc-status-details-bin: got %v (%v), want a google.rpc.Status with one ErrorInfo", &st, err)
	}
	if st.Code != 5 || info.Reason != "PERSON_NOT_FOUND" {
		t.Errorf("details: got code %d reason %q, want 5 PERSON_NOT_FOUND", st.Code, info.Reason)
	}

	// Injected by metadata: the backend's code and message.
	r = webPost(t, e.url+"/people/demo.v1.PeopleService/Get", ct, webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 1})), "X-Fault", "unavailable")
	wantWebStatus(t, "unavailable", r, "14", "injected unavailable")

	// An error after messages: the messages, then the status in the
	// trailer frame (headers were sent with the first message).
	r = webPost(t, e.url+"/people/demo.v1.PeopleService/List", ct, webFrame(mustMarshal(t, &demov1.ListRequest{FailAfter: 2})))
	wantWebStatus(t, "stream failure", r, "13", "stream failed after 2 messages")
	if len(r.messages) != 2 {
		t.Errorf("stream failure: got %d messages, want 2", len(r.messages))
	}
	if got := r.header.Get("Grpc-Status"); got != "" {
		t.Errorf("stream failure: header grpc-status got %q, want none (not trailers-only)", got)
	}
}

func TestGRPCWebUnknownMethodIsUnimplemented(t *testing.T) {
	e, _ := webEnv(t)
	r := webPost(t, e.url+"/people/demo.v1.PeopleService/Nope", "application/grpc-web+proto", webFrame(nil))
	wantWebStatus(t, "unknown method", r, "12", "unknown method Nope for service demo.v1.PeopleService")
}

func TestGRPCWebTimeout(t *testing.T) {
	e, _ := webEnv(t)
	ct := "application/grpc-web+proto"
	get := webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 1}))
	// The client's grpc-timeout is shorter than the service's 2s.
	start := time.Now()
	r := webPost(t, e.url+"/people/demo.v1.PeopleService/Get", ct, get, "Grpc-Timeout", "100m", "X-Delay", "1500ms")
	wantWebStatus(t, "grpc-timeout 100m", r, "4", "backend did not answer demo.v1.PeopleService/Get before the deadline")
	if d := time.Since(start); d >= 1500*time.Millisecond {
		t.Errorf("grpc-timeout 100m: answered after %s, want before the backend's 1.5s delay", d)
	}
	// A longer one is capped by the service's timeout.
	r = webPost(t, e.url+"/people/demo.v1.PeopleService/Get", ct, get, "Grpc-Timeout", "1H", "X-Delay", "1m")
	wantWebStatus(t, "grpc-timeout 1H", r, "4", "backend did not answer demo.v1.PeopleService/Get before the deadline")
	r = webPost(t, e.url+"/people/demo.v1.PeopleService/Get", ct, get, "Grpc-Timeout", "soon")
	wantWebStatus(t, "malformed grpc-timeout", r, "3", `grpc-timeout "soon" is not a valid timeout`)
}

func TestGRPCWebMalformedRequests(t *testing.T) {
	e, _ := webEnv(t)
	msg := mustMarshal(t, &demov1.GetPersonRequest{Id: 1})
	big := webFrame(bytes.Repeat([]byte{'x'}, 2049))
	for _, c := range []struct {
		name, ct string
		body     []byte
		status   string
		message  string
	}{
		{"truncated prefix", "application/grpc-web+proto", []byte{0, 0, 0}, "3",
			"malformed gRPC-Web request: the body ends inside a frame's 5-byte prefix"},
		{"truncated message", "application/grpc-web+proto", webFrame(msg)[:5+len(msg)-1], "3",
			"malformed gRPC-Web request: the body ends inside a message"},
		{"trailer flag", "application/grpc-web+proto", append([]byte{0x80}, webFrame(msg)[1:]...), "3",
			"malformed gRPC-Web request: frame flags 0x80, want a data frame (0x00)"},
		{"compressed", "application/grpc-web+proto", append([]byte{0x01}, webFrame(msg)[1:]...), "12",
			"compressed gRPC-Web messages are not supported"},
		{"over max_body_bytes", "application/grpc-web+proto", big, "8",
			"request message is 2049 bytes, more than the 2048 allowed (server.max_body_bytes)"},
	} {
		wantWebStatus(t, c.name, webPost(t, e.url+"/people/demo.v1.PeopleService/Get", c.ct, c.body), c.status, c.message)
	}
	req, _ := http.NewRequest("POST", e.url+"/people/demo.v1.PeopleService/Get", strings.NewReader("AAAA*AAA"))
	req.Header.Set("Content-Type", "application/grpc-web-text")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	r := webReply{status: resp.StatusCode, header: resp.Header}
	parseWebBody(t, webDecodeText(t, raw), &r)
	wantWebStatus(t, "not base64", r, "3", "malformed gRPC-Web request: the body is not base64: illegal base64 data at input byte 4")
}

func TestGRPCWebOnlyForGRPCServicesAndAfterFilters(t *testing.T) {
	e, plain := webEnv(t)
	r := webPost(t, e.url+"/plain/Get", "application/grpc-web+proto", webFrame([]byte{8, 1}))
	if r.status != 415 {
		t.Fatalf("http service: got %d, want 415", r.status)
	}
	if got := errCode(t, string(r.messages[0])); got != "UNSUPPORTED_MEDIA_TYPE" {
		t.Errorf("http service: error code got %s, want UNSUPPORTED_MEDIA_TYPE", got)
	}
	if want := `service \"plain\" (protocol http) does not take gRPC-Web calls: call it with JSON`; !strings.Contains(string(r.messages[0]), want) {
		t.Errorf("http service: got %s, want the message %s", r.messages[0], want)
	}
	if n := plain.hits.Load(); n != 0 {
		t.Errorf("http service: backend got %d calls, want 0", n)
	}

	// Authentication and rate limits answer as for JSON calls.
	b := newEnv(t, `
server:
  auth: {keys: [{name: a, key: ka}]}
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{addr}}"}]
    rate_limit: {rps: 0.001, burst: 1}
`, map[string]string{"addr": startPeople(t, true)})
	get := webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 3}))
	r = webPost(t, b.url+"/people/demo.v1.PeopleService/Get", "application/grpc-web+proto", get)
	if r.status != 401 || errCode(t, string(r.messages[0])) != "UNAUTHENTICATED" {
		t.Fatalf("without a key: got %d %s, want 401 UNAUTHENTICATED", r.status, r.messages)
	}
	r = webPost(t, b.url+"/people/demo.v1.PeopleService/Get", "application/grpc-web+proto", get, "X-API-Key", "ka")
	wantWebStatus(t, "with a key", r, "0", "")
	r = webPost(t, b.url+"/people/demo.v1.PeopleService/Get", "application/grpc-web+proto", get, "X-API-Key", "ka")
	if r.status != 429 || errCode(t, string(r.messages[0])) != "RESOURCE_EXHAUSTED" {
		t.Fatalf("over the rate limit: got %d %s, want 429 RESOURCE_EXHAUSTED", r.status, r.messages)
	}
}

func TestGRPCWebCORS(t *testing.T) {
	e, _ := webEnv(t)
	req, _ := http.NewRequest("OPTIONS", e.url+"/people/demo.v1.PeopleService/Get", nil)
	req.Header.Set("Origin", "https://app.example.com")
	req.Header.Set("Access-Control-Request-Method", "POST")
	req.Header.Set("Access-Control-Request-Headers", "content-type,grpc-timeout,x-custom,x-grpc-web,x-user-agent")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 204 {
		t.Fatalf("preflight: got %d %v, want 204", resp.StatusCode, resp.Header)
	}
	if got, want := resp.Header.Get("Access-Control-Allow-Headers"), "content-type,grpc-timeout,x-custom,x-grpc-web,x-user-agent"; got != want {
		t.Errorf("preflight: Access-Control-Allow-Headers got %q, want %q", got, want)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("preflight: Access-Control-Allow-Origin got %q, want https://app.example.com", got)
	}

	r := webPost(t, e.url+"/people/demo.v1.PeopleService/Get", "application/grpc-web-text",
		webFrame(mustMarshal(t, &demov1.GetPersonRequest{Id: 42})), "Origin", "https://app.example.com")
	wantWebStatus(t, "cross-origin call", r, "5", "person 42 not found")
	if got, want := r.header.Get("Access-Control-Expose-Headers"), "X-Request-Id, Grpc-Status, Grpc-Message"; got != want {
		t.Errorf("cross-origin call: Access-Control-Expose-Headers got %q, want %q", got, want)
	}
	if got := r.header.Get("Access-Control-Allow-Origin"); got != "https://app.example.com" {
		t.Errorf("cross-origin call: Access-Control-Allow-Origin got %q, want https://app.example.com", got)
	}
}

// TestGRPCWebReachesOnlyTheRoutedServicesMethod: the authorization
// matrix's rules hold for gRPC-Web calls, whose method comes qualified
// (/{base}/pkg.Service/Method) on a prefix route, route-less, and by the
// fully-qualified service.
func TestGRPCWebReachesOnlyTheRoutedServicesMethod(t *testing.T) {
	srv, err := grpctwo.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Stop)
	e := newEnv(t, authMatrixYAML, map[string]string{"addr": srv.Addr()})
	msg := func(text string) []byte {
		return protowire.AppendString(protowire.AppendTag(nil, 1, protowire.BytesType), text)
	}
	for _, c := range []struct {
		path, key string
		status    int
		ran       string
	}{
		{"/pub/authz.v1.PublicService/Echo", noKey, 200, pubEcho},
		{"/pubsvc/authz.v1.PublicService/Ping", noKey, 200, pubPing},
		{"/authz.v1.PublicService/Echo", noKey, 200, pubEcho},
		{"/pub/authz.v1.OtherService/Secret", goodKey, 404, ""},
		{"/pubsvc/authz.v1.OtherService/Secret", noKey, 404, ""},
		{"/pubsvc/authz.v1.OtherService/Secret", goodKey, 404, ""},
		{"/pubsvc/authz.v1.PublicService/Echo/more", goodKey, 404, ""},
		{"/priv/authz.v1.OtherService/Secret", noKey, 401, ""},
		{"/priv/authz.v1.OtherService/Secret", goodKey, 200, privSecret},
		{"/priv/authz.v1.PublicService/Echo", goodKey, 404, ""},
		{"/privsvc/authz.v1.OtherService/Echo", noKey, 401, ""},
		{"/privsvc/authz.v1.OtherService/Echo", goodKey, 200, privEcho},
		{"/privsvc/authz.v1.PublicService/Echo", goodKey, 404, ""},
		{"/authz.v1.OtherService/Secret", goodKey, 200, privSecret},
	} {
		srv.Reset()
		what := c.path + " key " + c.key
		var hdr []string
		if c.key != noKey {
			hdr = []string{"X-API-Key", c.key}
		}
		r := webPost(t, e.url+c.path, "application/grpc-web+proto", webFrame(msg("hi")), hdr...)
		calls := srv.Calls()
		if c.status != 200 {
			if r.status != c.status || len(calls) != 0 {
				t.Errorf("%s: got %d %q (backend ran %q), want %d without reaching the backend", what, r.status, r.messages, calls, c.status)
			}
			continue
		}
		wantWebStatus(t, what, r, "0", "")
		if len(calls) != 1 || calls[0] != c.ran {
			t.Errorf("%s: backend ran %q, want exactly [%s]", what, calls, c.ran)
		}
		if len(r.messages) != 1 || !bytes.Equal(r.messages[0], msg(c.ran+":hi")) {
			t.Errorf("%s: got messages %q, want one Msg{text: %q}", what, r.messages, c.ran+":hi")
		}
	}
}

// holdServer is a real gRPC server whose slow.v1.Slow/Hold sends one
// Person, then holds the stream until the caller goes; ended is closed
// when the handler returns.
type holdServer struct {
	gs    *grpc.Server
	lis   net.Listener
	ended chan struct{}
}

func startHold(t *testing.T) *holdServer {
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &holdServer{gs: grpc.NewServer(), lis: lis, ended: make(chan struct{})}
	h.gs.RegisterService(&grpc.ServiceDesc{
		ServiceName: "slow.v1.Slow",
		HandlerType: (*any)(nil),
		Streams: []grpc.StreamDesc{{StreamName: "Hold", ServerStreams: true,
			Handler: func(_ any, st grpc.ServerStream) error {
				defer close(h.ended)
				var req demov1.ListRequest
				if err := st.RecvMsg(&req); err != nil {
					return err
				}
				if err := st.SendMsg(&demov1.Person{Id: 1, Name: "first"}); err != nil {
					return err
				}
				<-st.Context().Done()
				return st.Context().Err()
			}}},
	}, struct{}{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.gs.Serve(lis)
	}()
	t.Cleanup(func() {
		h.gs.Stop()
		<-done
	})
	return h
}

func TestGRPCWebClientLeavingMidStreamEndsTheCall(t *testing.T) {
	h := startHold(t)
	g, err := newGatewayWith(`
services:
  - name: slow
    protocol: grpc
    grpc: {service: slow.v1.Slow}
    instances: [{address: "{{addr}}"}]
    timeout: 1m
`, map[string]string{"addr": h.lis.Addr().String()}, gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	served := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		g.ServeHTTP(w, r)
		close(served)
	}))
	t.Cleanup(srv.Close)

	// The deadline only bounds a failing test: reading the first message
	// must not wait for the backend to end the stream.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, "POST", srv.URL+"/slow/slow.v1.Slow/Hold", bytes.NewReader(webFrame(nil)))
	req.Header.Set("Content-Type", "application/grpc-web+proto")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	// The first message arrives while the backend still holds the stream:
	// frames are flushed as they come.
	br := bufio.NewReader(resp.Body)
	prefix := make([]byte, 5)
	if _, err := io.ReadFull(br, prefix); err != nil {
		t.Fatalf("reading the first frame: %v", err)
	}
	msg := make([]byte, binary.BigEndian.Uint32(prefix[1:]))
	if _, err := io.ReadFull(br, msg); err != nil {
		t.Fatalf("reading the first message: %v", err)
	}
	if p := person(t, msg); prefix[0] != 0 || p.GetName() != "first" {
		t.Fatalf("first frame: got flags %#x person %q, want 0x00 \"first\"", prefix[0], p.GetName())
	}
	cancel() // the browser goes away
	for what, ch := range map[string]chan struct{}{"the backend's handler": h.ended, "the gateway's handler": served} {
		select {
		case <-ch:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s still runs 10s after the client left, want it ended", what)
		}
	}
	// goleak (main_test.go) checks that no goroutine outlives the test.
}

// BenchmarkGRPCWebUnary measures one gRPC-Web unary call through the
// gateway's handler (no HTTP client on the gateway side) against the real
// sample service.
func BenchmarkGRPCWebUnary(b *testing.B) {
	addr := startPeople(b, true)
	g := newEnvB(b, webYAML, map[string]string{"addr": addr, "plain": addr})
	body := webFrame(mustMarshal(b, &demov1.GetPersonRequest{Id: 1}))
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("POST", "/people/demo.v1.PeopleService/Get", bytes.NewReader(body))
			req.Header.Set("Content-Type", "application/grpc-web+proto")
			w := httptest.NewRecorder()
			g.ServeHTTP(w, req)
			if w.Code != http.StatusOK || !bytes.Contains(w.Body.Bytes(), []byte("grpc-status: 0\r\n")) {
				b.Fatalf("got %d %q", w.Code, w.Body.String())
			}
		}
	})
}
