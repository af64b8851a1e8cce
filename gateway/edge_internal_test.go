package gateway

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// metaEcho answers the metadata the gateway forwarded, as a JSON object.
type metaEcho struct{}

func (metaEcho) Name() string { return "http" }
func (metaEcho) Dial(context.Context, generic.Target) (generic.Client, error) {
	return metaEcho{}, nil
}
func (metaEcho) Invoke(_ context.Context, c *generic.Call) (*generic.Result, error) {
	b, _ := json.Marshal(c.Meta)
	return &generic.Result{Body: b}, nil
}
func (metaEcho) Describe(context.Context) (*generic.ServiceSchema, error) {
	return nil, generic.Errorf(generic.CodeUnimplemented, "no schema")
}
func (metaEcho) Close() error { return nil }

// jwtKeys are the keys of the JWT tests, written where the config finds
// them: an RSA key by PEM (kid rsa-1), an ECDSA key in a JWKS (kid ec-1).
type jwtKeys struct {
	dir   string
	rsa   *rsa.PrivateKey
	ec    *ecdsa.PrivateKey
	other *rsa.PrivateKey // not configured: forged signatures
	hs    string
}

func newJWTKeys(t testing.TB) *jwtKeys {
	t.Helper()
	k := &jwtKeys{dir: t.TempDir(), hs: "an-hs256-secret-of-more-than-32-bytes!"}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.other, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		t.Fatal(err)
	}
	if k.ec, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(k.dir, "rsa.pem"), pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))
	set := jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &k.ec.PublicKey, KeyID: "ec-1", Algorithm: "ES256", Use: "sig"}}}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(k.dir, "jwks.json"), b)
	return k
}

func writeFile(t testing.TB, path string, b []byte) {
	t.Helper()
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}

func (k *jwtKeys) yaml(extraServer string) string {
	return fmt.Sprintf(`
server:
  auth:
    keys: [{name: k, key: key-1}]
    jwt:
      issuer: https://id.example.com
      audiences: [rpcbridge, other]
      algorithms: [RS256, ES256]
      jwks_file: %s
      keys: [{kid: rsa-1, pem_file: %s}]
      leeway: 30s
      claims_to_headers: {sub: x-user-id, tenant: x-tenant}
%s
services:
  - name: s
    protocol: http
    forward_headers: [x-user-id, x-trace]
    instances: [{address: 127.0.0.1:1}]
  - name: keys-only
    protocol: http
    auth: [api_key]
    instances: [{address: 127.0.0.1:1}]
`, filepath.Join(k.dir, "jwks.json"), filepath.Join(k.dir, "rsa.pem"), extraServer)
}

