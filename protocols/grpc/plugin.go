package grpc

import (
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Plugin is the gRPC protocol's part of the configuration: the grpc:
// section of a service.
type Plugin struct{}

// Config is a service's grpc: section.
type Config struct {
	// Service is the fully-qualified gRPC service, e.g. demo.v1.PeopleService.
	Service string  `yaml:"service" json:"service"`
	Schema  *Schema `yaml:"schema" json:"schema,omitempty"`
	// ExposeHeaders are response headers/trailers copied to the HTTP reply.
	ExposeHeaders []string `yaml:"expose_headers" json:"expose_headers,omitempty"`
	// EmitDefaults writes zero-valued fields in replies.
	EmitDefaults bool `yaml:"emit_defaults" json:"emit_defaults,omitempty"`
}

// Schema selects where descriptors come from: one of the three; reflection
// when none is given.
type Schema struct {
	Reflection *Reflection `yaml:"reflection" json:"reflection,omitempty"`
	Protoset   []string    `yaml:"protoset" json:"protoset,omitempty"`
	Proto      *ProtoFiles `yaml:"proto" json:"proto,omitempty"`
}

// Reflection reads descriptors from the server's reflection service.
type Reflection struct {
	// Refresh is the cache TTL. Default 5m.
	Refresh time.Duration `yaml:"refresh" json:"refresh,omitempty"`
}

// ProtoFiles compiles .proto sources at start-up.
type ProtoFiles struct {
	Files       []string `yaml:"files" json:"files,omitempty"`
	ImportPaths []string `yaml:"import_paths" json:"import_paths,omitempty"`
}

// Section implements mapping.Plugin.
func (Plugin) Section() string { return "grpc" }

// Decode implements mapping.Plugin.
func (Plugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	c := &Config{}
	if err := mapping.DecodeStrict(in.Node, in.At("grpc"), c); err != nil {
		return nil, err
	}
	if c.Schema == nil {
		c.Schema = &Schema{Reflection: &Reflection{}}
	}
	return c, nil
}

// ResolvePaths implements mapping.ProtocolConfig.
func (c *Config) ResolvePaths(dir string) {
	for i := range c.Schema.Protoset {
		mapping.ResolvePath(dir, &c.Schema.Protoset[i])
	}
	if p := c.Schema.Proto; p != nil {
		for i := range p.ImportPaths {
			mapping.ResolvePath(dir, &p.ImportPaths[i])
		}
		if len(p.ImportPaths) == 0 {
			// Files are then named relative to the config's folder.
			p.ImportPaths = []string{dir}
		}
	}
}

// Validate implements mapping.ProtocolConfig.
func (c *Config) Validate(*mapping.Service) []string {
	var p []string
	if c.Service == "" {
		p = append(p, "grpc.service is required (the fully-qualified gRPC service)")
	}
	n := 0
	if c.Schema.Reflection != nil {
		n++
		if c.Schema.Reflection.Refresh < 0 {
			p = append(p, "grpc.schema.reflection.refresh must not be negative, got "+c.Schema.Reflection.Refresh.String())
		}
	}
	if len(c.Schema.Protoset) > 0 {
		n++
	}
	if c.Schema.Proto != nil {
		n++
		if len(c.Schema.Proto.Files) == 0 {
			p = append(p, "grpc.schema.proto.files is required")
		}
	}
	if n > 1 {
		p = append(p, "grpc.schema takes one of reflection, protoset and proto")
	}
	return p
}

// Key implements mapping.ProtocolConfig.
func (c *Config) Key(*mapping.Service) string {
	return mapping.KeyOf(c)
}

// QualifiedName implements mapping.ProtocolConfig: the gRPC service.
func (c *Config) QualifiedName() string { return c.Service }

// DeclaredMethods implements mapping.ProtocolConfig; a gRPC service's
// methods come from its schema.
func (c *Config) DeclaredMethods() []string { return nil }

// DialsTLS implements mapping.TLSDialer: the adapter dials the backend
// over TLS with the service's tls: key.
func (c *Config) DialsTLS() bool { return true }

// Build implements mapping.ProtocolConfig.
func (c *Config) Build(_ *mapping.Service, env mapping.ProtocolEnv) (generic.Protocol, error) {
	o := Options{Service: c.Service, ExposeHeaders: c.ExposeHeaders, EmitDefaults: c.EmitDefaults, Logger: env.Logger, TLS: env.TLS}
	switch sc := c.Schema; {
	case len(sc.Protoset) > 0:
		o.Protosets = sc.Protoset
	case sc.Proto != nil:
		o.ProtoFiles, o.ImportPaths = sc.Proto.Files, sc.Proto.ImportPaths
	default:
		o.Reflection = true
		if sc.Reflection != nil {
			o.Refresh = sc.Reflection.Refresh
		}
	}
	return New(o)
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "grpc" }

// StreamsRequests implements mapping.RequestStreamer: client- and
// bidirectional-streaming methods take NDJSON bodies and WebSockets.
func (c *Config) StreamsRequests() bool { return true }
