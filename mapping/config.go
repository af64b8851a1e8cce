// Package mapping holds rpcbridge's YAML model: strict decoding, validation
// with messages that name the route, service and field, the route table and
// request matching.
package mapping

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Config is the whole gateway configuration (one YAML file).
type Config struct {
	Server      Server              `yaml:"server"`
	Registries  []Registry          `yaml:"registries"`
	Services    []Service           `yaml:"services"`
	ServiceSets map[string][]string `yaml:"service_sets"`
	Routes      []Route             `yaml:"routes"`
	// Telemetry configures trace export (mapping/telemetry.go).
	Telemetry *Telemetry `yaml:"telemetry"`

	// plugins decoded the protocol sections.
	plugins Plugins
}

// Server configures the listeners and request handling.
type Server struct {
	// Listen is the data-plane address (HTTP/1.1 and h2c). Default 127.0.0.1:8080.
	Listen string `yaml:"listen"`
	// Admin is the control-plane address: /healthz, /readyz, /metrics, /admin/.
	// Empty disables the control plane.
	Admin string `yaml:"admin"`
	// MaxBodyBytes caps request bodies. Default 4 MiB.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// Zone is this gateway's zone, for same-zone routing.
	Zone string `yaml:"zone"`
	// TagHeader names the request header that selects tagged (gray)
	// instances. Default "gray".
	TagHeader string `yaml:"tag_header"`
	// RegisteredOnly makes only APIs declared in YAML or reported by the SDK
	// reachable; anything else is 404 without touching a backend.
	RegisteredOnly bool `yaml:"registered_only"`
	// ShutdownTimeout bounds the graceful drain on SIGTERM. Default 10s.
	ShutdownTimeout time.Duration `yaml:"shutdown_timeout"`
	// AccessLog writes one JSON line per request (see AccessLog).
	AccessLog AccessLog `yaml:"access_log"`
	CORS      *CORS     `yaml:"cors"`
	// Auth requires an API key on every data-plane request, except to
	// services marked public. Absent: no authentication.
	Auth *Auth `yaml:"auth"`

	// ReadTimeout bounds reading a whole request, body included. Default 30s.
	ReadTimeout time.Duration `yaml:"read_timeout"`
	// WriteTimeout bounds writing a reply. Default: the longest service or
	// route timeout plus 5s; a streaming reply extends its own deadline by
	// this much per message.
	WriteTimeout time.Duration `yaml:"write_timeout"`
	// IdleTimeout closes keep-alive connections idle this long. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxConnections caps open data-plane connections; beyond it new ones
	// are closed at once (and counted). Default 10000.
	MaxConnections int `yaml:"max_connections"`
	// MaxJSONDepth caps the nesting of request JSON. Default 64.
	MaxJSONDepth int `yaml:"max_json_depth"`
	// AllowAnyContentType lets a request body come with any Content-Type;
	// by default it must be application/json or application/*+json.
	AllowAnyContentType bool `yaml:"allow_any_content_type"`
	// AdminToken, when set, is required as "Authorization: Bearer <token>"
	// on every /admin/* request of the control plane.
	AdminToken string `yaml:"admin_token"`
	// AdminTokenEnv names an environment variable holding the admin token.
	AdminTokenEnv string `yaml:"admin_token_env"`

	// TLS serves HTTPS (HTTP/2 and HTTP/1.1) on listen; AdminTLS the same
	// on admin.
	TLS      *ServerTLS `yaml:"tls"`
	AdminTLS *ServerTLS `yaml:"admin_tls"`
	// TrustedProxies are the peers (CIDRs or addresses) whose
	// X-Forwarded-For is believed.
	TrustedProxies []string `yaml:"trusted_proxies"`
	// IPRules allow and deny client addresses, for every request.
	IPRules *IPRules `yaml:"ip_rules"`
	// OpenAPI: "" (the document on the control plane only) or "public"
	// (also GET /openapi.json on the data plane).
	OpenAPI string `yaml:"openapi"`
	// Streams bounds client- and bidirectional-streaming calls.
	Streams Streams `yaml:"streams"`
}

