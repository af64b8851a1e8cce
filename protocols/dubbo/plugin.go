package dubbo

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Plugin is the Dubbo protocol's part of the configuration: the dubbo:
// section of a service whose protocol is dubbo or triple (the two share
// it), and discovery.dubbo_native.
type Plugin struct{}

// Config is a service's dubbo: section.
type Config struct {
	Interface string                  `yaml:"interface" json:"interface"`
	Group     string                  `yaml:"group" json:"group,omitempty"`
	Version   string                  `yaml:"version" json:"version,omitempty"`
	Methods   map[string]MethodConfig `yaml:"methods" json:"methods,omitempty"`
	// KeepClass keeps POJO class names in replies as "class".
	KeepClass bool `yaml:"keep_class" json:"keep_class,omitempty"`
	// Exceptions maps Java exception classes to HTTP statuses (default 502).
	Exceptions map[string]int `yaml:"exceptions" json:"exceptions,omitempty"`
	// ExposeAttachments are reply attachments written as response
	// headers (see Options.ExposeAttachments).
	ExposeAttachments []string `yaml:"expose_attachments" json:"expose_attachments,omitempty"`

	// Triple is set when the service's protocol is triple.
	Triple bool `yaml:"-" json:"triple,omitempty"`
	// Native is discovery.dubbo_native: the instances are the providers
	// Dubbo registers under /dubbo/<interface>/providers.
	Native bool `yaml:"-" json:"native,omitempty"`
}

// MethodConfig is one method's Java parameter list.
type MethodConfig struct {
	Params []ParamConfig `yaml:"params" json:"params,omitempty"`
	// Overloads are further signatures of the same method name.
	Overloads [][]ParamConfig `yaml:"overloads" json:"overloads,omitempty"`
}

// ParamConfig is one Java parameter.
type ParamConfig struct {
	Name string `yaml:"name" json:"name,omitempty"`
	Type string `yaml:"type" json:"type"`
}

// Section implements mapping.Plugin.
func (Plugin) Section() string { return "dubbo" }

// DiscoveryKeys implements mapping.DiscoveryKeys.
func (Plugin) DiscoveryKeys() []string { return []string{"dubbo_native"} }

// Decode implements mapping.Plugin.
func (Plugin) Decode(in mapping.SectionInput) (mapping.ProtocolConfig, error) {
	c := &Config{Triple: in.Service.Protocol == "triple"}
	if err := mapping.DecodeStrict(in.Node, in.At("dubbo"), c); err != nil {
		return nil, err
	}
	if err := mapping.DecodeStrict(in.Discovery["dubbo_native"], in.At("discovery.dubbo_native"), &c.Native); err != nil {
		return nil, err
	}
	return c, nil
}

// ResolvePaths implements mapping.ProtocolConfig; the section names no file.
func (c *Config) ResolvePaths(string) {}

// Validate implements mapping.ProtocolConfig.
func (c *Config) Validate(*mapping.Service) []string {
	var p []string
	if c.Interface == "" {
		p = append(p, "dubbo.interface is required")
	}
	seen := map[string]string{}
	for i, n := range c.ExposeAttachments {
		switch low := strings.ToLower(n); {
		case !isToken(n):
			p = append(p, fmt.Sprintf("dubbo.expose_attachments[%d]: %q is not a header name (letters, digits and !#$%%&'*+-.^_`|~)", i, n))
		case seen[low] != "":
			p = append(p, fmt.Sprintf("dubbo.expose_attachments[%d]: %q repeats %q (names match attachments ignoring case)", i, n, seen[low]))
		default:
			seen[low] = n
		}
	}
	if len(c.ExposeAttachments) > 0 && c.Triple {
		p = append(p, "dubbo.expose_attachments: not supported with protocol triple (reply attachments are read over protocol dubbo only)")
	}
	for _, m := range c.DeclaredMethods() {
		for j, prm := range c.Methods[m].Params {
			if prm.Type == "" {
				p = append(p, fmt.Sprintf("dubbo.methods.%s.params[%d]: type is required", m, j))
			}
		}
		for k, ov := range c.Methods[m].Overloads {
			for j, prm := range ov {
				if prm.Type == "" {
					p = append(p, fmt.Sprintf("dubbo.methods.%s.overloads[%d][%d]: type is required", m, k, j))
				}
			}
		}
	}
	return p
}

