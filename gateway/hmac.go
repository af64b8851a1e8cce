package gateway

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// Signed-request headers.
const (
	hdrAppKey    = "X-Rb-App-Key"
	hdrTimestamp = "X-Rb-Timestamp"
	hdrNonce     = "X-Rb-Nonce"
	hdrSignature = "X-Rb-Signature"
)

// hmacScheme verifies signed requests: X-Rb-Signature is the standard
// base64 of HMAC-SHA256(secret, S), S being these six parts joined by
// "\n": the method, the path as sent, the query's pairs as sent sorted by
// byte order and joined by "&", the timestamp, the nonce, and the lower-case
// hex SHA-256 of the body. A nonce is accepted once within nonce_ttl.
type hmacScheme struct {
	secrets map[string][]byte // app key -> secret
	skew    time.Duration
	nonces  *nonceStore
	maxBody int64
	now     func() time.Time
}

func (g *Gateway) hmacScheme(c *mapping.HMAC) (*hmacScheme, error) {
	s := &hmacScheme{secrets: map[string][]byte{}, skew: c.MaxSkew, now: time.Now}
	for _, a := range c.Apps {
		s.secrets[a.AppKey] = []byte(os.Getenv(a.SecretEnv))
	}
	// One replay store for the gateway's life, so that a reload does not
	// forget the nonces seen.
	s.nonces = g.nonces
	s.nonces.setTTL(c.NonceTTL)
	return s, nil
}

func (s *hmacScheme) id() string                     { return "hmac" }
func (s *hmacScheme) presented(r *http.Request) bool { return r.Header.Get(hdrAppKey) != "" }
func (s *hmacScheme) hint() string {
	return "sign the request (" + hdrAppKey + ", " + hdrTimestamp + ", " + hdrNonce + ", " + hdrSignature + ")"
}

func (s *hmacScheme) verify(rc *reqCtx) (string, map[string]string, string, *generic.Error) {
	r := rc.r
	app, ts, nonce, sig := r.Header.Get(hdrAppKey), r.Header.Get(hdrTimestamp), r.Header.Get(hdrNonce), r.Header.Get(hdrSignature)
	refuse := func(reason, format string, args ...any) (string, map[string]string, string, *generic.Error) {
		return "", nil, reason, errorf(generic.CodeUnauthenticated, "signed request refused: "+format, args...)
	}
	if ts == "" || nonce == "" || sig == "" {
		return refuse("missing_header", "send %s, %s and %s with %s", hdrTimestamp, hdrNonce, hdrSignature, hdrAppKey)
	}
	secret, ok := s.secrets[app]
	if !ok {
		return refuse("unknown_app", "unknown app key")
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return refuse("bad_timestamp", "%s must be Unix seconds", hdrTimestamp)
	}
	if d := s.now().Sub(time.Unix(sec, 0)); d > s.skew || d < -s.skew {
		return refuse("stale_timestamp", "the timestamp is more than %s from the gateway's clock", s.skew)
	}
	if len(nonce) < 8 || len(nonce) > 64 {
		return refuse("bad_nonce", "%s must be 8 to 64 characters", hdrNonce)
	}
	given, err := base64.StdEncoding.DecodeString(sig)
	if err != nil {
		return refuse("bad_signature", "%s is not standard base64", hdrSignature)
	}
	body, e := bufferBody(rc.w, r, s.maxBody)
	if e != nil {
		return "", nil, "body", e
	}
	sum := sha256.Sum256(body)
	path, query, _ := strings.Cut(r.RequestURI, "?")
	if r.RequestURI == "" || r.RequestURI == "*" {
		path, query = r.URL.EscapedPath(), r.URL.RawQuery
	}
	if strings.HasPrefix(path, "http://") || strings.HasPrefix(path, "https://") {
		path, query = r.URL.EscapedPath(), r.URL.RawQuery // absolute form: the path as sent
	}
	m := hmac.New(sha256.New, secret)
	io.WriteString(m, r.Method+"\n"+path+"\n"+sortedQuery(query)+"\n"+ts+"\n"+nonce+"\n"+hex.EncodeToString(sum[:]))
	if !hmac.Equal(m.Sum(nil), given) {
		return refuse("bad_signature", "the signature does not match")
	}
	// Remembered only once the signature holds, so nobody can fill the
	// store with made-up nonces.
	switch s.nonces.remember(app, nonce) {
	case errReplayed:
		return refuse("replayed_nonce", "the nonce was used before")
	case errNoncesFull:
		return "", nil, "nonce_store_full", errorf(generic.CodeUnavailable, "too many signed requests to remember their nonces; retry later")
	}
	return "hmac:" + app, nil, "", nil
}

// sortedQuery sorts the query's &-separated pairs by byte order, each as
// sent.
func sortedQuery(q string) string {
	if q == "" {
		return ""
	}
	pairs := strings.Split(q, "&")
	sort.Strings(pairs)
	return strings.Join(pairs, "&")
}

// bufferBody reads the whole body once (readBody's limits and errors) and
// puts it back for the call.
func bufferBody(w http.ResponseWriter, r *http.Request, max int64) ([]byte, *generic.Error) {
	b, err := readBody(w, r, max)
	if err != nil {
		return nil, generic.AsError(err)
	}
	if b != nil {
		r.Body = io.NopCloser(bytes.NewReader(b))
	}
	return b, nil
}

var (
	errReplayed   = errors.New("replayed")
	errNoncesFull = errors.New("full")
)

// maxNonces bounds the nonces one gateway remembers (about 40 MB). When
// it is full of nonces younger than nonce_ttl, signed requests get 503
// until the oldest expire: forgetting one early would allow a replay.
const maxNonces = 1_000_000

// nonceStore remembers (app, nonce) pairs for ttl: a map for lookups and a
// queue in arrival order for expiry (the ttl is the same for all).
type nonceStore struct {
	mu    sync.Mutex
	ttl   time.Duration
	now   func() time.Time
	max   int
	seen  map[[16]byte]int64 // digest -> expiry (unix nanos)
	queue []nonceEntry
	head  int
}

type nonceEntry struct {
	key [16]byte
	exp int64
}

func newNonceStore() *nonceStore {
	return &nonceStore{now: time.Now, max: maxNonces, seen: map[[16]byte]int64{}}
}

func (n *nonceStore) setTTL(ttl time.Duration) {
	n.mu.Lock()
	n.ttl = ttl
	n.mu.Unlock()
}

func (n *nonceStore) remember(app, nonce string) error {
	sum := sha256.Sum256([]byte(app + "\x00" + nonce))
	var key [16]byte
	copy(key[:], sum[:16])
	n.mu.Lock()
	defer n.mu.Unlock()
	now := n.now().UnixNano()
	for n.head < len(n.queue) && n.queue[n.head].exp <= now {
		e := n.queue[n.head]
		if n.seen[e.key] == e.exp {
			delete(n.seen, e.key)
		}
		n.head++
	}
	if n.head > len(n.queue)/2 && n.head > 1024 {
		n.queue = append([]nonceEntry(nil), n.queue[n.head:]...)
		n.head = 0
	}
	if exp, ok := n.seen[key]; ok && exp > now {
		return errReplayed
	}
	if len(n.seen) >= n.max {
		return errNoncesFull
	}
	exp := now + int64(n.ttl)
	n.seen[key] = exp
	n.queue = append(n.queue, nonceEntry{key, exp})
	return nil
}