// Streams bounds calls whose requests are a stream: an NDJSON request body
// (Content-Type: application/x-ndjson) or a WebSocket. Such a call is not
// bounded by its service's timeout but by IdleTimeout between messages.
type Streams struct {
	// MaxMessageBytes caps one request message (an NDJSON line, a
	// WebSocket message). Default: server.max_body_bytes.
	MaxMessageBytes int64 `yaml:"max_message_bytes"`
	// IdleTimeout ends a stream when no message has gone either way for
	// this long. Default 60s.
	IdleTimeout time.Duration `yaml:"idle_timeout"`
	// MaxPerConnection caps the streams open at once on one client
	// connection (HTTP/2 multiplexes many). Default 100.
	MaxPerConnection int `yaml:"max_per_connection"`
}

// AdminSecret returns the control plane's bearer token ("" when none).
func (s *Server) AdminSecret() string {
	if s.AdminTokenEnv != "" {
		return os.Getenv(s.AdminTokenEnv)
	}
	return s.AdminToken
}

// Auth configures API-key authentication.
type Auth struct {
	// Header carries the key. Default X-API-Key.
	Header string `yaml:"header"`
	// Keys are the accepted keys.
	Keys []APIKey `yaml:"keys"`
	// JWT accepts bearer tokens; HMAC signed requests.
	JWT  *JWT  `yaml:"jwt"`
	HMAC *HMAC `yaml:"hmac"`
	// MaxFailuresPerMinute caps failed authentications per client address;
	// beyond it the client gets 429 before its key is checked. Default 60;
	// negative turns the cap off.
	MaxFailuresPerMinute int `yaml:"max_failures_per_minute"`
}

// APIKey is one accepted key; exactly one of Key and KeyEnv.
type APIKey struct {
	// Name identifies the caller in logs and rate-limit keys.
	Name string `yaml:"name"`
	// Key is the key itself.
	Key string `yaml:"key"`
	// KeyEnv names an environment variable holding the key.
	KeyEnv string `yaml:"key_env"`
}

// RateLimit is a token bucket.
type RateLimit struct {
	// RPS is the sustained rate, requests per second.
	RPS float64 `yaml:"rps"`
	// Burst is the bucket size. Default: RPS rounded up, at least 1.
	Burst int `yaml:"burst"`
	// By chooses one bucket per: "" (the whole service), "ip" (client
	// address), "api_key" (the caller's key name), or "header:<name>".
	By string `yaml:"by"`
}

// CORS configures cross-origin responses. Absent means no CORS headers.
type CORS struct {
	AllowOrigins     []string      `yaml:"allow_origins"`
	AllowMethods     []string      `yaml:"allow_methods"`
	AllowHeaders     []string      `yaml:"allow_headers"`
	ExposeHeaders    []string      `yaml:"expose_headers"`
	AllowCredentials bool          `yaml:"allow_credentials"`
	MaxAge           time.Duration `yaml:"max_age"`
}

// Registry is a named service registry.
type Registry struct {
	Name      string     `yaml:"name"`
	ZooKeeper *ZooKeeper `yaml:"zookeeper"`
}

// ZooKeeper configures a ZooKeeper registry.
type ZooKeeper struct {
	Servers []string `yaml:"servers"`
	// Root is where the SDK registers. Default /rpcbridge.
	Root string `yaml:"root"`
	// SessionTimeout default 10s.
	SessionTimeout time.Duration `yaml:"session_timeout"`
	// Auth is the principal this process authenticates as (see
	// mapping/zookeeper.go); ACL the ACL of every node it creates.
	Auth *ZKAuth `yaml:"auth"`
	ACL  []ZKACL `yaml:"acl"`
}