func sign(t testing.TB, m jwt.SigningMethod, kid string, claims jwt.MapClaims, key any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func call(g *Gateway, method, target string, hdr map[string]string, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, target, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	g.ServeHTTP(w, req)
	return w
}

func TestJWTChecksEachClaimAndNamesTheOneThatFailed(t *testing.T) {
	k := newJWTKeys(t)
	g := newTestGateway(t, k.yaml(""), metaEcho{})
	now := time.Now()
	good := func() jwt.MapClaims {
		return jwt.MapClaims{"iss": "https://id.example.com", "aud": "rpcbridge", "sub": "alice", "tenant": "t1",
			"exp": now.Add(time.Hour).Unix(), "iat": now.Unix()}
	}
	with := func(k string, v any) jwt.MapClaims {
		c := good()
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
		return c
	}
	der, _ := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
	none, _ := jwt.NewWithClaims(jwt.SigningMethodNone, good()).SignedString(jwt.UnsafeAllowNoneSignatureType)
	cases := []struct {
		name, token string
		status      int
		reason      string // the metric's reason and a word of the message
		message     string
	}{
		{"valid RS256 by kid", sign(t, jwt.SigningMethodRS256, "rsa-1", good(), k.rsa), 200, "", ""},
		{"valid ES256 from the JWKS", sign(t, jwt.SigningMethodES256, "ec-1", good(), k.ec), 200, "", ""},
		{"second audience", sign(t, jwt.SigningMethodRS256, "rsa-1", with("aud", []string{"x", "other"}), k.rsa), 200, "", ""},
		{"expired beyond the leeway", sign(t, jwt.SigningMethodRS256, "rsa-1", with("exp", now.Add(-time.Minute).Unix()), k.rsa), 401, "expired", "expired (exp)"},
		{"expired within the leeway", sign(t, jwt.SigningMethodRS256, "rsa-1", with("exp", now.Add(-10*time.Second).Unix()), k.rsa), 200, "", ""},
		{"not yet valid", sign(t, jwt.SigningMethodRS256, "rsa-1", with("nbf", now.Add(time.Minute).Unix()), k.rsa), 401, "not_yet_valid", "not valid yet (nbf)"},
		{"issued in the future", sign(t, jwt.SigningMethodRS256, "rsa-1", with("iat", now.Add(time.Minute).Unix()), k.rsa), 401, "issued_in_future", "issued in the future"},
		{"no exp", sign(t, jwt.SigningMethodRS256, "rsa-1", with("exp", nil), k.rsa), 401, "claim_missing", "no exp claim"},
		{"wrong issuer", sign(t, jwt.SigningMethodRS256, "rsa-1", with("iss", "https://evil.example"), k.rsa), 401, "wrong_issuer", "issuer (iss)"},
		{"wrong audience", sign(t, jwt.SigningMethodRS256, "rsa-1", with("aud", "someone-else"), k.rsa), 401, "wrong_audience", "audience (aud)"},
		{"forged signature", sign(t, jwt.SigningMethodRS256, "rsa-1", good(), k.other), 401, "bad_signature", "signature does not verify"},
		{"alg none", none, 401, "bad_algorithm", "algorithm is not accepted"},
		{"HS256 signed with the RSA public key", sign(t, jwt.SigningMethodHS256, "rsa-1", good(), rsaPEM), 401, "bad_algorithm", "algorithm is not accepted"},
		{"RS384 not in the allow-list", sign(t, jwt.SigningMethodRS384, "rsa-1", good(), k.rsa), 401, "bad_algorithm", "algorithm is not accepted"},
		{"unknown kid", sign(t, jwt.SigningMethodRS256, "rsa-9", good(), k.rsa), 401, "unknown_kid", "kid names no configured key"},
		{"ES256 token naming the RSA kid", sign(t, jwt.SigningMethodES256, "rsa-1", good(), k.ec), 401, "bad_algorithm", "no key of its algorithm"},
		{"not a JWT", "abc.def", 401, "malformed", "not a well-formed JWT"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := testutil.ToFloat64(g.metrics.authRefused.WithLabelValues("jwt", c.reason))
			w := call(g, "POST", "/s/M", map[string]string{"Authorization": "Bearer " + c.token}, `{}`)
			if w.Code != c.status {
				t.Fatalf("got %d %s, want %d", w.Code, w.Body, c.status)
			}
			if c.status == 200 {
				return
			}
			body := w.Body.String()
			if !strings.Contains(body, `"UNAUTHENTICATED"`) || !strings.Contains(body, c.message) {
				t.Errorf("got %s, want UNAUTHENTICATED saying %q", body, c.message)
			}
			if len(c.token) > 20 && strings.Contains(body, c.token[len(c.token)-20:]) {
				t.Errorf("the reply echoes the token: %s", body)
			}
			if got := testutil.ToFloat64(g.metrics.authRefused.WithLabelValues("jwt", c.reason)) - before; got != 1 {
				t.Errorf("rpcbridge_auth_refusals_total{scheme=jwt,reason=%s}: got +%v, want +1", c.reason, got)
			}
		})
	}
}

