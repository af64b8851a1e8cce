package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// A protocol is one plug-in value and one line of wiring: this test adds
// "echo", an in-memory protocol defined here, to the plug-ins serve uses,
// and calls it through the gateway from YAML (a route, a route-less call
// checked against its schema, its own strictly decoded section).

// echoPlugin reads a service's echo: section.
type echoPlugin struct{}

type echoConfig struct {
	Greeting string   `yaml:"greeting"`
	Methods  []string `yaml:"methods"`
}

func (echoPlugin) Section() string { return "echo" }

func (echoPlugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	c := &echoConfig{}
	if err := mapping.DecodeStrict(in.Node, in.At("echo"), c); err != nil {
		return nil, err
	}
	return c, nil
}

func (c *echoConfig) ResolvePaths(string) {}
func (c *echoConfig) Validate(*mapping.Service) []string {
	if c.Greeting == "" {
		return []string{"echo.greeting is required"}
	}
	return nil
}
func (c *echoConfig) Key(*mapping.Service) string {
	return c.Greeting + "/" + strings.Join(c.Methods, ",")
}
func (c *echoConfig) QualifiedName() string     { return "" }
func (c *echoConfig) DeclaredMethods() []string { return nil }
func (c *echoConfig) Build(*mapping.Service, mapping.ProtocolEnv) (generic.Protocol, error) {
	return echoProtocol{c}, nil
}

// echoProtocol answers {"greeting", "method", "body"}; its schema lists
// the configured methods.
type echoProtocol struct{ c *echoConfig }

func (echoProtocol) Name() string { return "echo" }
func (p echoProtocol) Dial(context.Context, generic.Target) (generic.Client, error) {
	return p, nil
}
func (p echoProtocol) Invoke(_ context.Context, call *generic.Call) (*generic.Result, error) {
	body := call.Body
	if len(body) == 0 {
		body = []byte("{}")
	}
	g, _ := json.Marshal(p.c.Greeting)
	m, _ := json.Marshal(call.Method)
	return &generic.Result{Body: []byte(fmt.Sprintf(`{"greeting":%s,"method":%s,"body":%s}`, g, m, body))}, nil
}
func (p echoProtocol) Describe(context.Context) (*generic.ServiceSchema, error) {
	s := &generic.ServiceSchema{Name: "echo"}
	for _, m := range p.c.Methods {
		s.Methods = append(s.Methods, &generic.MethodSchema{Name: m, Input: &generic.Type{Kind: generic.KindMessage}})
	}
	return s, nil
}
func (echoProtocol) Close() error { return nil }

const echoYAML = `
services:
  - name: echoes
    protocol: echo
    echo: {greeting: hello, methods: [Greet, Wave]}
    instances: [{address: 127.0.0.1:1}]
routes:
  - match: {path: /v1/greet, methods: [POST]}
    service: echoes
    method: Greet
`

func TestAToyProtocolIsOnePluginAndOneLineOfWiring(t *testing.T) {
	pl := plugins()
	pl["echo"] = echoPlugin{} // the one line of wiring

	cfg, err := mapping.Parse([]byte(echoYAML), pl)
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	g, err := gateway.New(cfg, []byte(echoYAML), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	srv := httptest.NewServer(g)
	defer srv.Close()

	post := func(path, service, body string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if service != "" {
			req.Header.Set("serviceName", service)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, c := range []struct {
		path, service, body string
		status              int
		want                string
	}{
		{"/v1/greet", "", `{"id":9007199254740993}`, 200, `{"greeting":"hello","method":"Greet","body":{"id":9007199254740993}}`},
		{"/echoes/Wave", "", `{}`, 200, `{"greeting":"hello","method":"Wave","body":{}}`},
		// serviceName routing answers from the plug-in's schema.
		{"/api/Wave", "echoes", `{}`, 200, `{"greeting":"hello","method":"Wave","body":{}}`},
		{"/api/Bow", "echoes", `{}`, 404, `service \"echoes\" has no API \"Bow\"`},
	} {
		status, body := post(c.path, c.service, c.body)
		if status != c.status || !strings.Contains(body, c.want) {
			t.Errorf("POST %s: got %d %s, want %d with %s", c.path, status, body, c.status, c.want)
		}
	}

	// The section is the plug-in's: decoded strictly, validated by it.
	for _, c := range []struct{ yaml, want string }{
		{strings.Replace(echoYAML, "{greeting: hello,", "{greting: hello,", 1), `line 5: services[0].echo: unknown key "greting" (did you mean "greeting"?)`},
		{strings.Replace(echoYAML, "greeting: hello, ", "", 1), `services[0] "echoes": echo.greeting is required`},
		{strings.Replace(echoYAML, "protocol: echo", "protocol: http", 1), `services[0] "echoes": has a echo section but protocol is "http"`},
	} {
		_, err := mapping.Parse([]byte(c.yaml), pl)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("got %v, want %s", err, c.want)
		}
	}
	if _, err := mapping.Parse([]byte(echoYAML), plugins()); err == nil || !strings.Contains(err.Error(), `line 5: services[0]: unknown key "echo"`) {
		t.Errorf("without the wiring line: got %v, want the protocol refused", err)
	}
}
