package gateway

import (
	"crypto/sha256"
	"math"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// authn checks API keys. Keys are kept as SHA-256 digests and looked up by
// the digest of the presented key, so no comparison runs over the secret.
type authn struct {
	header string
	byHash map[[32]byte]string // digest -> key name
}

func newAuthn(a *mapping.Auth) *authn {
	if a == nil {
		return nil
	}
	au := &authn{header: a.Header, byHash: make(map[[32]byte]string, len(a.Keys))}
	for _, k := range a.Keys {
		key := k.Key
		if k.KeyEnv != "" {
			key = os.Getenv(k.KeyEnv)
		}
		au.byHash[sha256.Sum256([]byte(key))] = k.Name
	}
	return au
}

// check returns the caller's key name, or an UNAUTHENTICATED error.
// presented reports whether the request carried a key at all.
func (a *authn) check(r *http.Request) (name string, presented bool, e *generic.Error) {
	key := r.Header.Get(a.header)
	if key == "" {
		return "", false, errorf(generic.CodeUnauthenticated, "missing API key: send it in the %s header", a.header)
	}
	name, ok := a.byHash[sha256.Sum256([]byte(key))]
	if !ok {
		return "", true, errorf(generic.CodeUnauthenticated, "the API key in %s is not valid", a.header)
	}
	return name, true, nil
}

// failures counts failed authentications per client address in
// fixed one-minute windows. It holds at most maxKeyedBuckets addresses.
type failures struct {
	mu  sync.Mutex
	now func() time.Time
	by  map[string]*failWindow
}

type failWindow struct {
	start time.Time
	n     int
}

func newFailures() *failures {
	return &failures{now: time.Now, by: map[string]*failWindow{}}
}

// blocked returns how long ip stays locked out, 0 when it is not.
func (f *failures) blocked(ip string, limit int) time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	w := f.by[ip]
	if w == nil {
		return 0
	}
	left := time.Minute - f.now().Sub(w.start)
	if left <= 0 {
		delete(f.by, ip)
		return 0
	}
	if w.n < limit {
		return 0
	}
	return left
}

func (f *failures) fail(ip string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := f.now()
	w := f.by[ip]
	if w == nil || now.Sub(w.start) >= time.Minute {
		if w == nil && len(f.by) >= maxKeyedBuckets {
			for k, old := range f.by {
				if now.Sub(old.start) >= time.Minute {
					delete(f.by, k)
				}
			}
			if len(f.by) >= maxKeyedBuckets {
				f.by = map[string]*failWindow{}
			}
		}
		w = &failWindow{start: now}
		f.by[ip] = w
	}
	w.n++
}

// limiter is one service's rate limit: a token bucket for the whole
// service or one per client (address, key name or header value).
type limiter struct {
	cfg    mapping.RateLimit
	global *rate.Limiter
	mu     sync.Mutex
	keyed  map[string]*rate.Limiter
}

// maxKeyedBuckets bounds the per-client buckets one service keeps; past it
// the buckets start over (a burst's worth of leniency, never unbounded
// memory).
const maxKeyedBuckets = 100_000

func newLimiter(rl *mapping.RateLimit) *limiter {
	if rl == nil {
		return nil
	}
	l := &limiter{cfg: *rl}
	if rl.By == "" {
		l.global = rate.NewLimiter(rate.Limit(rl.RPS), rl.Burst)
	} else {
		l.keyed = map[string]*rate.Limiter{}
	}
	return l
}

// allow takes a token for the request; when none is left it returns a
// RESOURCE_EXHAUSTED error and how long until one is.
func (l *limiter) allow(rc *reqCtx) (*generic.Error, time.Duration) {
	r := rc.r
	b := l.global
	if b == nil {
		var key string
		if rc.t != nil {
			key = rc.t.keyName
		}
		switch {
		case l.cfg.By == "ip":
			key = rc.clientKey()
		case strings.HasPrefix(l.cfg.By, "header:"):
			key = r.Header.Get(strings.TrimPrefix(l.cfg.By, "header:"))
		}
		l.mu.Lock()
		b = l.keyed[key]
		if b == nil {
			if len(l.keyed) >= maxKeyedBuckets {
				l.keyed = map[string]*rate.Limiter{}
			}
			b = rate.NewLimiter(rate.Limit(l.cfg.RPS), l.cfg.Burst)
			l.keyed[key] = b
		}
		l.mu.Unlock()
	}
	res := b.Reserve()
	if d := res.Delay(); d > 0 {
		res.Cancel()
		return errorf(generic.CodeResourceExhausted, "rate limit of %v requests per second exceeded", l.cfg.RPS), d
	}
	return nil, 0
}

func retryAfter(d time.Duration) string {
	return strconv.Itoa(int(math.Ceil(d.Seconds())))
}