func TestJWTClaimsReachTheBackendAndClientsCannotForgeThem(t *testing.T) {
	k := newJWTKeys(t)
	g := newTestGateway(t, k.yaml(""), metaEcho{})
	tok := sign(t, jwt.SigningMethodRS256, "rsa-1", jwt.MapClaims{"iss": "https://id.example.com", "aud": "rpcbridge",
		"sub": "alice", "tenant": "t1", "exp": time.Now().Add(time.Hour).Unix()}, k.rsa)
	w := call(g, "POST", "/s/M", map[string]string{"Authorization": "Bearer " + tok, "X-User-Id": "mallory", "X-Trace": "abc"}, `{}`)
	var meta map[string]string
	if err := json.Unmarshal(w.Body.Bytes(), &meta); err != nil || w.Code != 200 {
		t.Fatalf("got %d %s", w.Code, w.Body)
	}
	want := map[string]string{"x-user-id": "alice", "x-tenant": "t1", "x-trace": "abc"}
	if fmt.Sprint(meta) != fmt.Sprint(want) {
		t.Errorf("forwarded: got %v, want %v", meta, want)
	}
	// A service that accepts API keys only says so to a JWT caller.
	w = call(g, "POST", "/keys-only/M", map[string]string{"Authorization": "Bearer " + tok}, `{}`)
	if w.Code != 401 || !strings.Contains(w.Body.String(), "another scheme") {
		t.Errorf("JWT to an api_key-only service: got %d %s, want 401 naming the scheme", w.Code, w.Body)
	}
	if w = call(g, "POST", "/keys-only/M", map[string]string{"X-API-Key": "key-1"}, `{}`); w.Code != 200 {
		t.Errorf("API key to it: got %d %s, want 200", w.Code, w.Body)
	}
}

// A token that verified is remembered until it expires: it is refused
// as expired once its exp (plus the leeway) has passed.
func TestARememberedTokenStillExpires(t *testing.T) {
	k := newJWTKeys(t)
	g := newTestGateway(t, k.yaml(""), metaEcho{})
	var js *jwtScheme
	for _, s := range g.state.Load().chains.unrouted[0].(*authFilter).all {
		if j, ok := s.(*jwtScheme); ok {
			js = j
		}
	}
	now := time.Now()
	js.now = func() time.Time { return now }
	tok := sign(t, jwt.SigningMethodRS256, "rsa-1", jwt.MapClaims{"iss": "https://id.example.com", "aud": "rpcbridge",
		"sub": "alice", "exp": now.Add(time.Minute).Unix()}, k.rsa)
	h := map[string]string{"Authorization": "Bearer " + tok}
	for i := 0; i < 2; i++ {
		if w := call(g, "POST", "/s/M", h, `{}`); w.Code != 200 {
			t.Fatalf("use %d: got %d %s, want 200", i+1, w.Code, w.Body)
		}
	}
	if got := len(js.cache.m); got != 1 {
		t.Fatalf("remembered tokens: got %d, want 1", got)
	}
	now = now.Add(time.Minute + 31*time.Second) // past exp + the 30 s leeway
	if w := call(g, "POST", "/s/M", h, `{}`); w.Code != 401 || !strings.Contains(w.Body.String(), "expired") {
		t.Errorf("after exp: got %d %s, want 401 expired", w.Code, w.Body)
	}
}

// signRequest signs the way the README tells partners to.
func signRequest(secret, method, pathAndQuery, ts, nonce string, body []byte) string {
	path, query, _ := strings.Cut(pathAndQuery, "?")
	var pairs []string
	if query != "" {
		pairs = strings.Split(query, "&")
		sort.Strings(pairs)
	}
	sum := sha256.Sum256(body)
	s := strings.Join([]string{method, path, strings.Join(pairs, "&"), ts, nonce, hex.EncodeToString(sum[:])}, "\n")
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte(s))
	return base64.StdEncoding.EncodeToString(m.Sum(nil))
}

const hmacYAML = `
server:
  auth:
    hmac:
      apps: [{app_key: partner-1, secret_env: RB_TEST_HMAC_SECRET}]
      max_skew: 5m
      nonce_ttl: 10m
services:
  - name: s
    protocol: http
    instances: [{address: 127.0.0.1:1}]
`

