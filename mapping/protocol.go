package mapping

import (
	"encoding/json"
	"sort"
)

// What the gateway needs to know of a service's protocol section, answered
// here so that the gateway never names a protocol. (Each section moving
// into its protocol's own package is the next step.)

// QualifiedName is the service's fully-qualified name on the wire, which a
// request may use in place of the service's name and as a method
// qualifier (a gRPC service); "" when the protocol has none.
func (s *Service) QualifiedName() string {
	if s.GRPC != nil {
		return s.GRPC.Service
	}
	return ""
}

// DeclaredMethods are the method names the protocol section declares (the
// Java methods of a Dubbo section), sorted.
func (s *Service) DeclaredMethods() []string {
	var out []string
	if s.Dubbo != nil {
		for name := range s.Dubbo.Methods {
			out = append(out, name)
		}
	}
	sort.Strings(out)
	return out
}

// ProtocolKey identifies the service's protocol configuration: two
// services (or two generations of one) with the same key can share an
// adapter and its connections.
func (s *Service) ProtocolKey() string {
	var timeout any
	if s.Dubbo != nil {
		// The Dubbo adapter takes the service timeout as its default
		// request timeout, so it is part of that adapter's identity.
		timeout = s.Timeout
	}
	b, _ := json.Marshal(struct {
		P       string
		G       *GRPC
		D       *Dubbo
		T       *Thrift
		R       *Tars
		H       *HTTPBackend
		Timeout any
	}{s.Protocol, s.GRPC, s.Dubbo, s.Thrift, s.Tars, s.HTTP, timeout})
	return string(b)
}
