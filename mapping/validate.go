package mapping

import (
	"fmt"
	"net"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// Problems lists every validation problem of a config, each naming the
// service, route or key and the conflict.
type Problems []string

func (p Problems) Error() string {
	if len(p) == 1 {
		return p[0]
	}
	return fmt.Sprintf("%d problems:\n  %s", len(p), strings.Join(p, "\n  "))
}

var (
	serviceNameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.\-]*$`)
	httpMethods   = map[string]bool{"GET": true, "POST": true, "PUT": true, "PATCH": true, "DELETE": true}
	headerNameRE  = regexp.MustCompile("^[A-Za-z0-9!#$%&'*+.^_`|~-]+$")
	hostRE        = regexp.MustCompile(`^[A-Za-z0-9.\-\[\]:]+$`)
)

// Validate checks the config and returns Problems (nil when valid). It
// assumes ApplyDefaults has run.
func (c *Config) Validate() error {
	var p Problems
	add := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if c.Server.MaxBodyBytes < 0 {
		add("server.max_body_bytes: must be positive, got %d", c.Server.MaxBodyBytes)
	}
	checkAddr := func(key, v string) {
		if v == "" {
			return
		}
		if _, _, err := net.SplitHostPort(v); err != nil {
			add("%s: want host:port, got %q", key, v)
		}
	}
	checkAddr("server.listen", c.Server.Listen)
	checkAddr("server.admin", c.Server.Admin)
	if c.Server.Admin != "" && c.Server.Admin == c.Server.Listen {
		add("server.admin: %q is also server.listen; the control plane needs its own port", c.Server.Admin)
	}
	c.validateLimits(add)
	c.validateEdge(add)
	if o := c.Server.OpenAPI; o != "" && o != "public" {
		add("server.openapi: want public or nothing, got %q", o)
	}
	c.Server.AccessLog.validate(add)
	c.validateTelemetry(add)

	if a := c.Server.Auth; a != nil {
		if len(a.Keys) == 0 && a.JWT == nil && a.HMAC == nil {
			add("server.auth: configures no scheme; give keys, jwt or hmac")
		}
		names := map[string]bool{}
		secrets := map[string]string{} // key -> the name that uses it
		for i, k := range a.Keys {
			where := fmt.Sprintf("server.auth.keys[%d]", i)
			if k.Name == "" {
				add("%s: name is required", where)
			} else if names[k.Name] {
				add("%s: duplicate name %q", where, k.Name)
			}
			names[k.Name] = true
			switch {
			case (k.Key == "") == (k.KeyEnv == ""):
				add("%s %q: give exactly one of key and key_env", where, k.Name)
			case k.KeyEnv != "" && os.Getenv(k.KeyEnv) == "":
				add("%s %q: environment variable %s is empty", where, k.Name, k.KeyEnv)
			}
			key := k.Key
			if k.KeyEnv != "" {
				key = os.Getenv(k.KeyEnv)
			}
			if other, dup := secrets[key]; dup && key != "" {
				add("%s %q: the same key as %q; each caller needs its own key", where, k.Name, other)
			} else if key != "" {
				secrets[key] = k.Name
			}
		}
	}
	registries := map[string]bool{}
	for i, r := range c.Registries {
		where := fmt.Sprintf("registries[%d]", i)
		if r.Name == "" {
			add("%s: name is required", where)
		} else if registries[r.Name] {
			add("%s: duplicate registry name %q", where, r.Name)
		}
		registries[r.Name] = true
		if r.ZooKeeper == nil {
			add("%s %q: zookeeper is required", where, r.Name)
			continue
		}
		if len(r.ZooKeeper.Servers) == 0 {
			add("%s %q: zookeeper.servers is required", where, r.Name)
		}
		for _, s := range r.ZooKeeper.Servers {
			checkAddr(where+" zookeeper.servers", s)
		}
		if r.ZooKeeper.Root != "" && !strings.HasPrefix(r.ZooKeeper.Root, "/") {
			add("%s %q: zookeeper.root must start with /, got %q", where, r.Name, r.ZooKeeper.Root)
		}
		r.ZooKeeper.validateSecurity(fmt.Sprintf("%s %q: zookeeper", where, r.Name), add)
	}

	seen := map[string]int{}
	for i := range c.Services {
		s := &c.Services[i]
		where := fmt.Sprintf("services[%d]", i)
		if s.Name == "" {
			add("%s: name is required", where)
		} else {
			where = fmt.Sprintf("services[%d] %q", i, s.Name)
			if !serviceNameRE.MatchString(s.Name) {
				add("%s: name may hold letters, digits, '_', '-' and '.', got %q", where, s.Name)
			}
			if j, dup := seen[s.Name]; dup {
				add("%s: duplicate service name, previously used by services[%d]", where, j)
			}
			seen[s.Name] = i
		}
		c.validateService(s, where, registries, add)
	}

	setNames := make([]string, 0, len(c.ServiceSets))
	for name := range c.ServiceSets {
		setNames = append(setNames, name)
	}
	sort.Strings(setNames) // problems in a stable order
	for _, name := range setNames {
		members := c.ServiceSets[name]
		if len(members) == 0 {
			add("service_sets.%s: lists no services", name)
		}
		for _, m := range members {
			if c.Service(m) == nil {
				add("service_sets.%s: service %q is not defined", name, m)
			}
		}
	}

	for i, r := range c.Routes {
		where := fmt.Sprintf("routes[%d]", i)
		if r.Match.Path != "" {
			where += " (" + r.Match.Path + ")"
		} else if r.Match.Prefix != "" {
			where += " (prefix " + r.Match.Prefix + ")"
		}
		switch {
		case r.Match.Path == "" && r.Match.Prefix == "":
			add("%s: match needs path or prefix", where)
		case r.Match.Path != "" && r.Match.Prefix != "":
			add("%s: match takes path or prefix, not both", where)
		case r.Match.Path != "":
			if _, err := parseTemplate(r.Match.Path); err != nil {
				add("%s: match.path: %v", where, err)
			}
			if svc := c.Service(r.Service); r.Method == "" && r.Compose == nil && (svc == nil || !svc.ProxiesHTTP()) {
				add("%s: method is required with match.path", where)
			}
		default:
			if !strings.HasPrefix(r.Match.Prefix, "/") {
				add("%s: match.prefix must start with /, got %q", where, r.Match.Prefix)
			}
		}
		if r.Match.Host != "" && !hostRE.MatchString(r.Match.Host) {
			add("%s: match.host: want a host name, got %q", where, r.Match.Host)
		}
		for _, m := range r.Match.Methods {
			switch up := strings.ToUpper(m); {
			case up == "HEAD" || up == "OPTIONS" || up == "TRACE" || up == "CONNECT":
				add("%s: match.methods: %s never reaches a backend; want GET, POST, PUT, PATCH or DELETE", where, up)
			case !httpMethods[up]:
				add("%s: match.methods: unknown HTTP method %q; want GET, POST, PUT, PATCH or DELETE", where, m)
			}
		}
		switch {
		case r.Compose != nil:
			c.compileCompose(&c.Routes[i], where, routeParams(&c.Routes[i]), add)
		case r.Service == "":
			add("%s: service (or compose) is required", where)
		case c.Service(r.Service) == nil:
			add("%s: service %q is not defined", where, r.Service)
		}
		if r.Timeout < 0 {
			add("%s: timeout must be positive, got %s", where, r.Timeout)
		}
		if r.Retries != nil && *r.Retries < 0 {
			add("%s: retries must be 0 or more, got %d", where, *r.Retries)
		}
		c.validateRateLimit(r.RateLimit, where, add)
		if r.StripPrefix || r.Rewrite != "" {
			switch svc := c.Service(r.Service); {
			case r.StripPrefix && r.Rewrite != "":
				add("%s: give strip_prefix or rewrite, not both", where)
			case r.StripPrefix && r.Match.Prefix == "":
				add("%s: strip_prefix needs match.prefix", where)
			case r.Rewrite != "" && !strings.HasPrefix(r.Rewrite, "/"):
				add("%s: rewrite must start with /, got %q", where, r.Rewrite)
			case svc != nil && !svc.ProxiesHTTP():
				add("%s: strip_prefix and rewrite need a service that forwards whole requests (http.mode: proxy)", where)
			}
		}
	}
	for i := range c.Services {
		s := &c.Services[i]
		if s.HashKey == nil || s.HashKey.Path == "" {
			continue
		}
		if !c.routeHasParam(s.Name, s.HashKey.Path) {
			add("services[%d] %q: hash_key.path %q is a parameter of no route of this service ({%s} in a match.path); every call would hash the empty key", i, s.Name, s.HashKey.Path, s.HashKey.Path)
		}
	}
	// Conflicts between routes are reported by building the table.
	if _, err := NewTable(c); err != nil {
		if tp, ok := err.(Problems); ok {
			p = append(p, tp...)
		} else {
			add("%v", err)
		}
	}
	if len(p) == 0 {
		return nil
	}
	return p
}

