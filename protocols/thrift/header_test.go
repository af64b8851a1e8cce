package thrift

import (
	"context"
	"fmt"
	"maps"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// yamlClient builds the adapter from a thrift service's YAML, as the
// gateway does, and dials addr.
func yamlClient(t *testing.T, addr, protocol, transport string) *Client {
	t.Helper()
	y := fmt.Sprintf(`
services:
  - name: all
    protocol: thrift
    thrift: {idl: ../../testdata/thrift/alltypes.thrift, service: AllTypes, protocol: %s, transport: %s}
    instances: [{address: %q}]
`, protocol, transport, addr)
	c, err := mapping.Parse([]byte(y), mapping.Plugins{"thrift": Plugin{}})
	if err != nil {
		t.Fatalf("parse:\n%s\n%v", y, err)
	}
	p, err := c.Service("all").Build(mapping.ProtocolEnv{})
	if err != nil {
		t.Fatalf("build: %v", err)
	}
	cl, err := p.Dial(context.Background(), targetOf(addr))
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = cl.Close() })
	return cl.(*Client)
}

// pingWithMeta calls ping with meta and checks the reply.
func pingWithMeta(t *testing.T, c *Client, msg string, meta map[string]string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: "ping", Body: []byte(`{"msg":"` + msg + `"}`), Meta: meta})
	if err != nil {
		t.Fatalf("ping %s: %v", msg, err)
	}
	if got, want := string(res.Body), `"pong:`+msg+`"`; got != want {
		t.Fatalf("ping %s: got %s want %s", msg, got, want)
	}
}

func serverHeaders(s *testServer) map[string]string {
	if p := s.h.pingHeaders.Load(); p != nil {
		return *p
	}
	return nil
}

func TestTHeaderCarriesMetaToTheServer(t *testing.T) {
	for _, tc := range []struct {
		protocol string
		want     thrift.THeaderProtocolID
	}{
		{"binary", thrift.THeaderProtocolBinary},
		{"compact", thrift.THeaderProtocolCompact},
	} {
		t.Run(tc.protocol, func(t *testing.T) {
			s := startServer(t, serverConfig{protocol: tc.protocol, transport: "header"})
			c := yamlClient(t, s.addr, tc.protocol, "header")

			meta := map[string]string{
				"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
				"tracestate":  "rojo=00f067aa0ba902b7",
				"x-user":      "alice",
			}
			pingWithMeta(t, c, "a", meta)
			if got := serverHeaders(s); !maps.Equal(got, meta) {
				t.Fatalf("server headers: got %v want %v", got, meta)
			}
			if got, want := thrift.THeaderProtocolID(s.headerProto.Load()), tc.want; got != want {
				t.Fatalf("protocol inside THeader: got %d want %d", got, want)
			}

			// The next call on the pooled connection carries its own
			// headers only.
			next := map[string]string{"x-user": "bob"}
			pingWithMeta(t, c, "b", next)
			if got := serverHeaders(s); !maps.Equal(got, next) {
				t.Fatalf("server headers of the second call: got %v want %v", got, next)
			}
			pingWithMeta(t, c, "c", nil)
			if got := serverHeaders(s); len(got) != 0 {
				t.Fatalf("server headers of a call without meta: got %v want none", got)
			}
			if got := s.accepted.Load(); got != 1 {
				t.Fatalf("accepted connections: got %d want 1", got)
			}
		})
	}
}

func TestTHeaderToAPlainFramedServerIsBackendError(t *testing.T) {
	for _, protocol := range []string{"binary", "compact"} {
		t.Run(protocol, func(t *testing.T) {
			s := startServer(t, serverConfig{protocol: protocol, transport: "framed"})
			c := yamlClient(t, s.addr, protocol, "header")
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, err := c.Invoke(ctx, &generic.Call{Method: "ping", Body: []byte(`{"msg":"x"}`), Meta: map[string]string{"x-user": "alice"}})
			e := generic.AsError(err)
			if e.Code != generic.CodeBackendError || e.HTTPStatus() != 502 {
				t.Fatalf("got %v want BACKEND_ERROR (502)", err)
			}
			if got, want := e.Message, "backend closed the connection without a THeader reply: does it speak thrift.transport header?"; got != want {
				t.Fatalf("message: got %q want %q", got, want)
			}
			if ctx.Err() != nil {
				t.Fatalf("the call ran into its deadline: %v", ctx.Err())
			}
		})
	}
}

func TestTHeaderRefusesAReplyInAnotherFormat(t *testing.T) {
	// A framed binary reply to a THeader request.
	buf := thrift.NewTMemoryBuffer()
	p := thrift.NewTBinaryProtocolConf(buf, nil)
	_ = p.WriteMessageBegin(context.Background(), "ping", thrift.REPLY, 1)
	addr := rawServer(t, append(buf.Bytes(), byte(thrift.STRING), 0, 0, 0, 0, 0, 0, 0, 0))
	c := yamlClient(t, addr, "binary", "header")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := c.Invoke(ctx, &generic.Call{Method: "ping", Body: []byte(`{"msg":"x"}`)})
	if err == nil {
		t.Fatalf("got reply %s want BACKEND_ERROR", res.Body)
	}
	e := generic.AsError(err)
	if e.Code != generic.CodeBackendError || e.HTTPStatus() != 502 {
		t.Fatalf("got %v want BACKEND_ERROR (502)", err)
	}
	if got, want := e.Message, "backend reply is not THeader: the backend does not speak thrift.transport header"; got != want {
		t.Fatalf("message: got %q want %q", got, want)
	}
	if n := len(c.pool.idle); n != 0 {
		t.Fatalf("idle connections after the reply: got %d want 0", n)
	}
}

func TestTHeaderSlowHandlerTimesOutAndConnectionIsNotReused(t *testing.T) {
	cfg := serverConfig{protocol: "compact", transport: "header"}
	s := startServer(t, cfg)
	c := newClient(t, s, cfg, nil)
	pingWithMeta(t, c, "a", map[string]string{"x-user": "alice"})
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, err := c.Invoke(ctx, &generic.Call{Method: "slow", Body: []byte(`{"ms":2000}`)})
	if got := generic.CodeOf(err); got != generic.CodeDeadlineExceeded {
		t.Fatalf("got %v want DEADLINE_EXCEEDED", err)
	}
	pingWithMeta(t, c, "b", map[string]string{"x-user": "bob"})
	if got, want := serverHeaders(s), map[string]string{"x-user": "bob"}; !maps.Equal(got, want) {
		t.Fatalf("server headers: got %v want %v", got, want)
	}
	if got := s.accepted.Load(); got != 2 {
		t.Fatalf("accepted connections: got %d want 2 (the timed-out one discarded)", got)
	}
}

func TestTHeaderTransportIsAccepted(t *testing.T) {
	if _, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes", Transport: "header"}); err != nil {
		t.Fatalf("New with transport header: %v", err)
	}
	_, err := New(Options{IDL: "../../testdata/thrift/alltypes.thrift", Service: "AllTypes", Transport: "http"})
	if got, want := fmt.Sprint(err), `thrift: transport "http" is not supported (want framed, buffered or header)`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	c := &Config{IDL: "x.thrift", Service: "S", Protocol: "binary", Transport: "bogus"}
	if got, want := fmt.Sprint(c.Validate(nil)), `[thrift.transport: want framed, buffered or header, got "bogus"]`; got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	c.Transport = "header"
	if got := c.Validate(nil); len(got) != 0 {
		t.Fatalf("got %v want no problems for transport header", got)
	}
}