func TestSignedRequests(t *testing.T) {
	const secret = "partner-1-secret-0123456789"
	t.Setenv("RB_TEST_HMAC_SECRET", secret)
	g := newEchoGateway(t, hmacYAML)
	now := time.Now()
	ts := strconv.FormatInt(now.Unix(), 10)
	n := 0
	nonce := func() string { n++; return fmt.Sprintf("nonce-%04d", n) }
	const target, body = "/s/M?b=2&a=%2F&a=1", `{"id":9007199254740993}`
	send := func(method, target, body string, h map[string]string) *httptest.ResponseRecorder {
		return call(g, method, target, h, body)
	}
	headers := func(app, ts, nonce, sig string) map[string]string {
		return map[string]string{"X-Rb-App-Key": app, "X-Rb-Timestamp": ts, "X-Rb-Nonce": nonce, "X-Rb-Signature": sig}
	}

	nc := nonce()
	if w := send("POST", target, body, headers("partner-1", ts, nc, signRequest(secret, "POST", target, ts, nc, []byte(body)))); w.Code != 200 || w.Body.String() != body {
		t.Fatalf("valid signed request: got %d %s, want 200 echoing the body", w.Code, w.Body)
	}
	// Each part of S altered in turn: the signature covers it.
	type alter struct {
		name                           string
		signMethod, signTarget, signTS string
		signBody                       string
	}
	for _, a := range []alter{
		{"method", "PUT", target, ts, body},
		{"path", "POST", "/s/N?b=2&a=%2F&a=1", ts, body},
		{"path encoding", "POST", "/s/M?b=2&a=/&a=1", ts, body},
		{"query", "POST", "/s/M?b=3&a=%2F&a=1", ts, body},
		{"timestamp", "POST", target, strconv.FormatInt(now.Unix()-1, 10), body},
		{"body", "POST", target, ts, `{"id":9007199254740992}`},
	} {
		nc := nonce()
		sig := signRequest(secret, a.signMethod, a.signTarget, a.signTS, nc, []byte(a.signBody))
		w := send("POST", target, body, headers("partner-1", ts, nc, sig))
		if w.Code != 401 || !strings.Contains(w.Body.String(), "signature does not match") {
			t.Errorf("%s altered: got %d %s, want 401 signature does not match", a.name, w.Code, w.Body)
		}
	}
	// The nonce is part of S too.
	nc = nonce()
	if w := send("POST", target, body, headers("partner-1", ts, nc, signRequest(secret, "POST", target, ts, nc+"x", []byte(body)))); w.Code != 401 {
		t.Errorf("nonce altered: got %d, want 401", w.Code)
	}
	// Query pairs in another order sign the same.
	nc = nonce()
	if w := send("POST", "/s/M?a=1&a=%2F&b=2", body, headers("partner-1", ts, nc, signRequest(secret, "POST", target, ts, nc, []byte(body)))); w.Code != 200 {
		t.Errorf("query in another order: got %d %s, want 200", w.Code, w.Body)
	}

	stale := strconv.FormatInt(now.Add(-6*time.Minute).Unix(), 10)
	nc = nonce()
	replayNonce := nonce()
	replay := headers("partner-1", ts, replayNonce, signRequest(secret, "POST", target, ts, replayNonce, []byte(body)))
	for _, c := range []struct {
		name   string
		h      map[string]string
		status int
		want   string
	}{
		{"stale timestamp", headers("partner-1", stale, nc, signRequest(secret, "POST", target, stale, nc, []byte(body))), 401, "more than 5m0s from the gateway's clock"},
		{"unknown app", headers("partner-9", ts, nonce(), "c2ln"), 401, "unknown app key"},
		{"missing signature", headers("partner-1", ts, nonce(), ""), 401, "send X-Rb-Timestamp"},
		{"short nonce", headers("partner-1", ts, "short", "c2ln"), 401, "8 to 64 characters"},
		{"first use of a nonce", replay, 200, ""},
		{"replayed nonce", replay, 401, "nonce was used before"},
	} {
		w := send("POST", target, body, c.h)
		if w.Code != c.status || !strings.Contains(w.Body.String(), c.want) {
			t.Errorf("%s: got %d %s, want %d with %q", c.name, w.Code, w.Body, c.status, c.want)
		}
	}
	if got := testutil.ToFloat64(g.metrics.authRefused.WithLabelValues("hmac", "replayed_nonce")); got != 1 {
		t.Errorf("replayed_nonce refusals: got %v, want 1", got)
	}
}

