package main

import (
	"fmt"
	"log/slog"
	"sync"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/grpc"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
	"github.com/rpcbridge/rpcbridge/protocols/thrift"
)

// protocolFactory wires each protocols/<p> package to its YAML section.
// Adding a protocol is one case here.
func protocolFactory(log *slog.Logger) gateway.ProtocolFactory {
	return func(s *mapping.Service, env gateway.ServiceEnv) (generic.Protocol, error) {
		l := log.With("service", s.Name)
		switch s.Protocol {
		case "grpc":
			g := s.GRPC
			o := grpc.Options{Service: g.Service, ExposeHeaders: g.ExposeHeaders, EmitDefaults: g.EmitDefaults, Logger: l}
			if sc := g.Schema; sc != nil {
				switch {
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
			}
			return grpc.New(o)
		case "dubbo", "triple":
			d := s.Dubbo
			o := dubbo.Options{
				Interface: d.Interface, Group: d.Group, Version: d.Version, Protocol: "dubbo",
				KeepClass: d.KeepClass, ExceptionStatus: d.Exceptions, RequestTimeout: s.Timeout, Logger: l,
				Methods: map[string]dubbo.Method{}, Overloads: map[string][]dubbo.Method{},
			}
			if s.Protocol == "triple" {
				o.Protocol = "tri"
			}
			for name, m := range d.Methods {
				o.Methods[name] = dubbo.Method{Params: dubboParams(m.Params)}
				for _, ov := range m.Overloads {
					o.Overloads[name] = append(o.Overloads[name], dubbo.Method{Params: dubboParams(ov)})
				}
			}
			o.TypesFor = dubboTypes(env)
			return dubbo.New(o)
		case "thrift":
			t := s.Thrift
			return thrift.New(thrift.Options{
				IDL: t.IDL, IncludeDirs: t.IncludeDirs, Service: t.Service, Protocol: t.Protocol,
				Transport: t.Transport, Multiplexed: t.Multiplexed, PoolSize: t.PoolSize,
				IdleTimeout: t.IdleTimeout, ExceptionStatus: t.Exceptions, Logger: l,
			})
		case "tars":
			t := s.Tars
			return tars.New(tars.Options{
				IDL: t.IDL, IncludeDirs: t.IncludeDirs, Servant: t.Servant, Interface: t.Interface,
				Version: t.Version, Conns: t.Conns, Logger: l,
			})
		case "http":
			o := phttp.Options{}
			if s.HTTP != nil {
				o.PathPrefix = s.HTTP.PathPrefix
			}
			return phttp.New(o)
		}
		return nil, fmt.Errorf("protocol %q is not supported", s.Protocol)
	}
}

func dubboParams(ps []mapping.DubboParam) []dubbo.Param {
	out := make([]dubbo.Param, len(ps))
	for i, p := range ps {
		out[i] = dubbo.Param{Name: p.Name, Type: p.Type}
	}
	return out
}

// dubboTypes finds Java parameter types for a method the YAML does not
// describe: first in the APIs instances report (SDK param_types), then in
// the Dubbo metadata report's service definitions (parsed once per set).
func dubboTypes(env gateway.ServiceEnv) func(string) []dubbo.Method {
	var mu sync.Mutex
	var parsedFrom *[]byte
	var parsed map[string][]dubbo.Method
	fromDefs := func(method string) []dubbo.Method {
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
			parsed = map[string][]dubbo.Method{}
			for _, d := range defs {
				ms, err := dubbo.ParseServiceDefinition(d)
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
	return func(method string) []dubbo.Method {
		var out []dubbo.Method
		if env.ReportedAPIs != nil {
			for _, a := range env.ReportedAPIs(method) {
				if len(a.ParamTypes) == 0 {
					continue
				}
				m := dubbo.Method{}
				for i, t := range a.ParamTypes {
					name := fmt.Sprintf("arg%d", i)
					if i < len(a.ParamNames) && a.ParamNames[i] != "" {
						name = a.ParamNames[i]
					}
					m.Params = append(m.Params, dubbo.Param{Name: name, Type: t})
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
