package grpc

import (
	"context"
	"net"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	gogrpc "google.golang.org/grpc"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/metadata"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/people/demov1"
	"github.com/rpcbridge/rpcbridge/generic"
)

const peopleProtoset = "../../testdata/grpc/people.protoset"

// contentTypes records the content-type of every call a server receives.
type contentTypes struct {
	mu   sync.Mutex
	seen []string
}

func (c *contentTypes) record(ctx context.Context) {
	md, _ := metadata.FromIncomingContext(ctx)
	c.mu.Lock()
	c.seen = append(c.seen, strings.Join(md.Get("content-type"), ","))
	c.mu.Unlock()
}

func (c *contentTypes) all() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.seen...)
}

func serveGRPC(t *testing.T, gs *gogrpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = gs.Serve(lis) }()
	t.Cleanup(func() { gs.Stop(); <-done })
	return lis.Addr().String()
}

func dialProtoset(t *testing.T, o Options, addr string) *client {
	t.Helper()
	o.Protosets = []string{peopleProtoset}
	if o.Service == "" {
		o.Service = "demo.v1.PeopleService"
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: addr})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c.(*client)
}

func TestTranscodedRepliesMatchProtojsonAndKeepContentType(t *testing.T) {
	ct := &contentTypes{}
	gs := gogrpc.NewServer(
		gogrpc.UnaryInterceptor(func(ctx context.Context, req any, _ *gogrpc.UnaryServerInfo, h gogrpc.UnaryHandler) (any, error) {
			ct.record(ctx)
			return h(ctx, req)
		}),
		gogrpc.StreamInterceptor(func(srv any, ss gogrpc.ServerStream, _ *gogrpc.StreamServerInfo, h gogrpc.StreamHandler) error {
			ct.record(ss.Context())
			return h(srv, ss)
		}))
	demov1.RegisterPeopleServiceServer(gs, people.NewService())
	addr := serveGRPC(t, gs)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	for _, emit := range []bool{false, true} {
		c := dialProtoset(t, Options{EmitDefaults: emit}, addr)
		s := c.cur.Load()
		_, get := s.find("demo.v1.PeopleService", "Get")
		_, list := s.find("demo.v1.PeopleService", "List")
		_, echo := s.find("demo.v1.PeopleService", "Echo")
		if get.reply == nil || list.reply == nil {
			t.Fatalf("got no reply plan for Get or List, want plans (Person needs no protojson)")
		}
		if echo.reply != nil {
			t.Fatalf("got a reply plan for Echo, want the protojson path (Everything holds Any and Struct)")
		}
		if in, err := c.request(get, []byte(`{"id":"2"}`)); err != nil {
			t.Fatal(err)
		} else if _, ok := in.(rawRequest); !ok {
			t.Fatalf("got request %T for Get, want rawRequest (direct encoding)", in)
		}
		mo := protojson.MarshalOptions{EmitUnpopulated: emit}
		for _, p := range people.People() {
			res, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":` + itoa(p.Id) + `}`)})
			if err != nil {
				t.Fatalf("Get %d: %v", p.Id, err)
			}
			want, _ := mo.Marshal(p)
			compareJSON(t, res.Body, want)
		}
		var got [][]byte
		_, err := c.Invoke(ctx, &generic.Call{Method: "List", Body: []byte(`{}`),
			OnMessage: func(b []byte) error { got = append(got, b); return nil }})
		if err != nil {
			t.Fatalf("List: %v", err)
		}
		all := people.People()
		if len(got) != len(all) {
			t.Fatalf("List: got %d messages, want %d", len(got), len(all))
		}
		for i, p := range all {
			want, _ := mo.Marshal(p)
			compareJSON(t, got[i], want)
		}
		// Echo takes the protojson path and still works.
		res, err := c.Invoke(ctx, &generic.Call{Method: "Echo", Body: []byte(`{"i64":"9007199254740993","attrs":{"a":1}}`)})
		if err != nil {
			t.Fatalf("Echo: %v", err)
		}
		if !strings.Contains(string(res.Body), `"9007199254740993"`) {
			t.Fatalf("Echo: got %s, want i64 kept", res.Body)
		}
	}
	for _, v := range ct.all() {
		if v != "application/grpc" {
			t.Fatalf("got content-type %q on the wire, want application/grpc", v)
		}
	}
	if n := len(ct.all()); n != 2*(len(people.People())+2) {
		t.Fatalf("got %d calls recorded, want %d", n, 2*(len(people.People())+2))
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

func compareJSON(t *testing.T, got, want []byte) {
	t.Helper()
	g, err := decodeNumbers(got)
	if err != nil {
		t.Fatalf("got invalid JSON %s: %v", got, err)
	}
	w, _ := decodeNumbers(want)
	if !reflect.DeepEqual(g, w) {
		t.Fatalf("got  %s\nwant %s", got, want)
	}
}

// rawCodec lets a test server send arbitrary bytes as a reply.
type rawCodec struct{}

func (rawCodec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}
func (rawCodec) Unmarshal(data mem.BufferSlice, v any) error {
	*(v.(*[]byte)) = data.Materialize()
	return nil
}
func (rawCodec) Name() string { return "proto" }

// rawServer answers every call with the bytes reply holds for its method.
func rawServer(t *testing.T, reply map[string][]byte) string {
	gs := gogrpc.NewServer(gogrpc.ForceServerCodecV2(rawCodec{}),
		gogrpc.UnknownServiceHandler(func(_ any, ss gogrpc.ServerStream) error {
			var in []byte
			if err := ss.RecvMsg(&in); err != nil {
				return err
			}
			m, _ := gogrpc.MethodFromServerStream(ss)
			return ss.SendMsg(reply[m])
		}))
	return serveGRPC(t, gs)
}

func TestBadRepliesFailAsOnTheProtojsonPath(t *testing.T) {
	late, _ := proto.Marshal(&demov1.Person{Id: 1, CreatedAt: &timestamppb.Timestamp{Seconds: 253402300800}})
	addr := rawServer(t, map[string][]byte{
		"/demo.v1.PeopleService/Get":  {0x08, 0x80}, // truncated varint
		"/demo.v1.PeopleService/List": late,
		// a map entry whose key is repeated with the wrong wire type makes
		// protobuf-go v1.36.12 panic while decoding into dynamicpb
		"/demo.v1.PeopleService/Echo": []byte("z\x05\n\x010\b0"),
	})
	c := dialProtoset(t, Options{}, addr)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := c.Invoke(ctx, &generic.Call{Method: "Get", Body: []byte(`{"id":1}`)})
	ge, ok := err.(*generic.Error)
	if !ok || ge.Code != generic.CodeInternal || !strings.Contains(ge.Message, "failed to unmarshal the received message") {
		t.Fatalf("got %v, want an internal error saying the reply could not be unmarshalled", err)
	}
	_, err = c.Invoke(ctx, &generic.Call{Method: "Echo", Body: []byte(`{}`)})
	ge, ok = err.(*generic.Error)
	if !ok || ge.Code != generic.CodeInternal || !strings.Contains(ge.Message, "failed to unmarshal the received message") {
		t.Fatalf("got %v, want an internal error saying the reply could not be unmarshalled", err)
	}
	_, err = c.Invoke(ctx, &generic.Call{Method: "List", Body: []byte(`{}`), OnMessage: func([]byte) error { return nil }})
	ge, ok = err.(*generic.Error)
	if !ok || ge.Code != generic.CodeBackendError || !strings.Contains(ge.Message, "could not be written as JSON") {
		t.Fatalf("got %v, want a backend error saying the message could not be written as JSON", err)
	}
}