func (c *Config) validateService(s *Service, where string, registries map[string]bool, add func(string, ...any)) {
	c.validateProtocol(s, where, add)
	c.validateTraffic(s, where, add)
	if s.TLS != nil {
		s.TLS.validate(where, add)
		if d, ok := s.Proto.(TLSDialer); s.Proto != nil && (!ok || !d.DialsTLS()) {
			add("%s: tls: protocol %q dials its backends in clear only", where, s.Protocol)
		}
	}
	if len(s.Instances) == 0 && s.Discovery == nil {
		add("%s: needs instances or discovery", where)
	}
	for j, in := range s.Instances {
		if _, _, err := net.SplitHostPort(in.Address); err != nil {
			add("%s: instances[%d].address: want host:port, got %q", where, j, in.Address)
		}
		if in.Weight < 0 {
			add("%s: instances[%d].weight must be positive, got %d", where, j, in.Weight)
		}
	}
	if s.Discovery != nil {
		if s.Discovery.Registry == "" {
			add("%s: discovery.registry is required", where)
		} else if !registries[s.Discovery.Registry] {
			add("%s: discovery.registry %q is not defined in registries", where, s.Discovery.Registry)
		}
	}
	switch s.Balancer {
	case "round_robin", "random", "least_request":
	case "consistent_hash":
		if s.HashKey == nil || (s.HashKey.Header == "" && s.HashKey.Query == "" && s.HashKey.Path == "") {
			add("%s: balancer consistent_hash needs hash_key (header, query or path)", where)
		}
	default:
		add("%s: balancer: want round_robin, random, consistent_hash or least_request, got %q", where, s.Balancer)
	}
	if s.Timeout < 0 {
		add("%s: timeout must be positive, got %s", where, s.Timeout)
	}
	if s.Retries != nil && *s.Retries < 0 {
		add("%s: retries must be 0 or more, got %d", where, *s.Retries)
	}
	c.validateRateLimit(s.RateLimit, where, add)
	if s.Outlier != nil && (s.Outlier.MaxEjectionPercent < 0 || s.Outlier.MaxEjectionPercent > 100) {
		add("%s: outlier.max_ejection_percent: want 0 to 100, got %d", where, s.Outlier.MaxEjectionPercent)
	}
	for j, h := range s.ForwardHeaders {
		if !headerNameRE.MatchString(h) {
			add("%s: forward_headers[%d]: %q is not a header name", where, j, h)
		}
	}
	if hk := s.HashKey; hk != nil {
		set := 0
		for _, v := range []string{hk.Header, hk.Query, hk.Path} {
			if v != "" {
				set++
			}
		}
		if set > 1 {
			add("%s: hash_key: give one of header, query and path", where)
		}
		if s.Balancer != "consistent_hash" {
			add("%s: hash_key is used only by balancer consistent_hash, got balancer %s", where, s.Balancer)
		}
	}
	// Durations and sizes where a negative value means nothing.
	var durs []namedDuration
	if o := s.Outlier; o != nil {
		durs = append(durs, namedDuration{"outlier.base_ejection", o.BaseEjection})
	}
	if h := s.HealthCheck; h != nil {
		durs = append(durs, namedDuration{"health_check.interval", h.Interval}, namedDuration{"health_check.timeout", h.Timeout})
	}
	for _, d := range durs {
		if d.v < 0 {
			add("%s: %s must not be negative, got %s", where, d.key, d.v)
		}
	}
}

