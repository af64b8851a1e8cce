package mapping

import (
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"sort"

	"gopkg.in/yaml.v3"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// Plugin is one protocol's part of the configuration. Each protocols/<p>
// package exports one; cmd/rpcbridge lists them in a Plugins map, keyed by
// the name services write in protocol:, and hands it to Decode, Parse and
// Load. mapping itself knows no protocol.
type Plugin interface {
	// Section is the service key that holds the protocol's settings (one
	// section may serve several protocol names); "" when it takes none.
	Section() string
	// Decode reads the protocol's section strictly (with DecodeStrict)
	// and fills the section's own defaults. in.Node is nil when the
	// service has no section; problems come back as an error (Problems
	// for several).
	Decode(in SectionInput) (ProtocolConfig, error)
}

// DiscoveryKeys is implemented by a plug-in that reads keys of a service's
// discovery section beyond registry and service (they come to Decode in
// SectionInput.Discovery).
type DiscoveryKeys interface {
	DiscoveryKeys() []string
}

// SectionInput is what a plug-in's Decode reads.
type SectionInput struct {
	// Service is the service being decoded; its common keys are decoded,
	// defaults not yet applied.
	Service *Service
	// Node is the protocol's section, nil when absent.
	Node *yaml.Node
	// Where is the service's path for problems, e.g. "services[2]"; At
	// names a key under it.
	Where string
	// Discovery holds the keys of the service's discovery section that
	// the plug-in declared (DiscoveryKeys) and the service sets.
	Discovery map[string]*yaml.Node
}

// At is the path of key (e.g. "grpc", "discovery.x") in the service, for
// DecodeStrict and problems.
func (in SectionInput) At(key string) string { return in.Where + "." + key }

// ProtocolConfig is a decoded protocol section: what the gateway asks of a
// service's protocol without naming it.
type ProtocolConfig interface {
	// ResolvePaths makes the section's file paths relative to dir, the
	// config file's folder (see ResolvePath).
	ResolvePaths(dir string)
	// Validate returns the section's problems, each naming its key
	// ("grpc.service is required"); s has its defaults applied.
	Validate(s *Service) []string
	// Key identifies the configuration an adapter is built from: two
	// generations of a service with the same key share the adapter and
	// its connections.
	Key(s *Service) string
	// QualifiedName is the service's fully-qualified name on the wire,
	// which a request may use in place of the service's name and as a
	// method qualifier; "" when the protocol has none.
	QualifiedName() string
	// DeclaredMethods are the method names the section declares, sorted.
	DeclaredMethods() []string
	// Build makes the service's adapter.
	Build(s *Service, env ProtocolEnv) (generic.Protocol, error)
}

// ProtocolEnv is what the gateway tells an adapter about its service at
// run time.
type ProtocolEnv struct {
	// Logger is the service's logger (never nil when the gateway builds).
	Logger *slog.Logger
	// ReportedAPIs returns the APIs named method that the service's
	// instances currently report (through the SDK, or a provider's URL),
	// for adapters that take parameter types from them. Safe for
	// concurrent use; nil when the service reports none.
	ReportedAPIs func(method string) []registry.API
	// Definitions returns the newest set of service definitions the
	// service's registry publishes (a metadata report); nil when none.
	Definitions func() [][]byte
	// TLS is the client TLS configuration of the service's tls: key (CA,
	// client certificate, server name), built once; nil dials in clear.
	// A plug-in whose adapter cannot dial TLS reports so from Validate
	// (see TLSDialer).
	TLS *tls.Config
}

// HTTPProxier is implemented by a ProtocolConfig whose adapter forwards
// whole HTTP requests (generic.HTTPProxy) instead of JSON calls, when
// ProxiesHTTP says so: the gateway then passes requests through as they
// came (any method, body and content type).
type HTTPProxier interface {
	ProxiesHTTP() bool
}

// ProxiesHTTP reports whether the service forwards whole HTTP requests.
func (s *Service) ProxiesHTTP() bool {
	p, ok := s.Proto.(HTTPProxier)
	return ok && p.ProxiesHTTP()
}

// RequestStreamer is implemented by a ProtocolConfig whose adapter takes
// a stream of request messages (generic.Call.NextMessage) for its client-
// and bidirectional-streaming methods.
type RequestStreamer interface {
	StreamsRequests() bool
}

// StreamsRequests reports whether the service's adapter takes streams of
// request messages.
func (s *Service) StreamsRequests() bool {
	p, ok := s.Proto.(RequestStreamer)
	return ok && p.StreamsRequests()
}

// RPCSystem is implemented by a ProtocolConfig whose protocol has a name in
// OpenTelemetry's semantic conventions (rpc.system: grpc, apache_dubbo,
// apache_thrift, ...); spans of other protocols use the protocol's name.
type RPCSystem interface {
	RPCSystem() string
}

// RPCSystem is the service's rpc.system for spans.
func (s *Service) RPCSystem() string {
	if rs, ok := s.Proto.(RPCSystem); ok {
		return rs.RPCSystem()
	}
	return s.Protocol
}

// TLSDialer is implemented by a ProtocolConfig whose adapter dials TLS
// when ProtocolEnv.TLS is set. A service with a tls: key whose protocol
// does not implement it (or answers false) is a validation problem.
type TLSDialer interface {
	DialsTLS() bool
}

// Plugins are the protocol plug-ins by protocol name.
type Plugins map[string]Plugin

// Names lists the protocol names, sorted.
func (p Plugins) Names() []string {
	out := make([]string, 0, len(p))
	for name := range p {
		out = append(out, name)
	}
	sort.Strings(out)
	return out
}

// sections lists the section keys the plug-ins read.
func (p Plugins) sections() map[string]bool {
	out := map[string]bool{}
	for _, pl := range p {
		if s := pl.Section(); s != "" {
			out[s] = true
		}
	}
	return out
}

// discoveryKeys lists the discovery keys the plug-ins read.
func (p Plugins) discoveryKeys() map[string]bool {
	out := map[string]bool{}
	for _, pl := range p {
		if dk, ok := pl.(DiscoveryKeys); ok {
			for _, k := range dk.DiscoveryKeys() {
				out[k] = true
			}
		}
	}
	return out
}

// KeyOf is a ProtocolConfig.Key made of the values' JSON: equal values,
// equal keys.
func KeyOf(v ...any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// ResolveFiles makes a file and folder list relative to dir (see
// ResolvePath), as IDL sections name them.
func ResolveFiles(dir string, file *string, dirs []string) {
	ResolvePath(dir, file)
	for i := range dirs {
		ResolvePath(dir, &dirs[i])
	}
}

// ResolvePath makes *p relative to dir unless it is empty or absolute.
func ResolvePath(dir string, p *string) {
	if *p != "" && !filepath.IsAbs(*p) {
		*p = filepath.Join(dir, *p)
	}
}

// QualifiedName is the service's fully-qualified name on the wire ("" when
// its protocol has none).
func (s *Service) QualifiedName() string {
	if s.Proto == nil {
		return ""
	}
	return s.Proto.QualifiedName()
}

// DeclaredMethods are the method names the protocol section declares.
func (s *Service) DeclaredMethods() []string {
	if s.Proto == nil {
		return nil
	}
	return s.Proto.DeclaredMethods()
}

// ProtocolKey identifies the service's protocol configuration: two
// services (or two generations of one) with the same key can share an
// adapter and its connections.
func (s *Service) ProtocolKey() string {
	tlsKey, _ := json.Marshal(s.TLS)
	if s.Proto == nil {
		return s.Protocol
	}
	return s.Protocol + "\x00" + s.Proto.Key(s) + "\x00" + string(tlsKey)
}

// Build makes the service's protocol adapter.
func (s *Service) Build(env ProtocolEnv) (generic.Protocol, error) {
	if s.Proto == nil {
		return nil, fmt.Errorf("service %q: protocol %q is not supported", s.Name, s.Protocol)
	}
	if env.Logger == nil {
		env.Logger = slog.New(slog.DiscardHandler)
	}
	if env.TLS == nil && s.TLS != nil {
		c, err := s.TLS.Config()
		if err != nil {
			return nil, fmt.Errorf("service %q: tls: %w", s.Name, err)
		}
		env.TLS = c
	}
	return s.Proto.Build(s, env)
}

// Missing stands for a required protocol section that a service lacks:
// its Validate reports "<section> section is required".
func Missing(section string) ProtocolConfig { return missingSection(section) }

type missingSection string

func (m missingSection) problem() string            { return string(m) + " section is required" }
func (missingSection) ResolvePaths(string)          {}
func (m missingSection) Validate(*Service) []string { return []string{m.problem()} }
func (missingSection) Key(*Service) string          { return "" }
func (missingSection) QualifiedName() string        { return "" }
func (missingSection) DeclaredMethods() []string    { return nil }
func (m missingSection) Build(*Service, ProtocolEnv) (generic.Protocol, error) {
	return nil, errors.New(m.problem())
}