// Service is one backend service.
type Service struct {
	// Name is the gateway's name for the service; the serviceName header
	// and route-less calls use it.
	Name string `yaml:"name"`
	// Protocol names the plug-in that reads the service's protocol
	// section (cmd/rpcbridge: grpc, dubbo, triple, thrift, tars, http).
	Protocol string `yaml:"protocol"`
	// Proto is the decoded protocol section; nil when no plug-in is
	// named Protocol.
	Proto ProtocolConfig `yaml:"-"`
	// sections are the keys of the protocol sections the service has;
	// discoveryKeys the keys of its discovery section that plug-ins read.
	// (Names only: two generations of an unchanged service compare equal
	// wherever it sits in the file.)
	sections, discoveryKeys []string

	// Instances is a static list of backend instances.
	Instances []Instance `yaml:"instances"`
	// Discovery finds instances in a registry instead (or as well).
	Discovery *Discovery `yaml:"discovery"`

	// Balancer: round_robin (default) | random | consistent_hash | least_request.
	Balancer string `yaml:"balancer"`
	// HashKey names where consistent_hash takes its key from.
	HashKey *HashKey `yaml:"hash_key"`
	// Timeout per call, default 3s.
	Timeout time.Duration `yaml:"timeout"`
	// Retries on another instance after a connection failure. Default 1.
	Retries *int `yaml:"retries"`
	// ForwardHeaders are request headers sent to the backend as metadata.
	ForwardHeaders []string `yaml:"forward_headers"`
	// TagFallback: when no instance carries the requested tag, fall back to
	// untagged instances (true, default) or fail with 503 (false).
	TagFallback *bool `yaml:"tag_fallback"`
	// Outlier configures passive ejection of failing instances.
	Outlier *Outlier `yaml:"outlier"`
	// HealthCheck configures active health checks.
	HealthCheck *HealthCheck `yaml:"health_check"`
	// APIs declares the service's APIs (methods), for registered_only mode
	// and serviceName/scTag lookups without a schema round trip.
	APIs []string `yaml:"apis"`
	// RateLimit caps the request rate to the service (429 beyond it).
	RateLimit *RateLimit `yaml:"rate_limit"`
	// Public exempts the service from server.auth.
	Public bool `yaml:"public"`
	// TLS makes the gateway dial the service's instances over TLS.
	TLS *ClientTLS `yaml:"tls"`
	// Auth lists the schemes of server.auth the service accepts (api_key,
	// jwt, hmac; any one suffices). Empty: every configured scheme.
	Auth []string `yaml:"auth"`
	// IPRules narrow server.ip_rules for this service.
	IPRules *IPRules `yaml:"ip_rules"`

	// Traffic control (mapping/traffic.go).
	Split          []Split         `yaml:"split"`
	SplitKey       string          `yaml:"split_key"`
	Mirror         *Mirror         `yaml:"mirror"`
	CircuitBreaker *CircuitBreaker `yaml:"circuit_breaker"`
	MaxConcurrent  int             `yaml:"max_concurrent"`
	Retry          *Retry          `yaml:"retry"`
	Fallback       *Fallback       `yaml:"fallback"`
}

// HashKey names the request part consistent hashing keys on; one of them.
type HashKey struct {
	Header string `yaml:"header"`
	Query  string `yaml:"query"`
	Path   string `yaml:"path"`
}

// Outlier configures passive outlier ejection.
type Outlier struct {
	// ConsecutiveFailures ejects an instance after this many connection
	// failures or 5xx-class errors in a row. Default 5; 0 keeps the default,
	// a negative number disables ejection.
	ConsecutiveFailures int `yaml:"consecutive_failures"`
	// BaseEjection is the first ejection's length; it grows with each
	// ejection of the same instance. Default 10s.
	BaseEjection time.Duration `yaml:"base_ejection"`
	// MaxEjectionPercent caps the share of instances ejected at once.
	// Default 50.
	MaxEjectionPercent int `yaml:"max_ejection_percent"`
}

// HealthCheck configures active health checks.
type HealthCheck struct {
	// Interval between checks. Default 5s.
	Interval time.Duration `yaml:"interval"`
	// Timeout of one check. Default 1s.
	Timeout time.Duration `yaml:"timeout"`
}

// Instance is one statically configured backend instance.
type Instance struct {
	Address  string            `yaml:"address"`
	Weight   int               `yaml:"weight"`
	Zone     string            `yaml:"zone"`
	Tags     []string          `yaml:"tags"`
	Metadata map[string]string `yaml:"metadata"`
}

// Discovery finds a service's instances in a registry.
type Discovery struct {
	// Registry names an entry of registries.
	Registry string `yaml:"registry"`
	// Service is the name the instances register under; default the
	// service's name.
	Service string `yaml:"service"`
	// Protocols may read more keys (mapping.DiscoveryKeys).
}

