package gateway

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// jwtScheme verifies "Authorization: Bearer <jwt>" with golang-jwt: the
// signature with a configured key (by kid), exp (required), nbf and iat
// with the leeway, iss and aud when configured, and the algorithm against
// the allow-list. A key is only ever used with algorithms of its own type,
// so an HS256 token "signed" with an RSA public key never verifies.
type jwtScheme struct {
	parser  *jwt.Parser
	leeway  time.Duration
	now     func() time.Time
	cache   verifiedTokens
	byKid   map[string]any // public keys
	only    any            // the one public key, for tokens without kid
	hs      []byte
	headers map[string]string // claim -> header
}

func newJWTScheme(c *mapping.JWT) (*jwtScheme, error) {
	s := &jwtScheme{byKid: map[string]any{}, headers: c.ClaimsToHeaders, leeway: c.Leeway, now: time.Now,
		cache: verifiedTokens{m: map[[32]byte]verified{}}}
	if c.JWKSFile != "" {
		b, err := os.ReadFile(c.JWKSFile)
		if err != nil {
			return nil, fmt.Errorf("server.auth.jwt.jwks_file: %w", err)
		}
		var set jose.JSONWebKeySet
		if err := json.Unmarshal(b, &set); err != nil {
			return nil, fmt.Errorf("server.auth.jwt.jwks_file: %w", err)
		}
		for i, k := range set.Keys {
			pub, err := publicKey(k.Key)
			if err != nil {
				return nil, fmt.Errorf("server.auth.jwt.jwks_file: key %d (kid %q): %w", i, k.KeyID, err)
			}
			s.byKid[k.KeyID] = pub
		}
	}
	for i, k := range c.Keys {
		b, err := os.ReadFile(k.PEMFile)
		if err != nil {
			return nil, fmt.Errorf("server.auth.jwt.keys[%d]: %w", i, err)
		}
		blk, _ := pem.Decode(b)
		if blk == nil {
			return nil, fmt.Errorf("server.auth.jwt.keys[%d]: %s holds no PEM block", i, k.PEMFile)
		}
		var key any
		if blk.Type == "CERTIFICATE" {
			cert, err := x509.ParseCertificate(blk.Bytes)
			if err != nil {
				return nil, fmt.Errorf("server.auth.jwt.keys[%d]: %w", i, err)
			}
			key = cert.PublicKey
		} else if key, err = x509.ParsePKIXPublicKey(blk.Bytes); err != nil {
			return nil, fmt.Errorf("server.auth.jwt.keys[%d]: want a PEM public key or certificate: %w", i, err)
		}
		if key, err = publicKey(key); err != nil {
			return nil, fmt.Errorf("server.auth.jwt.keys[%d]: %w", i, err)
		}
		s.byKid[k.Kid] = key
	}
	if len(s.byKid) == 1 {
		for _, k := range s.byKid {
			s.only = k
		}
	}
	if c.HSSecretEnv != "" {
		s.hs = []byte(os.Getenv(c.HSSecretEnv))
	}
	algs := c.Algorithms
	if len(algs) == 0 {
		algs = s.defaultAlgorithms()
	}
	opts := []jwt.ParserOption{jwt.WithValidMethods(algs), jwt.WithExpirationRequired(), jwt.WithIssuedAt(), jwt.WithLeeway(c.Leeway),
		jwt.WithTimeFunc(func() time.Time { return s.now() })}
	if c.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(c.Issuer))
	}
	if len(c.Audiences) > 0 {
		opts = append(opts, jwt.WithAudience(c.Audiences...))
	}
	s.parser = jwt.NewParser(opts...)
	return s, nil
}

// publicKey accepts the public key types JWTs are verified with.
func publicKey(k any) (any, error) {
	switch k := k.(type) {
	case *rsa.PublicKey, *ecdsa.PublicKey, ed25519.PublicKey:
		return k, nil
	case *rsa.PrivateKey, *ecdsa.PrivateKey, ed25519.PrivateKey:
		return nil, errors.New("a private key: give the public key only")
	}
	return nil, fmt.Errorf("unsupported key type %T (want RSA, ECDSA or Ed25519 public keys; HMAC secrets come from hs_secret_env)", k)
}