// validateProtocol checks a service's protocol: a plug-in takes it, no
// other protocol's section or discovery key is set, and the plug-in's own
// checks.
func (c *Config) validateProtocol(s *Service, where string, add func(string, ...any)) {
	pl := c.plugins[s.Protocol]
	if pl == nil {
		add("%s: protocol: want one of %s, got %q", where, strings.Join(c.plugins.Names(), ", "), s.Protocol)
	}
	var own string
	if pl != nil {
		own = pl.Section()
	}
	for _, k := range s.sections {
		if k != own {
			add("%s: has a %s section but protocol is %q", where, k, s.Protocol)
		}
	}
	ownKeys := map[string]bool{}
	if dk, ok := pl.(DiscoveryKeys); ok {
		for _, k := range dk.DiscoveryKeys() {
			ownKeys[k] = true
		}
	}
	for _, k := range s.discoveryKeys {
		if !ownKeys[k] {
			add("%s: discovery.%s does not apply to protocol %q", where, k, s.Protocol)
		}
	}
	if s.Proto != nil {
		for _, problem := range s.Proto.Validate(s) {
			add("%s: %s", where, problem)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// routeHasParam reports whether a route of service has a path template
// with the parameter {param}.
func (c *Config) routeHasParam(service, param string) bool {
	for _, r := range c.Routes {
		if r.Service != service || r.Match.Path == "" {
			continue
		}
		segs, err := parseTemplate(r.Match.Path)
		if err != nil {
			continue
		}
		for _, s := range segs {
			if s.param == param {
				return true
			}
		}
	}
	return false
}

func (c *Config) validateRateLimit(rl *RateLimit, where string, add func(string, ...any)) {
	if rl == nil {
		return
	}
	if rl.RPS <= 0 {
		add("%s: rate_limit.rps must be positive, got %v", where, rl.RPS)
	}
	if rl.Burst < 0 {
		add("%s: rate_limit.burst must be positive, got %d", where, rl.Burst)
	}
	switch {
	case rl.By == "", rl.By == "ip", rl.By == "api_key":
		if rl.By == "api_key" && c.Server.Auth == nil {
			add("%s: rate_limit.by api_key needs server.auth", where)
		}
	case strings.HasPrefix(rl.By, "header:") && len(rl.By) > len("header:"):
	default:
		add("%s: rate_limit.by: want \"\", ip, api_key or header:<name>, got %q", where, rl.By)
	}
}

type namedDuration struct {
	key string
	v   time.Duration
}

// validateLimits checks the listener limits, CORS and the control plane's
// protection.
func (c *Config) validateLimits(add func(string, ...any)) {
	sv := &c.Server
	for _, d := range []namedDuration{{"read_timeout", sv.ReadTimeout}, {"write_timeout", sv.WriteTimeout},
		{"idle_timeout", sv.IdleTimeout}, {"shutdown_timeout", sv.ShutdownTimeout}} {
		if d.v < 0 {
			add("server.%s: must not be negative, got %v", d.key, d.v)
		}
	}
	if sv.MaxConnections < 0 {
		add("server.max_connections: must not be negative, got %d", sv.MaxConnections)
	}
	if st := sv.Streams; st.MaxMessageBytes < 0 {
		add("server.streams.max_message_bytes: must be positive, got %d", st.MaxMessageBytes)
	}
	if st := sv.Streams; st.IdleTimeout < 0 {
		add("server.streams.idle_timeout: must not be negative, got %v", st.IdleTimeout)
	}
	if st := sv.Streams; st.MaxPerConnection < 0 {
		add("server.streams.max_per_connection: must not be negative, got %d", st.MaxPerConnection)
	}
	if sv.MaxJSONDepth < 0 || sv.MaxJSONDepth > MaxJSONDepthLimit {
		add("server.max_json_depth: want 1..%d, got %d", MaxJSONDepthLimit, sv.MaxJSONDepth)
	}
	if cors := sv.CORS; cors != nil {
		for i, m := range cors.AllowMethods {
			if !httpMethods[strings.ToUpper(m)] {
				add("server.cors.allow_methods[%d]: %q is not a method a backend takes; want GET, POST, PUT, PATCH or DELETE", i, m)
			}
		}
		for i, h := range cors.AllowHeaders {
			if h != "*" && !headerNameRE.MatchString(h) {
				add("server.cors.allow_headers[%d]: %q is not a header name", i, h)
			}
		}
	}
	if cors := sv.CORS; cors != nil && cors.MaxAge < 0 {
		add("server.cors.max_age: must not be negative, got %s", cors.MaxAge)
	}
	if cors := sv.CORS; cors != nil && cors.AllowCredentials {
		for _, o := range cors.AllowOrigins {
			if o == "*" {
				add("server.cors: allow_origins \"*\" with allow_credentials: true would let every web site call with the user's credentials; list the origins")
			}
		}
	}
	if cors := sv.CORS; cors != nil {
		for _, o := range cors.AllowOrigins {
			if strings.EqualFold(o, "null") {
				add("server.cors: allow_origins lists \"null\", the origin of sandboxed and file: pages; it cannot be trusted")
			}
		}
	}
	if sv.AdminToken != "" && sv.AdminTokenEnv != "" {
		add("server: give at most one of admin_token and admin_token_env")
	}
	if sv.AdminTokenEnv != "" && os.Getenv(sv.AdminTokenEnv) == "" {
		add("server.admin_token_env: environment variable %s is empty", sv.AdminTokenEnv)
	}
	if sv.Admin != "" && sv.AdminToken == "" && sv.AdminTokenEnv == "" && !loopback(sv.Admin) {
		add("server.admin: %q is reachable from other hosts but no admin_token (or admin_token_env) is set; anyone who reaches it could reroute traffic", sv.Admin)
	}
}

// MaxJSONDepthLimit is the largest server.max_json_depth accepted.
const MaxJSONDepthLimit = 10000

// loopback reports whether a host:port binds the loopback interface only.
func loopback(addr string) bool {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return true // reported elsewhere
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