// Route maps HTTP requests to a service method.
type Route struct {
	Match   Match  `yaml:"match" json:"match,omitempty"`
	Service string `yaml:"service" json:"service,omitempty"`
	// Method is the backend method. Empty with a prefix match: the rest of
	// the path names the method.
	Method string `yaml:"method" json:"method,omitempty"`
	// Timeout overrides the service's timeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`
	// Retries overrides the service's retries.
	Retries *int `yaml:"retries" json:"retries,omitempty"`
	// Idempotent allows retrying after the request reached a backend.
	Idempotent bool `yaml:"idempotent" json:"idempotent,omitempty"`
	// Public overrides the service's public for this route: true needs
	// no API key, false needs one even when the service is public.
	Public *bool `yaml:"public" json:"public,omitempty"`
	// RateLimit is the route's own token bucket, taken after the
	// service's.
	RateLimit *RateLimit `yaml:"rate_limit" json:"rate_limit,omitempty"`
	// IPRules narrow the service's for this route.
	IPRules *IPRules `yaml:"ip_rules" json:"ip_rules,omitempty"`
	// StripPrefix (prefix routes) forwards the path without the matched
	// prefix; Rewrite puts this in place of the matched prefix (or the
	// whole path of a path route). For services that forward whole HTTP
	// requests (http.mode: proxy).
	StripPrefix bool   `yaml:"strip_prefix" json:"strip_prefix,omitempty"`
	Rewrite     string `yaml:"rewrite" json:"rewrite,omitempty"`
	// Compose fans the request out to several calls (mapping/compose.go);
	// the route then names no service or method.
	Compose *Compose `yaml:"compose" json:"compose,omitempty"`
}

// Match selects requests: exactly one of Path and Prefix.
type Match struct {
	// Path is an exact path or a template with {name} segments.
	Path string `yaml:"path" json:"path,omitempty"`
	// Prefix matches every path that starts with it.
	Prefix string `yaml:"prefix" json:"prefix,omitempty"`
	// Methods are the HTTP methods the route accepts; empty means GET,
	// POST, PUT, PATCH and DELETE. HEAD, OPTIONS, TRACE and CONNECT never
	// reach a backend.
	Methods []string `yaml:"methods" json:"methods,omitempty"`
	// Host restricts the route to a Host header (port ignored).
	Host string `yaml:"host" json:"host,omitempty"`
	// Headers, Query and Cookies are conditions on the request, checked
	// after the path matched (mapping/conditions.go).
	Headers map[string]*Cond `yaml:"headers" json:"headers,omitempty"`
	Query   map[string]*Cond `yaml:"query" json:"query,omitempty"`
	Cookies map[string]*Cond `yaml:"cookies" json:"cookies,omitempty"`
}

