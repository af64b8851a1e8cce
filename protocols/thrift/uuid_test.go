package thrift

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/apache/thrift/lib/go/thrift"

	"github.com/rpcbridge/rpcbridge/generic"
)

const uuidIDL = `
typedef uuid TraceId
struct Span { 1: TraceId trace, 2: optional uuid parent }
service Ids {
  map<uuid, list<uuid>> group(1: uuid key, 2: list<uuid> ids)
  Span span(1: Span s)
}
`

// groupFunc serves Ids.group with Apache Thrift's own protocol code (the
// Thrift compiler available here predates uuid, so the processor is
// written out as a generated one would be): it reads the key and the list
// with ReadUUID and answers {key: ids}.
type groupFunc struct{}

func (g groupFunc) Process(ctx context.Context, seq int32, in, out thrift.TProtocol) (bool, thrift.TException) {
	err := g.serve(ctx, seq, in, out)
	return err == nil, thrift.WrapTException(err)
}

func (groupFunc) serve(ctx context.Context, seq int32, in, out thrift.TProtocol) error {
	var key thrift.Tuuid
	var ids []thrift.Tuuid
	if _, err := in.ReadStructBegin(ctx); err != nil {
		return err
	}
	for {
		_, typ, id, err := in.ReadFieldBegin(ctx)
		if err != nil {
			return err
		}
		if typ == thrift.STOP {
			break
		}
		switch {
		case id == 1 && typ == thrift.UUID:
			if key, err = in.ReadUUID(ctx); err != nil {
				return err
			}
		case id == 2 && typ == thrift.LIST:
			_, n, err := in.ReadListBegin(ctx)
			if err != nil {
				return err
			}
			for range n {
				u, err := in.ReadUUID(ctx)
				if err != nil {
					return err
				}
				ids = append(ids, u)
			}
			if err := in.ReadListEnd(ctx); err != nil {
				return err
			}
		default:
			if err := in.Skip(ctx, typ); err != nil {
				return err
			}
		}
		if err := in.ReadFieldEnd(ctx); err != nil {
			return err
		}
	}
	in.ReadStructEnd(ctx)
	in.ReadMessageEnd(ctx)
	out.WriteMessageBegin(ctx, "group", thrift.REPLY, seq)
	out.WriteStructBegin(ctx, "group_result")
	out.WriteFieldBegin(ctx, "success", thrift.MAP, 0)
	out.WriteMapBegin(ctx, thrift.UUID, thrift.LIST, 1)
	out.WriteUUID(ctx, key)
	out.WriteListBegin(ctx, thrift.UUID, len(ids))
	for _, u := range ids {
		out.WriteUUID(ctx, u)
	}
	out.WriteListEnd(ctx)
	out.WriteMapEnd(ctx)
	out.WriteFieldEnd(ctx)
	out.WriteFieldStop(ctx)
	out.WriteStructEnd(ctx)
	out.WriteMessageEnd(ctx)
	return out.Flush(ctx)
}

// TestUUIDRoundTripsThroughARealServer: uuid as an argument, in a list,
// as a map key and through a typedef, over the binary and compact
// protocols; malformed text is a clear 400.
func TestUUIDRoundTripsThroughARealServer(t *testing.T) {
	for _, proto := range []string{"binary", "compact"} {
		t.Run(proto, func(t *testing.T) {
			proc := thrift.NewTMultiplexedProcessor()
			proc.RegisterDefault(processorOf(map[string]thrift.TProcessorFunction{"group": groupFunc{}}))
			var pf thrift.TProtocolFactory = thrift.NewTBinaryProtocolFactoryConf(nil)
			if proto == "compact" {
				pf = thrift.NewTCompactProtocolFactoryConf(nil)
			}
			l, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			sock := thrift.NewTServerSocketFromFactoryTimeout(func(net.Addr) (net.Listener, error) { return l, nil }, l.Addr(), 0)
			srv := thrift.NewTSimpleServer4(proc, sock, thrift.NewTFramedTransportFactoryConf(thrift.NewTTransportFactory(), nil), pf)
			srv.SetLogContext(context.Background())
			if err := srv.Listen(); err != nil {
				t.Fatal(err)
			}
			done := make(chan struct{})
			go func() { defer close(done); srv.AcceptLoop() }()
			t.Cleanup(func() { srv.Stop(); <-done })

			p, err := New(Options{IDL: writeIDL(t, t.TempDir(), "ids.thrift", uuidIDL), Service: "Ids",
				Protocol: proto, Transport: "framed", IdleTimeout: time.Minute})
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			if k := p.Schema().Method("group").Input.Field("key").Type.Kind; k != "string" {
				t.Fatalf("schema: got key kind %s, want string", k)
			}
			if k := p.Schema().Method("span").Input.Field("s").Type.Field("trace").Type.Kind; k != "string" {
				t.Fatalf("schema: got kind %s for a typedef of uuid, want string", k)
			}
			c, err := p.Dial(context.Background(), targetOf(l.Addr().String()))
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			res, err := c.Invoke(ctx, &generic.Call{Method: "group",
				Body: []byte(`{"key":"00112233-4455-6677-8899-AABBCCDDEEFF","ids":["f81d4fae-7dec-11d0-a765-00a0c91e6bf6","00000000-0000-0000-0000-000000000000"]}`)})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if got, want := string(res.Body), `{"00112233-4455-6677-8899-aabbccddeeff":["f81d4fae-7dec-11d0-a765-00a0c91e6bf6","00000000-0000-0000-0000-000000000000"]}`; got != want {
				t.Fatalf("got %s, want %s", got, want)
			}
			_, err = c.Invoke(ctx, &generic.Call{Method: "group", Body: []byte(`{"key":"not-a-uuid"}`)})
			if e := generic.AsError(err); e.Code != generic.CodeInvalidArgument || !strings.Contains(e.Message, `want a uuid (8-4-4-4-12 hex digits), got "not-a-uuid"`) {
				t.Fatalf("bad uuid: got %v, want INVALID_ARGUMENT naming the value", err)
			}
			_, err = c.Invoke(ctx, &generic.Call{Method: "group", Body: []byte(`{"key":42}`)})
			if e := generic.AsError(err); e.Code != generic.CodeInvalidArgument || !strings.Contains(e.Message, "want uuid") {
				t.Fatalf("number for a uuid: got %v, want INVALID_ARGUMENT", err)
			}
		})
	}
}

// processorOf is a processor serving the given functions.
type processorOf map[string]thrift.TProcessorFunction

func (p processorOf) Process(ctx context.Context, in, out thrift.TProtocol) (bool, thrift.TException) {
	name, _, seq, err := in.ReadMessageBegin(ctx)
	if err != nil {
		return false, thrift.WrapTException(err)
	}
	if f := p[name]; f != nil {
		return f.Process(ctx, seq, in, out)
	}
	in.Skip(ctx, thrift.STRUCT)
	in.ReadMessageEnd(ctx)
	x := thrift.NewTApplicationException(thrift.UNKNOWN_METHOD, "unknown method "+name)
	out.WriteMessageBegin(ctx, name, thrift.EXCEPTION, seq)
	x.Write(ctx, out)
	out.WriteMessageEnd(ctx)
	return false, thrift.WrapTException(out.Flush(ctx))
}

func (p processorOf) ProcessorMap() map[string]thrift.TProcessorFunction { return p }

func (p processorOf) AddToProcessorMap(name string, f thrift.TProcessorFunction) { p[name] = f }
