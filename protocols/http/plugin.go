package http

import (
	"fmt"

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
	// Mode: call (default: a method becomes POST <prefix>/<method> with
	// the JSON body) or proxy (requests pass through whole: method, path,
	// query, headers, any body; the reply as it comes).
	Mode string `yaml:"mode" json:"mode,omitempty"`
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

// Validate implements mapping.ProtocolConfig.
func (c *Config) Validate(*mapping.Service) []string {
	if c.Mode != "" && c.Mode != "call" && c.Mode != "proxy" {
		return []string{fmt.Sprintf("http.mode: want call or proxy, got %q", c.Mode)}
	}
	return nil
}

// ProxiesHTTP implements mapping.HTTPProxier.
func (c *Config) ProxiesHTTP() bool { return c.Mode == "proxy" }

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
	return New(Options{PathPrefix: c.PathPrefix, TLS: env.TLS, Proxy: c.Mode == "proxy"})
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "http" }
