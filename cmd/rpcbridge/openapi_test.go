package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// `rpcbridge openapi` on the demo config: every protocol's operations,
// Dubbo's from YAML and HTTP's route-less form included, and a document
// that validates against the OpenAPI 3.1 schema.
func TestOpenAPICommandOnTheDemoConfig(t *testing.T) {
	vars := demoBackendsProcess(t)
	vars["listen"], vars["admin"] = freeAddr(t), freeAddr(t)
	cfg := filepath.Join(t.TempDir(), "demo.yaml")
	if err := os.WriteFile(cfg, []byte(demoYAML(vars)), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"openapi", "-c", cfg}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	f, err := os.Open("../../testdata/openapi/oas31-schema.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	meta, err := jsonschema.UnmarshalJSON(f)
	if err != nil {
		t.Fatal(err)
	}
	c := jsonschema.NewCompiler()
	const id = "https://spec.openapis.org/oas/3.1/schema/2022-10-07"
	if err := c.AddResource(id, meta); err != nil {
		t.Fatal(err)
	}
	schema, err := c.Compile(id)
	if err != nil {
		t.Fatal(err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(out.Bytes()))
	if err != nil {
		t.Fatalf("not JSON: %v", err)
	}
	if err := schema.Validate(doc); err != nil {
		t.Fatalf("the demo's document does not validate against OpenAPI 3.1: %v", err)
	}
	// The paths and schemas of all five protocols, against the golden file
	// (go test -run TestOpenAPICommandOnTheDemoConfig ./cmd/rpcbridge/ -update rewrites it).
	var d map[string]json.RawMessage
	json.Unmarshal(out.Bytes(), &d)
	var comps map[string]json.RawMessage
	json.Unmarshal(d["components"], &comps)
	got, _ := json.MarshalIndent(map[string]json.RawMessage{"paths": d["paths"], "schemas": comps["schemas"]}, "", "  ")
	golden := "../../testdata/openapi/demo.json"
	if *update {
		os.WriteFile(golden, append(got, '\n'), 0o644)
	}
	if want, err := os.ReadFile(golden); err != nil || !bytes.Equal(bytes.TrimSpace(got), bytes.TrimSpace(want)) {
		t.Errorf("the demo's paths and schemas differ from %s (%v)", golden, err)
	}
	for _, want := range []string{`"/v1/people/{id}"`, `"/people/Get"`, `"/orders/getOrder"`, `"/stock/getQuote"`, `"/users/getUser"`, `"/v1/users/{id}"`, `"text/event-stream"`} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the demo's document lacks %s", want)
		}
	}
}
