package gateway

// An OpenAPI 3.1 document generated from the services' live schemas: one
// operation per route and per route-less method, request and reply
// schemas from the protocol-neutral types, the error body shared.

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// OpenAPI returns the OpenAPI 3.1 document of the config in force, from
// the schemas the services' backends publish (fetched when none is cached
// yet, within ctx).
func (g *Gateway) OpenAPI(ctx context.Context) ([]byte, error) {
	return g.openAPI(ctx, false)
}

// openAPI builds the document; refresh fetches every schema anew first
// (and keeps what it fetched for routing too).
func (g *Gateway) openAPI(ctx context.Context, refresh bool) ([]byte, error) {
	st := g.state.Load()
	schemas := map[string]*generic.ServiceSchema{}
	for name, c := range st.clusters {
		if refresh {
			if s, err := c.fetchSchema(ctx); err == nil {
				c.schemas.cur.Store(s)
			}
		}
		if s, err := c.describe(ctx); err == nil {
			schemas[name] = s
		}
	}
	return json.MarshalIndent(buildOpenAPI(st, schemas), "", "  ")
}

type oaBuilder struct {
	components map[string]any
	named      map[*generic.Type]string
	used       map[string]bool
}

func buildOpenAPI(st *state, schemas map[string]*generic.ServiceSchema) map[string]any {
	b := &oaBuilder{components: map[string]any{}, named: map[*generic.Type]string{}, used: map[string]bool{}}
	paths := map[string]map[string]any{}
	add := func(path, method string, op map[string]any) {
		if paths[path] == nil {
			paths[path] = map[string]any{}
		}
		paths[path][method] = op
	}
	for i := range st.cfg.Routes {
		r := &st.cfg.Routes[i]
		if r.Match.Path == "" || r.Compose != nil || r.Method == "" {
			continue
		}
		svc := st.cfg.Service(r.Service)
		m := schemas[r.Service].Method(r.Method)
		methods := r.Match.Methods
		if len(methods) == 0 {
			methods = []string{http.MethodGet, http.MethodPost}
		}
		for _, hm := range methods {
			hm = strings.ToLower(hm)
			add(r.Match.Path, hm, b.operation(svc, r.Method, m, hm, pathParams(r.Match.Path), "route"))
		}
	}
	names := make([]string, 0, len(st.cfg.Services))
	for _, s := range st.cfg.Services {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	for _, name := range names {
		svc := st.cfg.Service(name)
		sc := schemas[name]
		if sc == nil {
			continue
		}
		for _, m := range sc.Methods {
			add("/"+name+"/"+m.Name, "post", b.operation(svc, m.Name, m, "post", nil, "route-less"))
		}
	}
	b.components["Error"] = errorSchema()
	version := st.version
	return map[string]any{
		"openapi": "3.1.0",
		"info": map[string]any{
			"title":       "rpcbridge",
			"version":     version,
			"description": "Generated from the live schemas of the services behind this gateway (server reflection, descriptor sets, IDL files, declared types), for the config version in force.",
		},
		"paths": paths,
		"components": map[string]any{
			"schemas": b.components,
			"responses": map[string]any{
				"Error": map[string]any{
					"description": "Every failure: one JSON error body (see the README's status table).",
					"content":     map[string]any{"application/json": map[string]any{"schema": ref("Error")}},
				},
			},
		},
	}
}

var pathParamRE = regexp.MustCompile(`\{([^}/]+)\}`)

func pathParams(p string) []string {
	var out []string
	for _, m := range pathParamRE.FindAllStringSubmatch(p, -1) {
		out = append(out, m[1])
	}
	return out
}

// operation describes one way to call a method.
func (b *oaBuilder) operation(svc *mapping.Service, method string, m *generic.MethodSchema, httpMethod string, params []string, how string) map[string]any {
	op := map[string]any{
		"operationId": operationID(svc.Name, method, httpMethod, how),
		"summary":     svc.Name + "." + method + " (" + svc.Protocol + ")",
		"tags":        []string{svc.Name},
	}
	var input *generic.Type
	if m != nil {
		input = m.Input
	}
	var ps []any
	for _, p := range params {
		schema := map[string]any{"type": "string"}
		if f := input.Field(p); f != nil {
			schema = b.schema(f.Type)
		}
		ps = append(ps, map[string]any{"name": p, "in": "path", "required": true, "schema": schema})
	}
	if len(ps) > 0 {
		op["parameters"] = ps
	}
	if httpMethod != "get" && httpMethod != "delete" {
		body := map[string]any{"type": "object"}
		if input != nil {
			body = b.schema(input)
		}
		content := map[string]any{"schema": body}
		if input != nil {
			content["example"] = example(input, 0)
		}
		reqContent := map[string]any{"application/json": content}
		if m != nil && m.ClientStreaming {
			reqContent["application/x-ndjson"] = map[string]any{"schema": body,
				"x-rpcbridge-stream": "each line is one request message, sent on as it arrives; a WebSocket on the same path carries one message per text frame each way"}
		}
		op["requestBody"] = map[string]any{"required": false, "content": reqContent}
	}
	reply := map[string]any{}
	if m != nil && m.Output != nil {
		reply = b.schema(m.Output)
	}
	ok := map[string]any{"description": "The backend's reply."}
	switch {
	case m != nil && m.Oneway:
		op["responses"] = map[string]any{"202": map[string]any{"description": "One-way call sent; no reply."}, "default": ref2("Error")}
		return op
	case m != nil && m.ServerStreaming:
		ok["description"] = "The reply messages: newline-delimited JSON, or Server-Sent Events with Accept: text/event-stream."
		ok["content"] = map[string]any{
			"application/x-ndjson": map[string]any{"schema": reply, "x-rpcbridge-stream": "each line is one message of this schema"},
			"text/event-stream":    map[string]any{"schema": map[string]any{"type": "string"}, "x-rpcbridge-stream": "each data: event is one message; an event: error ends a failed stream"},
		}
	default:
		ok["content"] = map[string]any{"application/json": map[string]any{"schema": reply}}
	}
	op["responses"] = map[string]any{"200": ok, "default": ref2("Error")}
	return op
}

func operationID(svc, method, httpMethod, how string) string {
	id := svc + "." + method
	if how == "route" {
		id += "." + httpMethod
	}
	return id
}

func ref(name string) map[string]any {
	return map[string]any{"$ref": "#/components/schemas/" + name}
}

func ref2(name string) map[string]any {
	return map[string]any{"$ref": "#/components/responses/" + name}
}

var componentNameRE = regexp.MustCompile(`[^A-Za-z0-9._-]`)

// schema is the JSON Schema of a value of t; named messages and enums go
// to the components once (recursive types through $ref).
func (b *oaBuilder) schema(t *generic.Type) map[string]any {
	if t == nil {
		return map[string]any{}
	}
	if (t.Kind == generic.KindMessage || t.Kind == generic.KindEnum) && t.Name != "" {
		if name, ok := b.named[t]; ok {
			return ref(name)
		}
		name := componentNameRE.ReplaceAllString(t.Name, "_")
		for i := 2; b.used[name]; i++ {
			name = componentNameRE.ReplaceAllString(t.Name, "_") + "_" + strconv.Itoa(i)
		}
		b.used[name] = true
		b.named[t] = name
		b.components[name] = b.inline(t)
		return ref(name)
	}
	return b.inline(t)
}

func (b *oaBuilder) inline(t *generic.Type) map[string]any {
	switch t.Kind {
	case generic.KindBool:
		return map[string]any{"type": "boolean"}
	case generic.KindInt8, generic.KindInt16, generic.KindInt32, generic.KindUint8, generic.KindUint16:
		return map[string]any{"type": "integer", "format": "int32"}
	case generic.KindUint32:
		return map[string]any{"type": "integer", "format": "int64", "minimum": 0}
	case generic.KindInt64, generic.KindUint64:
		// Beyond 2^53 the gateway writes them as strings; both are read.
		return map[string]any{"type": []string{"integer", "string"}, "format": string(t.Kind), "pattern": "^-?[0-9]+$"}
	case generic.KindFloat32:
		return map[string]any{"type": "number", "format": "float"}
	case generic.KindFloat64:
		return map[string]any{"type": "number", "format": "double"}
	case generic.KindString:
		return map[string]any{"type": "string"}
	case generic.KindBytes:
		return map[string]any{"type": "string", "contentEncoding": "base64"}
	case generic.KindEnum:
		var names []any
		for _, v := range t.Enum {
			names = append(names, v.Name)
		}
		return map[string]any{"anyOf": []any{
			map[string]any{"type": "string", "enum": names},
			map[string]any{"type": "integer", "description": "the value's number"},
		}}
	case generic.KindList, generic.KindSet:
		s := map[string]any{"type": "array", "items": b.schema(t.Elem)}
		if t.Kind == generic.KindSet {
			s["uniqueItems"] = true
		}
		return s
	case generic.KindMap:
		return map[string]any{"type": "object", "additionalProperties": b.schema(t.Elem), "description": "keys as strings"}
	case generic.KindMessage:
		props := map[string]any{}
		var required []string
		for _, f := range t.Fields {
			name := f.Name
			if f.JSONName != "" {
				name = f.JSONName
			}
			fs := b.schema(f.Type)
			if f.Out {
				fs = map[string]any{"allOf": []any{fs}, "readOnly": true, "description": "out parameter"}
			}
			props[name] = fs
			if f.Required {
				required = append(required, name)
			}
		}
		s := map[string]any{"type": "object", "properties": props}
		if len(required) > 0 {
			s["required"] = required
		}
		return s
	}
	return map[string]any{}
}

// example is a request value of t's shape (messages to depth 3).
func example(t *generic.Type, depth int) any {
	if t == nil {
		return nil
	}
	switch t.Kind {
	case generic.KindBool:
		return false
	case generic.KindInt8, generic.KindInt16, generic.KindInt32, generic.KindUint8, generic.KindUint16, generic.KindUint32:
		return 0
	case generic.KindInt64, generic.KindUint64:
		return "0"
	case generic.KindFloat32, generic.KindFloat64:
		return 0.0
	case generic.KindString:
		return ""
	case generic.KindBytes:
		return ""
	case generic.KindEnum:
		if len(t.Enum) > 0 {
			return t.Enum[0].Name
		}
		return ""
	case generic.KindList, generic.KindSet:
		if depth >= 3 {
			return []any{}
		}
		return []any{example(t.Elem, depth+1)}
	case generic.KindMap:
		return map[string]any{}
	case generic.KindMessage:
		out := map[string]any{}
		if depth >= 3 {
			return out
		}
		for _, f := range t.Fields {
			if f.Out {
				continue
			}
			name := f.Name
			if f.JSONName != "" {
				name = f.JSONName
			}
			out[name] = example(f.Type, depth+1)
		}
		return out
	}
	return nil
}

// errorSchema is the one error body every failure has.
func errorSchema() map[string]any {
	return map[string]any{
		"type":     "object",
		"required": []string{"error"},
		"properties": map[string]any{
			"error": map[string]any{
				"type":     "object",
				"required": []string{"code", "message"},
				"properties": map[string]any{
					"code":         map[string]any{"type": "string", "examples": []string{"NOT_FOUND", "INVALID_ARGUMENT", "UNAVAILABLE"}},
					"message":      map[string]any{"type": "string"},
					"protocol":     map[string]any{"type": "string"},
					"service":      map[string]any{"type": "string"},
					"method":       map[string]any{"type": "string"},
					"exception":    map[string]any{"type": "string"},
					"fields":       map[string]any{"type": "object"},
					"details":      map[string]any{"type": "array"},
					"backend_code": map[string]any{"type": "integer"},
					"call":         map[string]any{"type": "string"},
				},
			},
		},
	}
}

// serveOpenAPI answers GET /openapi.json (the control plane, and the data
// plane with server.openapi: public).
func (g *Gateway) serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), 10*time.Second)
	defer cancel()
	b, err := g.openAPI(ctx, r.URL.Query().Get("refresh") == "1")
	if err != nil {
		writeError(w, errorf(generic.CodeInternal, "openapi: %v", err))
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
