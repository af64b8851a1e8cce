package thrift

import (
	"fmt"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Plugin is the Thrift protocol's part of the configuration: the thrift:
// section of a service.
type Plugin struct{}

// Config is a service's thrift: section.
type Config struct {
	IDL         string   `yaml:"idl" json:"idl"`
	IncludeDirs []string `yaml:"include_dirs" json:"include_dirs,omitempty"`
	Service     string   `yaml:"service" json:"service"`
	// Protocol: binary (default) | compact.
	Protocol string `yaml:"protocol" json:"protocol"`
	// Transport: framed (default) | buffered | header (Apache Thrift's
	// THeader around Protocol; calls carry the forwarded headers and the
	// trace context as THeader headers).
	Transport string `yaml:"transport" json:"transport"`
	// Multiplexed is the service name on a multiplexed server.
	Multiplexed string `yaml:"multiplexed" json:"multiplexed,omitempty"`
	// PoolSize is the connections per instance. Default 16.
	PoolSize    int           `yaml:"pool_size" json:"pool_size,omitempty"`
	IdleTimeout time.Duration `yaml:"idle_timeout" json:"idle_timeout,omitempty"`
	// Exceptions maps exception type names to HTTP statuses (default 502).
	Exceptions map[string]int `yaml:"exceptions" json:"exceptions,omitempty"`
}

// Section implements mapping.Plugin.
func (Plugin) Section() string { return "thrift" }

// Decode implements mapping.Plugin.
func (Plugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	if in.Node == nil {
		return mapping.Missing("thrift"), nil
	}
	c := &Config{}
	if err := mapping.DecodeStrict(in.Node, in.At("thrift"), c); err != nil {
		return nil, err
	}
	if c.Protocol == "" {
		c.Protocol = "binary"
	}
	if c.Transport == "" {
		c.Transport = "framed"
	}
	return c, nil
}

// ResolvePaths implements mapping.ProtocolConfig.
func (c *Config) ResolvePaths(dir string) {
	mapping.ResolveFiles(dir, &c.IDL, c.IncludeDirs)
}

// Validate implements mapping.ProtocolConfig.
func (c *Config) Validate(*mapping.Service) []string {
	var p []string
	if c.IDL == "" {
		p = append(p, "thrift.idl is required")
	}
	if c.Service == "" {
		p = append(p, "thrift.service is required")
	}
	if c.Protocol != "binary" && c.Protocol != "compact" {
		p = append(p, fmt.Sprintf("thrift.protocol: want binary or compact, got %q", c.Protocol))
	}
	if c.Transport != "framed" && c.Transport != "buffered" && c.Transport != "header" {
		p = append(p, fmt.Sprintf("thrift.transport: want framed, buffered or header, got %q", c.Transport))
	}
	if c.PoolSize < 0 {
		p = append(p, fmt.Sprintf("thrift.pool_size must not be negative, got %d", c.PoolSize))
	}
	if c.IdleTimeout < 0 {
		p = append(p, fmt.Sprintf("thrift.idle_timeout must not be negative, got %s", c.IdleTimeout))
	}
	return p
}

// Key implements mapping.ProtocolConfig.
func (c *Config) Key(*mapping.Service) string {
	return mapping.KeyOf(c)
}

// QualifiedName implements mapping.ProtocolConfig; a Thrift service name is
// not used as a method qualifier.
func (c *Config) QualifiedName() string { return "" }

// DeclaredMethods implements mapping.ProtocolConfig; the methods come from
// the IDL.
func (c *Config) DeclaredMethods() []string { return nil }

// DialsTLS implements mapping.TLSDialer: the adapter dials its instances
// over TLS with the service's tls: key.
func (c *Config) DialsTLS() bool { return true }

// Build implements mapping.ProtocolConfig.
func (c *Config) Build(_ *mapping.Service, env mapping.ProtocolEnv) (generic.Protocol, error) {
	return New(Options{
		IDL: c.IDL, IncludeDirs: c.IncludeDirs, Service: c.Service, Protocol: c.Protocol,
		Transport: c.Transport, Multiplexed: c.Multiplexed, PoolSize: c.PoolSize,
		IdleTimeout: c.IdleTimeout, ExceptionStatus: c.Exceptions, Logger: env.Logger, TLS: env.TLS,
	})
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "apache_thrift" }