// defaultAlgorithms are the algorithms the configured keys can verify.
func (s *jwtScheme) defaultAlgorithms() []string {
	set := map[string]bool{}
	for _, k := range s.byKid {
		switch k.(type) {
		case *rsa.PublicKey:
			for _, a := range []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512"} {
				set[a] = true
			}
		case *ecdsa.PublicKey:
			set["ES256"], set["ES384"], set["ES512"] = true, true, true
		case ed25519.PublicKey:
			set["EdDSA"] = true
		}
	}
	if len(s.hs) > 0 {
		set["HS256"], set["HS384"], set["HS512"] = true, true, true
	}
	out := make([]string, 0, len(set))
	for a := range set {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// key finds the verification key of a token: the HMAC secret for HS*
// algorithms, a public key of the algorithm's type (by kid) otherwise.
func (s *jwtScheme) key(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if strings.HasPrefix(alg, "HS") {
		if len(s.hs) == 0 {
			return nil, errWrongKeyType
		}
		return s.hs, nil
	}
	var k any
	if kid, _ := t.Header["kid"].(string); kid != "" {
		k = s.byKid[kid]
		if k == nil {
			return nil, errUnknownKid
		}
	} else if k = s.only; k == nil {
		return nil, errUnknownKid
	}
	ok := false
	switch k.(type) {
	case *rsa.PublicKey:
		ok = strings.HasPrefix(alg, "RS") || strings.HasPrefix(alg, "PS")
	case *ecdsa.PublicKey:
		ok = strings.HasPrefix(alg, "ES")
	case ed25519.PublicKey:
		ok = alg == "EdDSA"
	}
	if !ok {
		return nil, errWrongKeyType
	}
	return k, nil
}

var (
	errUnknownKid   = errors.New("unknown kid")
	errWrongKeyType = errors.New("no key of the token's algorithm")
)

func (s *jwtScheme) id() string { return "jwt" }
func (s *jwtScheme) presented(r *http.Request) bool {
	a := r.Header.Get("Authorization")
	return len(a) > 7 && strings.EqualFold(a[:7], "bearer ")
}
func (s *jwtScheme) hint() string { return "send a JWT as Authorization: Bearer <token>" }

func (s *jwtScheme) verify(rc *reqCtx) (string, map[string]string, string, *generic.Error) {
	raw := strings.TrimSpace(rc.r.Header.Get("Authorization")[7:])
	digest := sha256.Sum256([]byte(raw))
	if v, ok := s.cache.get(digest, s.now()); ok {
		return v.caller, v.meta, "", nil
	}
	claims := jwt.MapClaims{}
	_, err := s.parser.ParseWithClaims(raw, claims, s.key)
	if err != nil {
		reason, why := jwtReason(err)
		return "", nil, reason, errorf(generic.CodeUnauthenticated, "JWT refused: %s", why)
	}
	sub, _ := claims["sub"].(string)
	var meta map[string]string
	if len(s.headers) > 0 {
		meta = make(map[string]string, len(s.headers))
		for claim, h := range s.headers {
			if v, ok := claimString(claims[claim]); ok {
				meta[strings.ToLower(h)] = v
			}
		}
	}
	if exp, err := claims.GetExpirationTime(); err == nil && exp != nil {
		s.cache.put(digest, verified{caller: "jwt:" + sub, meta: meta, until: exp.Add(s.leeway)})
	}
	return "jwt:" + sub, meta, "", nil
}

// verifiedTokens remembers tokens that verified, until their exp (plus
// the leeway), so a client that sends the same token again costs a hash
// and a lookup, not a signature check. nbf and iat held when the token
// verified and keep holding; exp is checked on every use. At most
// maxVerifiedTokens are kept (then the cache starts over).
type verifiedTokens struct {
	mu sync.Mutex
	m  map[[32]byte]verified
}

type verified struct {
	caller string
	meta   map[string]string
	until  time.Time
}

const maxVerifiedTokens = 10_000

func (c *verifiedTokens) get(k [32]byte, now time.Time) (verified, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	v, ok := c.m[k]
	if ok && !now.Before(v.until) {
		delete(c.m, k)
		return verified{}, false
	}
	return v, ok
}

func (c *verifiedTokens) put(k [32]byte, v verified) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if len(c.m) >= maxVerifiedTokens {
		c.m = map[[32]byte]verified{}
	}
	c.m[k] = v
}

// claimString renders a claim for a header: strings as they are, numbers
// and booleans as JSON; objects and lists are not forwarded.
func claimString(v any) (string, bool) {
	switch v := v.(type) {
	case string:
		return v, true
	case float64, bool, json.Number:
		b, _ := json.Marshal(v)
		return string(b), true
	}
	return "", false
}

// jwtReason names the check a token failed, for the metric and the reply
// (which never echoes the token).
func jwtReason(err error) (reason, why string) {
	switch {
	case errors.Is(err, errUnknownKid):
		return "unknown_kid", "its kid names no configured key"
	case errors.Is(err, errWrongKeyType):
		return "bad_algorithm", "no key of its algorithm is configured"
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed", "it is not a well-formed JWT"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if strings.Contains(err.Error(), "signing method") {
			return "bad_algorithm", "its algorithm is not accepted"
		}
		return "bad_signature", "its signature does not verify"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "bad_algorithm", "it cannot be verified with its algorithm"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		return "claim_missing", "it has no exp claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired", "it has expired (exp)"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not_yet_valid", "it is not valid yet (nbf)"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued_in_future", "it was issued in the future (iat)"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong_issuer", "its issuer (iss) is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong_audience", "its audience (aud) is not accepted"
	case errors.Is(err, jwt.ErrTokenInvalidClaims):
		return "bad_claims", "its claims are not valid"
	}
	return "invalid", "it is not valid"
}
