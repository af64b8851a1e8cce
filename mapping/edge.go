package mapping

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// ServerTLS configures TLS on a listener.
type ServerTLS struct {
	// Cert and Key are PEM files, re-read when they change.
	Cert string `yaml:"cert"`
	Key  string `yaml:"key"`
	// ClientCA is a PEM file of the authorities client certificates must
	// chain to (mutual TLS).
	ClientCA string `yaml:"client_ca"`
	// ClientAuth: none (default) | request (verified when sent) |
	// require.
	ClientAuth string `yaml:"client_auth"`
	// MinVersion: "1.2" (default) | "1.3".
	MinVersion string `yaml:"min_version"`
	// ForwardClientSubject names a header that carries the verified client
	// certificate's subject to backends (a client-sent one is dropped).
	ForwardClientSubject string `yaml:"forward_client_subject"`
}

// IPRules allow and deny client addresses by CIDR; deny wins. An empty
// allow list allows every address not denied.
type IPRules struct {
	Allow []string `yaml:"allow" json:"allow,omitempty"`
	Deny  []string `yaml:"deny" json:"deny,omitempty"`
}

// JWT verifies bearer tokens.
type JWT struct {
	// Issuer, when set, must be the token's iss.
	Issuer string `yaml:"issuer"`
	// Audiences, when set: the token's aud must name one of them.
	Audiences []string `yaml:"audiences"`
	// Algorithms is the allow-list; default: every algorithm the
	// configured keys can verify. "none" is always refused.
	Algorithms []string `yaml:"algorithms"`
	// JWKSFile is a JSON Web Key Set file; Keys are PEM public keys by
	// kid; HSSecretEnv names an environment variable holding an HMAC
	// secret (HS256/384/512).
	JWKSFile    string   `yaml:"jwks_file"`
	Keys        []JWTKey `yaml:"keys"`
	HSSecretEnv string   `yaml:"hs_secret_env"`
	// Leeway is the clock skew allowed for exp, nbf and iat. Default 0.
	Leeway time.Duration `yaml:"leeway"`
	// ClaimsToHeaders forwards claims to backends under these header
	// names (client-sent headers of those names are dropped).
	ClaimsToHeaders map[string]string `yaml:"claims_to_headers"`
}

// JWTKey is one PEM public key (RSA, ECDSA or Ed25519).
type JWTKey struct {
	Kid     string `yaml:"kid"`
	PEMFile string `yaml:"pem_file"`
}

// HMAC verifies signed requests (X-Rb-* headers).
type HMAC struct {
	Apps []HMACApp `yaml:"apps"`
	// MaxSkew is how far the timestamp may be from the gateway's clock.
	// Default 5m.
	MaxSkew time.Duration `yaml:"max_skew"`
	// NonceTTL is how long a nonce is remembered. Default 10m; at least
	// twice max_skew.
	NonceTTL time.Duration `yaml:"nonce_ttl"`
}

// HMACApp is one partner application.
type HMACApp struct {
	AppKey    string `yaml:"app_key"`
	SecretEnv string `yaml:"secret_env"`
}

// AuthSchemes are the scheme names services list in auth.
var authSchemes = []string{"api_key", "jwt", "hmac"}

// Schemes lists the schemes a server.auth configures.
func (a *Auth) Schemes() []string {
	if a == nil {
		return nil
	}
	var out []string
	if len(a.Keys) > 0 {
		out = append(out, "api_key")
	}
	if a.JWT != nil {
		out = append(out, "jwt")
	}
	if a.HMAC != nil {
		out = append(out, "hmac")
	}
	return out
}

// Prefixes parses the rules' CIDRs and addresses.
func (r *IPRules) Prefixes() (allow, deny []netip.Prefix, err error) {
	if allow, err = ParsePrefixes(r.Allow); err != nil {
		return nil, nil, err
	}
	deny, err = ParsePrefixes(r.Deny)
	return allow, deny, err
}