func TestTheNonceStoreIsBoundedAndForgetsOnlyAfterTheTTL(t *testing.T) {
	now := time.Unix(1000, 0)
	s := newNonceStore()
	s.now = func() time.Time { return now }
	s.max = 3
	s.setTTL(time.Minute)
	for _, n := range []string{"a", "b", "c"} {
		if err := s.remember("app", n); err != nil {
			t.Fatalf("remember %s: got %v", n, err)
		}
	}
	if err := s.remember("app", "d"); err != errNoncesFull {
		t.Fatalf("a fourth nonce in a store of three: got %v, want errNoncesFull", err)
	}
	if err := s.remember("app", "a"); err != errReplayed {
		t.Fatalf("a again: got %v, want errReplayed", err)
	}
	now = now.Add(time.Minute)
	if err := s.remember("app", "a"); err != nil {
		t.Fatalf("a after the ttl: got %v, want accepted", err)
	}
	if got := len(s.seen); got != 1 {
		t.Errorf("entries after expiry: got %d, want 1", got)
	}
}

func TestIPRulesNarrowAtEachLevelAndBelieveOnlyTrustedProxies(t *testing.T) {
	g := newEchoGateway(t, `
server:
  trusted_proxies: [10.0.0.1, "fd00::/8"]
  ip_rules: {allow: [10.0.0.0/8, 192.0.2.0/24, "2001:db8::/32"], deny: [10.9.0.0/16]}
services:
  - name: s
    protocol: http
    ip_rules: {deny: [192.0.2.128/25]}
    instances: [{address: 127.0.0.1:1}]
routes:
  - match: {path: /narrow, methods: [POST]}
    service: s
    method: M
    ip_rules: {allow: [192.0.2.7]}
`)
	for _, c := range []struct {
		name, target, peer, xff string
		want                    int
	}{
		{"allowed", "/s/M", "192.0.2.7:5000", "", 200},
		{"allowed IPv6", "/s/M", "[2001:db8::1]:5000", "", 200},
		{"not in allow", "/s/M", "198.51.100.1:5000", "", 403},
		{"denied wins over allow", "/s/M", "10.9.1.1:5000", "", 403},
		{"service level narrows", "/s/M", "192.0.2.200:5000", "", 403},
		{"route level narrows", "/narrow", "192.0.2.8:5000", "", 403},
		{"route level allows", "/narrow", "192.0.2.7:5000", "", 200},
		{"spoofed X-Forwarded-For from an untrusted peer", "/s/M", "198.51.100.1:5000", "192.0.2.7", 403},
		{"untrusted peer is itself the client", "/s/M", "192.0.2.7:5000", "198.51.100.1", 200},
		{"trusted proxy: the right-most untrusted hop", "/s/M", "10.0.0.1:5000", "198.51.100.1, 192.0.2.7", 200},
		{"trusted proxy: a denied client behind it", "/s/M", "10.0.0.1:5000", "192.0.2.7, 10.9.1.1", 403},
		{"trusted IPv6 proxy", "/s/M", "[fd00::1]:5000", "192.0.2.7", 200},
		{"trusted proxies all the way: the left-most", "/s/M", "10.0.0.1:5000", "10.0.0.1", 200},
		{"garbage in X-Forwarded-For", "/s/M", "10.0.0.1:5000", "not-an-ip", 403},
	} {
		req := httptest.NewRequest("POST", c.target, strings.NewReader(`{}`))
		req.Header.Set("Content-Type", "application/json")
		req.RemoteAddr = c.peer
		if c.xff != "" {
			req.Header.Set("X-Forwarded-For", c.xff)
		}
		w := httptest.NewRecorder()
		g.ServeHTTP(w, req)
		if w.Code != c.want {
			t.Errorf("%s: got %d %s, want %d", c.name, w.Code, w.Body, c.want)
		}
		if c.want == 403 && !strings.Contains(w.Body.String(), `"PERMISSION_DENIED"`) {
			t.Errorf("%s: got %s, want PERMISSION_DENIED", c.name, w.Body)
		}
	}
	if got := testutil.ToFloat64(g.metrics.authRefused.WithLabelValues("ip", "denied")); got < 3 {
		t.Errorf("ip denied refusals: got %v, want at least 3", got)
	}
}