// Load reads, strictly decodes and validates a config file, resolving
// its file paths relative to its folder.
func Load(path string, plugins Plugins) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	c, err := Decode(data, plugins)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	c.ResolvePaths(filepath.Dir(path))
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse strictly decodes YAML (unknown keys are errors), applies defaults
// and validates. Validation problems come back as Problems.
func Parse(data []byte, plugins Plugins) (*Config, error) {
	c, err := Decode(data, plugins)
	if err != nil {
		return nil, err
	}
	c.ApplyDefaults()
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// Decode strictly decodes YAML without defaults or validation: a key the
// model does not have, or a value of the wrong kind, is one of the
// Problems it returns, each naming its line. plugins decode the protocol
// sections of services; a service whose protocol no plug-in takes keeps a
// nil Proto (Validate reports it).
func Decode(data []byte, plugins Plugins) (*Config, error) {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	var root yaml.Node
	if err := dec.Decode(&root); err != nil {
		if errors.Is(err, io.EOF) {
			return nil, errors.New("config is empty")
		}
		return nil, withHint(data, err)
	}
	var more yaml.Node
	if err := dec.Decode(&more); !errors.Is(err, io.EOF) {
		if err != nil {
			return nil, withHint(data, err)
		}
		return nil, fmt.Errorf("line %d: a second YAML document (after ---): the config is one document", more.Line)
	}
	sections, discoveryKeys := plugins.sections(), plugins.discoveryKeys()
	check := strictChecker{extra: map[reflect.Type]func(string) bool{
		reflect.TypeOf(Service{}):   func(k string) bool { return sections[k] },
		reflect.TypeOf(Discovery{}): func(k string) bool { return discoveryKeys[k] },
	}}
	check.check(&root, reflect.TypeOf(Config{}), "")
	c := &Config{plugins: plugins}
	if len(check.problems) == 0 {
		if err := root.Decode(c); err != nil {
			return nil, withHint(data, yamlProblems(err))
		}
	}
	// Each service's protocol section, read by its plug-in; its problems
	// are reported with the others.
	p := check.problems
	for i, n := range serviceNodes(&root) {
		s := &Service{Protocol: scalarAt(n, "protocol")}
		if i < len(c.Services) {
			s = &c.Services[i]
		}
		secNodes, discNodes := map[string]*yaml.Node{}, map[string]*yaml.Node{}
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k := n.Content[j].Value; sections[k] {
				secNodes[k] = n.Content[j+1]
			} else if k == "discovery" {
				d := resolveAlias(n.Content[j+1])
				for m := 0; m+1 < len(d.Content); m += 2 {
					if dk := d.Content[m].Value; discoveryKeys[dk] {
						discNodes[dk] = d.Content[m+1]
					}
				}
			}
		}
		s.sections, s.discoveryKeys = sortedKeys(secNodes), sortedKeys(discNodes)
		pl := plugins[s.Protocol]
		if pl == nil {
			continue
		}
		in := SectionInput{Service: s, Where: fmt.Sprintf("services[%d]", i), Discovery: map[string]*yaml.Node{}}
		if sec := pl.Section(); sec != "" {
			in.Node = secNodes[sec]
		}
		if dk, ok := pl.(DiscoveryKeys); ok {
			for _, k := range dk.DiscoveryKeys() {
				if v := discNodes[k]; v != nil {
					in.Discovery[k] = v
				}
			}
		}
		proto, err := pl.Decode(in)
		if err != nil {
			if more, ok := err.(Problems); ok {
				p = append(p, more...)
			} else {
				p = append(p, err.Error())
			}
			continue
		}
		s.Proto = proto
	}
	if len(p) > 0 {
		sort.SliceStable(p, func(i, j int) bool { return problemLine(p[i]) < problemLine(p[j]) })
		return nil, p
	}
	return c, nil
}

// problemLine is the line a decoding problem names ("line 12: ..."), 0
// when none.
func problemLine(problem string) int {
	var n int
	fmt.Sscanf(problem, "line %d:", &n)
	return n
}

// scalarAt is the scalar value of key in a mapping node ("" when absent).
func scalarAt(n *yaml.Node, key string) string {
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return resolveAlias(n.Content[i+1]).Value
		}
	}
	return ""
}

// serviceNodes are the mapping nodes of the services list.
func serviceNodes(root *yaml.Node) []*yaml.Node {
	doc := resolveAlias(root)
	if doc.Kind == yaml.DocumentNode && len(doc.Content) > 0 {
		doc = resolveAlias(doc.Content[0])
	}
	for i := 0; i+1 < len(doc.Content); i += 2 {
		if doc.Content[i].Value == "services" {
			var out []*yaml.Node
			for _, n := range resolveAlias(doc.Content[i+1]).Content {
				out = append(out, resolveAlias(n))
			}
			return out
		}
	}
	return nil
}

