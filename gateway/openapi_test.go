package gateway_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"google.golang.org/grpc"
	"google.golang.org/grpc/reflection"
	reflectionpb "google.golang.org/grpc/reflection/grpc_reflection_v1"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protodesc"
	"google.golang.org/protobuf/reflect/protoregistry"
	"google.golang.org/protobuf/types/descriptorpb"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/stock"
)

var updateOpenAPI = flag.Bool("update-openapi", false, "rewrite testdata/openapi/*.json from the documents generated now")

// oas31 compiles the official OpenAPI 3.1 schema
// (testdata/openapi/oas31-schema.json, https://spec.openapis.org/oas/3.1/schema/2022-10-07).
func oas31(t *testing.T) *jsonschema.Schema {
	t.Helper()
	f, err := os.Open("../testdata/openapi/oas31-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	doc, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	if err := c.AddResource("https://spec.openapis.org/oas/3.1/schema/2022-10-07", doc); err != nil {
		t.Fatal(err)
	}
	s, err := c.Compile("https://spec.openapis.org/oas/3.1/schema/2022-10-07")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// The document generated for a service of each protocol validates against
// the OpenAPI 3.1 schema, and its paths and schemas are the golden ones.
func TestOpenAPIFromLiveSchemasValidatesAndMatchesTheGoldenFiles(t *testing.T) {
	schema := oas31(t)
	dir := t.TempDir()
	osrv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { osrv.Stop() })
	ssrv, err := stock.Start("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ssrv.Stop() })
	os.WriteFile(filepath.Join(dir, "order.thrift"), orders.IDL, 0o644)
	os.WriteFile(filepath.Join(dir, "Stock.tars"), stock.IDL, 0o644)
	for _, c := range []struct{ name, yaml string }{
		{"grpc", `
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: "{{people}}"}]
routes:
  - {match: {path: "/v1/people/{id}", methods: [GET]}, service: people, method: Get}
`},
		{"thrift", `
services:
  - name: orders
    protocol: thrift
    thrift: {idl: "{{dir}}/order.thrift", service: OrderService}
    instances: [{address: "{{orders}}"}]
routes:
  - {match: {path: "/v1/orders/{id}", methods: [GET]}, service: orders, method: getOrder}
`},
		{"tars", `
services:
  - name: stock
    protocol: tars
    tars: {idl: "{{dir}}/Stock.tars", servant: Demo.StockServer.StockObj, interface: Stock}
    instances: [{address: "{{stock}}"}]
routes:
  - {match: {path: "/v1/quotes/{code}", methods: [GET]}, service: stock, method: getQuote}
`},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t, c.yaml, map[string]string{"people": startPeople(t, true), "orders": osrv.Addr(), "stock": ssrv.Addr(), "dir": dir})
			r := do(t, "GET", e.adm+"/openapi.json", "")
			if r.status != 200 {
				t.Fatalf("GET /openapi.json: got %d %s", r.status, r.body)
			}
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader([]byte(r.body)))
			if err != nil {
				t.Fatal(err)
			}
			if err := schema.Validate(doc); err != nil {
				t.Fatalf("the document does not validate against OpenAPI 3.1: %v", err)
			}
			var d map[string]json.RawMessage
			json.Unmarshal([]byte(r.body), &d)
			var comps map[string]json.RawMessage
			json.Unmarshal(d["components"], &comps)
			got, _ := json.MarshalIndent(map[string]json.RawMessage{"paths": d["paths"], "schemas": comps["schemas"]}, "", "  ")
			golden := filepath.Join("..", "testdata", "openapi", c.name+".json")
			if *updateOpenAPI {
				os.WriteFile(golden, append(got, '\n'), 0o644)
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
				t.Errorf("paths and schemas differ from %s (go test -run TestOpenAPI ./gateway/ -update-openapi rewrites it; then read the diff):\n%s", golden, got)
			}
		})
	}
}

// widgetsServer serves reflection for demo.widgets.v1.Widgets with the
// given methods (each Req -> Reply), on l.
func widgetsServer(t *testing.T, l net.Listener, methods ...string) *grpc.Server {
	t.Helper()
	msg := func(name string, fields ...string) *descriptorpb.DescriptorProto {
		d := &descriptorpb.DescriptorProto{Name: proto.String(name)}
		for i, f := range fields {
			d.Field = append(d.Field, &descriptorpb.FieldDescriptorProto{Name: proto.String(f), Number: proto.Int32(int32(i + 1)),
				Type: descriptorpb.FieldDescriptorProto_TYPE_STRING.Enum(), Label: descriptorpb.FieldDescriptorProto_LABEL_OPTIONAL.Enum(), JsonName: proto.String(f)})
		}
		return d
	}
	svc := &descriptorpb.ServiceDescriptorProto{Name: proto.String("Widgets")}
	info := grpc.ServiceInfo{}
	for _, m := range methods {
		svc.Method = append(svc.Method, &descriptorpb.MethodDescriptorProto{Name: proto.String(m), InputType: proto.String(".demo.widgets.v1.Req"), OutputType: proto.String(".demo.widgets.v1.Reply")})
		info.Methods = append(info.Methods, grpc.MethodInfo{Name: m})
	}
	fd, err := protodesc.NewFile(&descriptorpb.FileDescriptorProto{Name: proto.String("widgets.proto"), Package: proto.String("demo.widgets.v1"), Syntax: proto.String("proto3"),
		MessageType: []*descriptorpb.DescriptorProto{msg("Req", "id"), msg("Reply", "id", "name")}, Service: []*descriptorpb.ServiceDescriptorProto{svc}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	files := &protoregistry.Files{}
	if err := files.RegisterFile(fd); err != nil {
		t.Fatal(err)
	}
	s := grpc.NewServer()
	reflectionpb.RegisterServerReflectionServer(s, reflection.NewServerV1(reflection.ServerOptions{
		Services: fixedServices{"demo.widgets.v1.Widgets": info}, DescriptorResolver: files}))
	go s.Serve(l)
	return s
}

type fixedServices map[string]grpc.ServiceInfo

func (f fixedServices) GetServiceInfo() map[string]grpc.ServiceInfo { return f }

// A backend that starts serving a new method shows it in the document once
// the schemas are fetched again (?refresh=1, or the keeper's own refresh).
func TestOpenAPIFollowsABackendsSchema(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	v1 := widgetsServer(t, l, "Get")
	e := newEnv(t, `
services:
  - name: widgets
    protocol: grpc
    grpc: {service: demo.widgets.v1.Widgets, schema: {reflection: {refresh: 1ms}}}
    instances: [{address: "{{addr}}"}]
`, map[string]string{"addr": addr})
	if r := do(t, "GET", e.adm+"/openapi.json", ""); !strings.Contains(r.body, `"/widgets/Get"`) || strings.Contains(r.body, `"/widgets/List"`) {
		t.Fatalf("v1: got %s, want /widgets/Get only", r.body)
	}
	v1.Stop()
	l2, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	v2 := widgetsServer(t, l2, "Get", "List")
	defer v2.Stop()
	waitUntil(t, "the new method in the document", 10*time.Second, func() bool {
		return strings.Contains(do(t, "GET", e.adm+"/openapi.json?refresh=1", "").body, `"/widgets/List"`)
	})
}