// The failed-attempt lockout counts failures of every scheme.
func TestTheLockoutCountsEveryScheme(t *testing.T) {
	k := newJWTKeys(t)
	g := newTestGateway(t, k.yaml(""), metaEcho{})
	g.authFailures.now = time.Now
	forged := sign(t, jwt.SigningMethodRS256, "rsa-1", jwt.MapClaims{"exp": time.Now().Add(time.Hour).Unix()}, k.other)
	for i := 0; i < 30; i++ {
		call(g, "POST", "/s/M", map[string]string{"X-API-Key": "wrong"}, `{}`)
		call(g, "POST", "/s/M", map[string]string{"Authorization": "Bearer " + forged}, `{}`)
	}
	w := call(g, "POST", "/s/M", map[string]string{"X-API-Key": "key-1"}, `{}`)
	if w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" {
		t.Errorf("after 60 failures of two schemes: got %d %s, want 429 with Retry-After", w.Code, w.Body)
	}
}

// BenchmarkAuthSchemes measures a request through the gateway to an
// in-memory backend with each scheme, for the cost each adds.
func BenchmarkAuthSchemes(b *testing.B) {
	k := newJWTKeys(b)
	b.Setenv("RB_TEST_HMAC_SECRET", "partner-1-secret-0123456789")
	claims := jwt.MapClaims{"iss": "https://id.example.com", "aud": "rpcbridge", "sub": "alice", "tenant": "t1", "exp": time.Now().Add(time.Hour).Unix()}
	rs := sign(b, jwt.SigningMethodRS256, "rsa-1", claims, k.rsa)
	es := sign(b, jwt.SigningMethodES256, "ec-1", claims, k.ec)
	plain := "services: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n"
	ipYAML := "server: {ip_rules: {allow: [192.0.2.0/24, 10.0.0.0/8], deny: [10.9.0.0/16]}}\n" + plain
	const body = `{"id":1}`
	for _, c := range []struct {
		name, yaml string
		hdr        func(i int) map[string]string
	}{
		{"none", plain, func(int) map[string]string { return nil }},
		{"ip_rules", ipYAML, func(int) map[string]string { return nil }},
		{"api_key", k.yaml(""), func(int) map[string]string { return map[string]string{"X-API-Key": "key-1"} }},
		{"jwt_rs256", k.yaml(""), func(int) map[string]string { return map[string]string{"Authorization": "Bearer " + rs} }},
		{"jwt_es256", k.yaml(""), func(int) map[string]string { return map[string]string{"Authorization": "Bearer " + es} }},
		{"hmac", hmacYAML, func(i int) map[string]string {
			ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), fmt.Sprintf("bench-nonce-%09d", i)
			return map[string]string{"X-Rb-App-Key": "partner-1", "X-Rb-Timestamp": ts, "X-Rb-Nonce": nonce,
				"X-Rb-Signature": signRequest("partner-1-secret-0123456789", "POST", "/s/M", ts, nonce, []byte(body))}
		}},
	} {
		b.Run(c.name, func(b *testing.B) {
			g := newTestGateway(b, c.yaml, metaEcho{})
			reqs := make([]*http.Request, b.N)
			for i := range reqs {
				r := httptest.NewRequest("POST", "/s/M", strings.NewReader(body))
				r.RemoteAddr = "192.0.2.7:5000"
				r.Header.Set("Content-Type", "application/json")
				for k, v := range c.hdr(i) {
					r.Header.Set(k, v)
				}
				reqs[i] = r
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				g.ServeHTTP(w, reqs[i])
				if w.Code != 200 {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkTrafficFastPath is what split, the circuit breaker and
// max_concurrent add to a call that succeeds with the breaker closed.
func BenchmarkTrafficFastPath(b *testing.B) {
	m, err := newMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	svc := &mapping.Service{Name: "s", Split: []mapping.Split{{Tag: "v2", Percent: 5}}}
	sp := newSplitter(svc, m.split)
	br := newBreaker(&mapping.CircuitBreaker{ErrorPercent: 50, MinRequests: 20, Window: 10 * time.Second, OpenFor: 5 * time.Second, HalfOpenRequests: 3}, m.circuit.WithLabelValues("s"))
	var active atomic.Int64
	r := httptest.NewRequest("POST", "/s/M", nil)
	now := time.Now().UnixNano()
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if n := active.Add(1); n > 200 {
			b.Fatal("over")
		}
		sp.pick(r, nil)
		ok, probe := br.allow(now)
		if !ok {
			b.Fatal("open")
		}
		br.record(now, probe, false)
		active.Add(-1)
	}
}

// BenchmarkComposedRoute is a 3-call composed route (two at once, one
// after them) against one call to the same in-memory backend: the
// difference is what composing adds.
func BenchmarkComposedRoute(b *testing.B) {
	g := newTestGateway(b, `
services:
  - {name: a, protocol: http, instances: [{address: 127.0.0.1:1}]}
  - {name: b, protocol: http, instances: [{address: 127.0.0.1:1}]}
  - {name: c, protocol: http, instances: [{address: 127.0.0.1:1}]}
routes:
  - match: {path: "/single/{id}", methods: [GET]}
    service: a
    method: get
  - match: {path: "/home/{id}", methods: [GET]}
    compose:
      calls:
        a: {service: a, method: get, args: {id: "{id}"}}
        b: {service: b, method: list, args: {customer: "{id}", limit: 5}}
        c: {service: c, method: quote, args: {code: "${a.id}"}}
      reply: {user: "${a}", orders: "${b}", quote: "${c.code}"}
`, echoProtocol{})
	for _, path := range []string{"/single/42", "/home/42"} {
		b.Run(strings.TrimPrefix(strings.Split(path[1:], "/")[0], "/"), func(b *testing.B) {
			r := httptest.NewRequest("GET", path, nil)
			b.ReportAllocs()
			for i := 0; i < b.N; i++ {
				w := httptest.NewRecorder()
				g.ServeHTTP(w, r)
				if w.Code != 200 {
					b.Fatalf("got %d %s", w.Code, w.Body)
				}
			}
		})
	}
}

// BenchmarkOpenAPI1000Methods builds and encodes the document of a
// service with 1,000 methods, each with a request and a reply message.
func BenchmarkOpenAPI1000Methods(b *testing.B) {
	g := newEchoGateway(b, "services: [{name: big, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n")
	st := g.state.Load()
	sc := &generic.ServiceSchema{Name: "big"}
	for i := 0; i < 1000; i++ {
		in := &generic.Type{Kind: generic.KindMessage, Name: fmt.Sprintf("Req%d", i), Fields: []*generic.Field{
			{Name: "id", Type: &generic.Type{Kind: generic.KindInt64}}, {Name: "name", Type: &generic.Type{Kind: generic.KindString}},
			{Name: "tags", Type: &generic.Type{Kind: generic.KindList, Elem: &generic.Type{Kind: generic.KindString}}}}}
		out := &generic.Type{Kind: generic.KindMessage, Name: fmt.Sprintf("Reply%d", i), Fields: []*generic.Field{
			{Name: "ok", Type: &generic.Type{Kind: generic.KindBool}}, {Name: "items", Type: &generic.Type{Kind: generic.KindMap, Key: &generic.Type{Kind: generic.KindString}, Elem: in}}}}
		sc.Methods = append(sc.Methods, &generic.MethodSchema{Name: fmt.Sprintf("m%d", i), Input: in, Output: out})
	}
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		if _, err := json.Marshal(buildOpenAPI(st, map[string]*generic.ServiceSchema{"big": sc})); err != nil {
			b.Fatal(err)
		}
	}
}