func resolveAlias(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// Plugins returns the protocol plug-ins the config was decoded with.
func (c *Config) Plugins() Plugins { return c.plugins }

// Defaults.
const (
	DefaultListen       = "127.0.0.1:8080"
	DefaultMaxBodyBytes = 4 << 20
	DefaultTimeout      = 3 * time.Second
	DefaultTagHeader    = "gray"
	DefaultBalancer     = "round_robin"
	DefaultRetries      = 1
	DefaultReadTimeout  = 30 * time.Second
	DefaultIdleTimeout  = 60 * time.Second
	DefaultMaxConns     = 10000
	DefaultMaxJSONDepth = generic.DefaultJSONDepth
	DefaultAuthFailures = 60
	// DefaultStreamIdle and DefaultStreamsPerConn are server.streams'.
	DefaultStreamIdle     = 60 * time.Second
	DefaultStreamsPerConn = 100
)

// ApplyDefaults fills unset keys with their defaults.
func (c *Config) ApplyDefaults() {
	if c.Server.Listen == "" {
		c.Server.Listen = DefaultListen
	}
	if c.Server.MaxBodyBytes == 0 {
		c.Server.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.Server.TagHeader == "" {
		c.Server.TagHeader = DefaultTagHeader
	}
	if c.Server.ShutdownTimeout == 0 {
		c.Server.ShutdownTimeout = 10 * time.Second
	}
	if a := c.Server.Auth; a != nil {
		if a.Header == "" {
			a.Header = "X-API-Key"
		}
		if a.MaxFailuresPerMinute == 0 {
			a.MaxFailuresPerMinute = DefaultAuthFailures
		}
	}
	if c.Server.ReadTimeout == 0 {
		c.Server.ReadTimeout = DefaultReadTimeout
	}
	if c.Server.IdleTimeout == 0 {
		c.Server.IdleTimeout = DefaultIdleTimeout
	}
	if c.Server.MaxConnections == 0 {
		c.Server.MaxConnections = DefaultMaxConns
	}
	if c.Server.MaxJSONDepth == 0 {
		c.Server.MaxJSONDepth = DefaultMaxJSONDepth
	}
	st := &c.Server.Streams
	if st.MaxMessageBytes == 0 {
		st.MaxMessageBytes = c.Server.MaxBodyBytes
		if st.MaxMessageBytes < 0 {
			st.MaxMessageBytes = DefaultMaxBodyBytes // max_body_bytes is refused anyway
		}
	}
	if st.IdleTimeout == 0 {
		st.IdleTimeout = DefaultStreamIdle
	}
	if st.MaxPerConnection == 0 {
		st.MaxPerConnection = DefaultStreamsPerConn
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.Balancer == "" {
			s.Balancer = DefaultBalancer
		}
		if s.Timeout == 0 {
			s.Timeout = DefaultTimeout
		}
		if s.Retries == nil {
			r := DefaultRetries
			s.Retries = &r
		}
		if s.TagFallback == nil {
			t := true
			s.TagFallback = &t
		}
		s.RateLimit.applyDefaults()
		for j := range s.Instances {
			if s.Instances[j].Weight == 0 {
				s.Instances[j].Weight = 100
			}
		}
	}
	for i := range c.Routes {
		c.Routes[i].RateLimit.applyDefaults()
	}
	c.applyEdgeDefaults()
	c.Server.AccessLog.applyDefaults()
	c.applyTrafficDefaults()
	if c.Server.WriteTimeout == 0 {
		c.Server.WriteTimeout = c.LongestTimeout() + 5*time.Second
	}
	c.applyTelemetryDefaults()
}

func (rl *RateLimit) applyDefaults() {
	if rl != nil && rl.Burst == 0 {
		rl.Burst = max(1, int(math.Ceil(rl.RPS)))
	}
}

// LongestTimeout is the longest service or route timeout (at least
// DefaultTimeout).
func (c *Config) LongestTimeout() time.Duration {
	d := DefaultTimeout
	for _, s := range c.Services {
		d = max(d, s.Timeout)
	}
	for _, r := range c.Routes {
		d = max(d, r.Timeout)
	}
	return d
}

// Service returns the named service, or nil.
func (c *Config) Service(name string) *Service {
	for i := range c.Services {
		if c.Services[i].Name == name {
			return &c.Services[i]
		}
	}
	return nil
}

// flowTemplateRE finds an unquoted path template inside a flow mapping:
// `{path: /v1/x/{id}, ...}`, which YAML reads as a nested mapping.
var flowTemplateRE = regexp.MustCompile(`\{[^#]*\b(path|prefix):\s*/[^"',}\s]*\{`)

// withHint adds advice to a YAML syntax error when the file holds an
// unquoted path template inside a flow mapping, the most common mistake
// (YAML reports it at another line).
func withHint(data []byte, err error) error {
	for i, line := range strings.Split(string(data), "\n") {
		if flowTemplateRE.MatchString(line) {
			return fmt.Errorf("%w (hint: line %d has a path template inside {...}; quote it: path: \"/v1/people/{id}\")", err, i+1)
		}
	}
	return err
}