// Key implements mapping.ProtocolConfig. The adapter takes the service's
// timeout as its default request timeout, so it is part of the key; the
// section is too, so that changing it rebuilds the
// adapter.
func (c *Config) Key(s *mapping.Service) string {
	return mapping.KeyOf(c, s.Timeout)
}

// QualifiedName implements mapping.ProtocolConfig; a Dubbo interface is not
// used as a method qualifier.
func (c *Config) QualifiedName() string { return "" }

// DeclaredMethods implements mapping.ProtocolConfig: the methods the section
// describes.
func (c *Config) DeclaredMethods() []string {
	out := make([]string, 0, len(c.Methods))
	for name := range c.Methods {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// Build implements mapping.ProtocolConfig.
func (c *Config) Build(s *mapping.Service, env mapping.ProtocolEnv) (generic.Protocol, error) {
	o := Options{
		Interface: c.Interface, Group: c.Group, Version: c.Version, Protocol: "dubbo",
		KeepClass: c.KeepClass, ExceptionStatus: c.Exceptions, RequestTimeout: s.Timeout, Logger: env.Logger,
		Methods: map[string]Method{}, Overloads: map[string][]Method{}, ExposeAttachments: c.ExposeAttachments,
	}
	if c.Triple {
		o.Protocol = "tri"
	}
	for name, m := range c.Methods {
		o.Methods[name] = Method{Params: params(m.Params)}
		for _, ov := range m.Overloads {
			o.Overloads[name] = append(o.Overloads[name], Method{Params: params(ov)})
		}
	}
	o.TypesFor = typesFor(env)
	return New(o)
}

func params(ps []ParamConfig) []Param {
	out := make([]Param, len(ps))
	for i, p := range ps {
		out[i] = Param{Name: p.Name, Type: p.Type}
	}
	return out
}

// typesFor finds Java parameter types for a method the YAML does not
// describe: first in the APIs instances report (SDK param_types), then in
// the metadata report's service definitions (parsed once per set).
func typesFor(env mapping.ProtocolEnv) func(string) []Method {
	var mu sync.Mutex
	var parsedFrom *[]byte
	var parsed map[string][]Method
	fromDefs := func(method string) []Method {
		if env.Definitions == nil {
			return nil
		}
		defs := env.Definitions()
		if len(defs) == 0 {
			return nil
		}
		mu.Lock()
		defer mu.Unlock()
		if parsedFrom != &defs[0] {
			parsed = map[string][]Method{}
			for _, d := range defs {
				ms, err := ParseServiceDefinition(d)
				if err != nil {
					continue
				}
				for name, sigs := range ms {
					parsed[name] = append(parsed[name], sigs...)
				}
			}
			parsedFrom = &defs[0]
		}
		return parsed[method]
	}
	return func(method string) []Method {
		var out []Method
		if env.ReportedAPIs != nil {
			for _, a := range env.ReportedAPIs(method) {
				if len(a.ParamTypes) == 0 {
					continue
				}
				m := Method{}
				for i, t := range a.ParamTypes {
					name := fmt.Sprintf("arg%d", i)
					if i < len(a.ParamNames) && a.ParamNames[i] != "" {
						name = a.ParamNames[i]
					}
					m.Params = append(m.Params, Param{Name: name, Type: t})
				}
				out = append(out, m)
			}
		}
		if len(out) > 0 {
			return out
		}
		return fromDefs(method)
	}
}

// RPCSystem implements mapping.RPCSystem: OpenTelemetry's rpc.system.
func (c *Config) RPCSystem() string { return "apache_dubbo" }
