package http

import (
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Plugin is the HTTP protocol's part of the configuration: the optional
// http: section of a service.
type Plugin struct{}

// Config is a service's http: section.
type Config struct {
	// PathPrefix is prepended to /<method> on the backend. Default "/".
	PathPrefix string `yaml:"path_prefix" json:"path_prefix,omitempty"`
}

// Section implements mapping.Plugin.
func (Plugin) Section() string { return "http" }

// Decode implements mapping.Plugin.
func (Plugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	c := &Config{}
	if err := mapping.DecodeStrict(in.Node, in.At("http"), c); err != nil {
		return nil, err
	}
	return c, nil
}

// ResolvePaths implements mapping.ProtocolConfig; the section names no file.
func (c *Config) ResolvePaths(string) {}

// Validate implements mapping.ProtocolConfig; every path prefix is valid.
func (c *Config) Validate(*mapping.Service) []string { return nil }

// Key implements mapping.ProtocolConfig.
func (c *Config) Key(*mapping.Service) string {
	return mapping.KeyOf(c)
}

// QualifiedName implements mapping.ProtocolConfig: none.
func (c *Config) QualifiedName() string { return "" }

// DeclaredMethods implements mapping.ProtocolConfig: none.
func (c *Config) DeclaredMethods() []string { return nil }

// DialsTLS implements mapping.TLSDialer: with the service's tls: key the
// adapter calls its instances over https://.
func (c *Config) DialsTLS() bool { return true }

// Build implements mapping.ProtocolConfig.
func (c *Config) Build(_ *mapping.Service, env mapping.ProtocolEnv) (generic.Protocol, error) {
	return New(Options{PathPrefix: c.PathPrefix, TLS: env.TLS})
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "http" }
