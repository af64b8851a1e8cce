package gateway_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

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