// ParsePrefixes parses CIDRs ("10.0.0.0/8", "2001:db8::/32") and single
// addresses.
func ParsePrefixes(ss []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(ss))
	for _, s := range ss {
		if strings.Contains(s, "/") {
			p, err := netip.ParsePrefix(s)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR", s)
			}
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not an address or CIDR", s)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

func (t *ServerTLS) resolvePaths(dir string) {
	if t != nil {
		for _, p := range []*string{&t.Cert, &t.Key, &t.ClientCA} {
			ResolvePath(dir, p)
		}
	}
}

func (j *JWT) resolvePaths(dir string) {
	if j != nil {
		ResolvePath(dir, &j.JWKSFile)
		for i := range j.Keys {
			ResolvePath(dir, &j.Keys[i].PEMFile)
		}
	}
}

// Defaults of the edge keys.
const (
	DefaultHMACMaxSkew  = 5 * time.Minute
	DefaultHMACNonceTTL = 10 * time.Minute
)

func (c *Config) applyEdgeDefaults() {
	for _, t := range []*ServerTLS{c.Server.TLS, c.Server.AdminTLS} {
		if t == nil {
			continue
		}
		if t.ClientAuth == "" {
			t.ClientAuth = "none"
		}
		if t.MinVersion == "" {
			t.MinVersion = "1.2"
		}
	}
	if a := c.Server.Auth; a != nil && a.HMAC != nil {
		if a.HMAC.MaxSkew == 0 {
			a.HMAC.MaxSkew = DefaultHMACMaxSkew
		}
		if a.HMAC.NonceTTL == 0 {
			a.HMAC.NonceTTL = DefaultHMACNonceTTL
		}
	}
}

var jwtAlgorithms = map[string]bool{
	"RS256": true, "RS384": true, "RS512": true, "PS256": true, "PS384": true, "PS512": true,
	"ES256": true, "ES384": true, "ES512": true, "EdDSA": true, "HS256": true, "HS384": true, "HS512": true,
}

func (c *Config) validateEdge(add func(string, ...any)) {
	sv := &c.Server
	for _, t := range []struct {
		key string
		t   *ServerTLS
	}{{"server.tls", sv.TLS}, {"server.admin_tls", sv.AdminTLS}} {
		if t.t == nil {
			continue
		}
		validateServerTLS(t.key, t.t, add)
	}
	if _, err := ParsePrefixes(sv.TrustedProxies); err != nil {
		add("server.trusted_proxies: %v", err)
	}
	validateIPRules("server.ip_rules", sv.IPRules, add)
	if a := sv.Auth; a != nil {
		if j := a.JWT; j != nil {
			validateJWT(j, add)
		}
		if h := a.HMAC; h != nil {
			validateHMAC(h, add)
		}
	}
	configured := map[string]bool{}
	for _, s := range sv.Auth.Schemes() {
		configured[s] = true
	}
	for i := range c.Services {
		s := &c.Services[i]
		where := fmt.Sprintf("services[%d] %q", i, s.Name)
		validateIPRules(where+": ip_rules", s.IPRules, add)
		for _, scheme := range s.Auth {
			switch {
			case !contains(authSchemes, scheme):
				add("%s: auth: unknown scheme %q; want api_key, jwt or hmac", where, scheme)
			case !configured[scheme]:
				add("%s: auth: scheme %q is not configured in server.auth", where, scheme)
			}
		}
		if len(s.Auth) > 0 && s.Public {
			add("%s: auth lists schemes but public: true accepts every caller; give one of them", where)
		}
	}
	for i, r := range c.Routes {
		validateIPRules(fmt.Sprintf("routes[%d]: ip_rules", i), r.IPRules, add)
	}
}

func validateServerTLS(key string, t *ServerTLS, add func(string, ...any)) {
	if t.Cert == "" || t.Key == "" {
		add("%s: cert and key are required", key)
	}
	for _, f := range []struct{ k, path string }{{"cert", t.Cert}, {"key", t.Key}, {"client_ca", t.ClientCA}} {
		if f.path == "" {
			continue
		}
		if _, err := os.Stat(f.path); err != nil {
			add("%s.%s: %v", key, f.k, err)
		}
	}
	switch t.ClientAuth {
	case "none":
	case "request", "require":
		if t.ClientCA == "" {
			add("%s: client_auth %s needs client_ca", key, t.ClientAuth)
		}
	default:
		add("%s.client_auth: want none, request or require, got %q", key, t.ClientAuth)
	}
	if t.MinVersion != "1.2" && t.MinVersion != "1.3" {
		add("%s.min_version: want \"1.2\" or \"1.3\", got %q", key, t.MinVersion)
	}
	if h := t.ForwardClientSubject; h != "" {
		if !headerNameRE.MatchString(h) {
			add("%s.forward_client_subject: %q is not a header name", key, h)
		}
		if t.ClientAuth == "none" {
			add("%s.forward_client_subject: needs client_auth request or require", key)
		}
	}
}

func validateIPRules(key string, r *IPRules, add func(string, ...any)) {
	if r == nil {
		return
	}
	if _, err := ParsePrefixes(r.Allow); err != nil {
		add("%s.allow: %v", key, err)
	}
	if _, err := ParsePrefixes(r.Deny); err != nil {
		add("%s.deny: %v", key, err)
	}
}

func validateJWT(j *JWT, add func(string, ...any)) {
	if j.JWKSFile == "" && len(j.Keys) == 0 && j.HSSecretEnv == "" {
		add("server.auth.jwt: give jwks_file, keys or hs_secret_env")
	}
	if j.JWKSFile != "" {
		if _, err := os.Stat(j.JWKSFile); err != nil {
			add("server.auth.jwt.jwks_file: %v", err)
		}
	}
	kids := map[string]bool{}
	for i, k := range j.Keys {
		if k.PEMFile == "" {
			add("server.auth.jwt.keys[%d]: pem_file is required", i)
		} else if _, err := os.Stat(k.PEMFile); err != nil {
			add("server.auth.jwt.keys[%d].pem_file: %v", i, err)
		}
		if kids[k.Kid] {
			add("server.auth.jwt.keys[%d]: duplicate kid %q", i, k.Kid)
		}
		kids[k.Kid] = true
	}
	if j.HSSecretEnv != "" && len(os.Getenv(j.HSSecretEnv)) < 32 {
		add("server.auth.jwt.hs_secret_env: environment variable %s must hold at least 32 bytes", j.HSSecretEnv)
	}
	for i, a := range j.Algorithms {
		switch {
		case strings.EqualFold(a, "none"):
			add("server.auth.jwt.algorithms[%d]: \"none\" (unsigned tokens) is never accepted", i)
		case !jwtAlgorithms[a]:
			add("server.auth.jwt.algorithms[%d]: unknown algorithm %q", i, a)
		}
	}
	if j.Leeway < 0 {
		add("server.auth.jwt.leeway must not be negative, got %s", j.Leeway)
	}
	for claim, h := range j.ClaimsToHeaders {
		if !headerNameRE.MatchString(h) {
			add("server.auth.jwt.claims_to_headers.%s: %q is not a header name", claim, h)
		}
	}
}

func validateHMAC(h *HMAC, add func(string, ...any)) {
	if len(h.Apps) == 0 {
		add("server.auth.hmac: apps lists no app")
	}
	seen := map[string]bool{}
	for i, a := range h.Apps {
		where := fmt.Sprintf("server.auth.hmac.apps[%d]", i)
		switch {
		case a.AppKey == "":
			add("%s: app_key is required", where)
		case seen[a.AppKey]:
			add("%s: duplicate app_key %q", where, a.AppKey)
		}
		seen[a.AppKey] = true
		switch {
		case a.SecretEnv == "":
			add("%s: secret_env is required", where)
		case len(os.Getenv(a.SecretEnv)) < 16:
			add("%s: environment variable %s must hold a secret of at least 16 bytes", where, a.SecretEnv)
		}
	}
	if h.MaxSkew < 0 {
		add("server.auth.hmac.max_skew must not be negative, got %s", h.MaxSkew)
	}
	if h.NonceTTL < 2*h.MaxSkew {
		add("server.auth.hmac.nonce_ttl: %s is shorter than twice max_skew (%s): a request could be replayed once its nonce is forgotten", h.NonceTTL, h.MaxSkew)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
