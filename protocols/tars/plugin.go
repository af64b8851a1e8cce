package tars

import (
	"fmt"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Plugin is the Tars protocol's part of the configuration: the tars:
// section of a service.
type Plugin struct{}

// Config is a service's tars: section.
type Config struct {
	IDL         string   `yaml:"idl" json:"idl"`
	IncludeDirs []string `yaml:"include_dirs" json:"include_dirs,omitempty"`
	Servant     string   `yaml:"servant" json:"servant"`
	Interface   string   `yaml:"interface" json:"interface"`
	// Version: 1 = Tars protocol (default), 3 = TUP.
	Version int `yaml:"version" json:"version"`
	// Conns is the TCP connections per instance. Default 2.
	Conns int `yaml:"conns" json:"conns,omitempty"`
	// Oneway names the methods called one-way: no reply is awaited and
	// the caller gets 202.
	Oneway []string `yaml:"oneway" json:"oneway,omitempty"`
}

// Section implements mapping.Plugin.
func (Plugin) Section() string { return "tars" }

// Decode implements mapping.Plugin.
func (Plugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	if in.Node == nil {
		return mapping.Missing("tars"), nil
	}
	c := &Config{}
	if err := mapping.DecodeStrict(in.Node, in.At("tars"), c); err != nil {
		return nil, err
	}
	if c.Version == 0 {
		c.Version = 1
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
		p = append(p, "tars.idl is required")
	}
	if c.Servant == "" {
		p = append(p, "tars.servant is required (App.Server.Obj)")
	} else if len(strings.Split(c.Servant, ".")) != 3 {
		p = append(p, fmt.Sprintf("tars.servant: want App.Server.Obj, got %q", c.Servant))
	}
	if c.Interface == "" {
		p = append(p, "tars.interface is required")
	}
	if c.Version != 1 && c.Version != 3 {
		p = append(p, fmt.Sprintf("tars.version: want 1 or 3, got %d", c.Version))
	}
	if c.Conns < 0 {
		p = append(p, fmt.Sprintf("tars.conns must not be negative, got %d", c.Conns))
	}
	return p
}

// Key implements mapping.ProtocolConfig.
func (c *Config) Key(*mapping.Service) string {
	return mapping.KeyOf(c)
}

// QualifiedName implements mapping.ProtocolConfig; the servant is not used
// as a method qualifier.
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
		IDL: c.IDL, IncludeDirs: c.IncludeDirs, Servant: c.Servant, Interface: c.Interface,
		Version: c.Version, Conns: c.Conns, Logger: env.Logger, TLS: env.TLS, Oneway: c.Oneway,
	})
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "tars" }
