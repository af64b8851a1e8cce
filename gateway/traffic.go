package gateway

// Traffic control per service: weighted splits by instance tag, a cap on
// calls in flight, a circuit breaker, a retry budget, fallback answers and
// mirrored copies. Each lives on the service's cluster (or, for mirrors,
// on the gateway) and costs nothing to a service that does not configure
// it.

import (
	"container/list"
	"context"
	"crypto/sha256"
	"math/rand/v2"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// window counts events and failures over a sliding window of ten
// buckets.
type window struct {
	mu     sync.Mutex
	span   int64 // one bucket, in nanoseconds
	epochs [10]int64
	total  [10]int64
	bad    [10]int64
}

func newWindow(d time.Duration) *window {
	return &window{span: max(int64(d)/10, 1)}
}

func (w *window) add(now int64, bad bool) {
	e := now / w.span
	i := e % 10
	w.mu.Lock()
	if w.epochs[i] != e {
		w.epochs[i], w.total[i], w.bad[i] = e, 0, 0
	}
	w.total[i]++
	if bad {
		w.bad[i]++
	}
	w.mu.Unlock()
}

func (w *window) sums(now int64) (total, bad int64) {
	e := now / w.span
	w.mu.Lock()
	for i := range w.epochs {
		if w.epochs[i] > e-10 {
			total += w.total[i]
			bad += w.bad[i]
		}
	}
	w.mu.Unlock()
	return total, bad
}

func (w *window) reset() {
	w.mu.Lock()
	w.epochs, w.total, w.bad = [10]int64{}, [10]int64{}, [10]int64{}
	w.mu.Unlock()
}

// Breaker states, as the rpcbridge_circuit_state gauge shows them.
const (
	breakerClosed   = 0
	breakerOpen     = 1
	breakerHalfOpen = 2
)

var breakerStateNames = [...]string{"closed", "open", "half_open"}

// breaker is a service's circuit breaker: closed until the failures in the
// window reach error_percent of at least min_requests calls; then open
// (calls answered CIRCUIT_OPEN at once) for open_for; then half-open,
// letting half_open_requests probes through: all succeed -> closed, one
// fails -> open again.
type breaker struct {
	cfg   mapping.CircuitBreaker
	w     *window
	gauge prometheus.Gauge

	state  atomic.Int32
	mu     sync.Mutex
	opened int64
	probes int
	passed int
}

func newBreaker(cfg *mapping.CircuitBreaker, gauge prometheus.Gauge) *breaker {
	if cfg == nil {
		return nil
	}
	b := &breaker{cfg: *cfg, w: newWindow(cfg.Window), gauge: gauge}
	gauge.Set(breakerClosed)
	return b
}

// allow reports whether a call may go, and whether it is a probe.
func (b *breaker) allow(now int64) (ok, probe bool) {
	if b.state.Load() == breakerClosed {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.state.Load() {
	case breakerClosed:
		return true, false
	case breakerOpen:
		if now-b.opened < int64(b.cfg.OpenFor) {
			return false, false
		}
		b.setState(breakerHalfOpen)
		b.probes, b.passed = 0, 0
	}
	if b.probes >= b.cfg.HalfOpenRequests {
		return false, false
	}
	b.probes++
	return true, true
}

// record counts a call's outcome.
func (b *breaker) record(now int64, probe, failed bool) {
	if !probe {
		if b.state.Load() != breakerClosed {
			return // a call let through before the breaker opened
		}
		b.w.add(now, failed)
		if !failed {
			return
		}
		total, bad := b.w.sums(now)
		if total < int64(b.cfg.MinRequests) || float64(bad)*100 < b.cfg.ErrorPercent*float64(total) {
			return
		}
		b.mu.Lock()
		if b.state.Load() == breakerClosed {
			b.open(now)
		}
		b.mu.Unlock()
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.state.Load() != breakerHalfOpen {
		return
	}
	if failed {
		b.open(now)
		return
	}
	if b.passed++; b.passed >= b.cfg.HalfOpenRequests {
		b.w.reset()
		b.setState(breakerClosed)
	}
}

func (b *breaker) open(now int64) {
	b.opened = now
	b.setState(breakerOpen)
}

func (b *breaker) setState(s int32) {
	b.state.Store(s)
	b.gauge.Set(float64(s))
}

// stateName is the breaker's state for the control plane.
func (b *breaker) stateName() string {
	if b == nil {
		return ""
	}
	return breakerStateNames[b.state.Load()]
}

// retryBudget caps a service's retries at budget_percent of its requests
// over the last 10 s (at least minBudgetRetries are always allowed), so
// that retries cannot multiply an outage.
type retryBudget struct {
	pct float64
	w   *window // total: requests, bad: retries
}

const minBudgetRetries = 3

func newRetryBudget(r *mapping.Retry) *retryBudget {
	if r == nil || r.BudgetPercent >= 100 {
		return nil
	}
	return &retryBudget{pct: r.BudgetPercent, w: newWindow(10 * time.Second)}
}

func (b *retryBudget) request(now int64) {
	if b != nil {
		b.w.add(now, false)
	}
}

// take reports whether one more retry fits the budget, and counts it.
func (b *retryBudget) take(now int64) bool {
	if b == nil {
		return true
	}
	total, retries := b.w.sums(now)
	if retries >= minBudgetRetries && float64(retries+1)*100 > b.pct*float64(total) {
		return false
	}
	b.w.mu.Lock()
	e := now / b.w.span
	i := e % 10
	if b.w.epochs[i] != e {
		b.w.epochs[i], b.w.total[i], b.w.bad[i] = e, 0, 0
	}
	b.w.bad[i]++
	b.w.mu.Unlock()
	return true
}

// splitter picks the side of a weighted split: a tag, or "" for the
// untagged instances.
type splitter struct {
	tags     []string
	cum      []uint64 // cumulative shares, in millionths
	kind     string   // header | query | cookie | "" (random)
	name     string
	counters []prometheus.Counter // per tag, then the default side
}

const splitScale = 1_000_000

func newSplitter(svc *mapping.Service, vec *prometheus.CounterVec) *splitter {
	if len(svc.Split) == 0 {
		return nil
	}
	sp := &splitter{}
	var acc float64
	for _, s := range svc.Split {
		acc += s.Percent
		sp.tags = append(sp.tags, s.Tag)
		sp.cum = append(sp.cum, uint64(acc*splitScale/100))
		sp.counters = append(sp.counters, vec.WithLabelValues(svc.Name, s.Tag))
	}
	sp.counters = append(sp.counters, vec.WithLabelValues(svc.Name, "default"))
	if svc.SplitKey != "" {
		sp.kind, sp.name, _ = strings.Cut(svc.SplitKey, ":")
	}
	return sp
}

// pick returns the side's tag ("" for the default side) and its name.
func (sp *splitter) pick(r *http.Request, q url.Values) (tag, side string) {
	var key string
	switch sp.kind {
	case "header":
		key = r.Header.Get(sp.name)
	case "query":
		key = q.Get(sp.name)
	case "cookie":
		if c, err := r.Cookie(sp.name); err == nil {
			key = c.Value
		}
	}
	var roll uint64
	if key != "" {
		roll = fnv64(key) % splitScale
	} else {
		roll = rand.Uint64N(splitScale)
	}
	for i, c := range sp.cum {
		if roll < c {
			sp.counters[i].Inc()
			return sp.tags[i], sp.tags[i]
		}
	}
	sp.counters[len(sp.counters)-1].Inc()
	return "", "default"
}

// fnv64 is FNV-1a, mixed so that nearby keys spread over the range.
func fnv64(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// staleCache keeps the last good reply per method and bound request, for
// fallback.stale_for: bounded by entries and bytes, least recently used
// first out.
type staleCache struct {
	maxEntries int
	maxBytes   int64
	staleFor   time.Duration

	mu    sync.Mutex
	bytes int64
	ll    *list.List
	m     map[[32]byte]*list.Element
}

type staleEntry struct {
	key  [32]byte
	res  *generic.Result
	at   int64
	size int64
}

func newStaleCache(f *mapping.Fallback) *staleCache {
	if f == nil || f.StaleFor <= 0 {
		return nil
	}
	return &staleCache{maxEntries: f.MaxEntries, maxBytes: f.MaxBytes, staleFor: f.StaleFor, ll: list.New(), m: map[[32]byte]*list.Element{}}
}

// staleKey identifies a call by service, method and its bound request:
// the body and the parameters (sorted).
func staleKey(service string, call *generic.Call) [32]byte {
	h := sha256.New()
	h.Write([]byte(service))
	h.Write([]byte{0})
	h.Write([]byte(call.Method))
	h.Write([]byte{0})
	h.Write(call.Body)
	ps := append([]generic.Param(nil), call.Params...)
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Name != ps[j].Name {
			return ps[i].Name < ps[j].Name
		}
		return ps[i].Value < ps[j].Value
	})
	for _, p := range ps {
		h.Write([]byte{0})
		h.Write([]byte(p.Name))
		h.Write([]byte{'='})
		h.Write([]byte(p.Value))
	}
	var k [32]byte
	h.Sum(k[:0])
	return k
}

func (c *staleCache) put(k [32]byte, res *generic.Result, now int64) {
	size := int64(len(res.Body)) + 64
	for name, v := range res.Meta {
		size += int64(len(name) + len(v))
	}
	if size > c.maxBytes {
		return
	}
	cp := &generic.Result{Body: append([]byte(nil), res.Body...), Meta: res.Meta}
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.m[k]; ok {
		e := el.Value.(*staleEntry)
		c.bytes += size - e.size
		e.res, e.at, e.size = cp, now, size
		c.ll.MoveToFront(el)
	} else {
		c.m[k] = c.ll.PushFront(&staleEntry{key: k, res: cp, at: now, size: size})
		c.bytes += size
	}
	for c.ll.Len() > c.maxEntries || c.bytes > c.maxBytes {
		el := c.ll.Back()
		e := el.Value.(*staleEntry)
		c.ll.Remove(el)
		delete(c.m, e.key)
		c.bytes -= e.size
	}
}

func (c *staleCache) get(k [32]byte, now int64) *generic.Result {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.m[k]
	if !ok {
		return nil
	}
	e := el.Value.(*staleEntry)
	if now-e.at > int64(c.staleFor) {
		return nil
	}
	c.ll.MoveToFront(el)
	return e.res
}

// fallbackApplies: 502, 503 and 504 answers (a backend error, no instance,
// overloaded, the breaker open, a timeout) fall back; the caller's own
// mistakes do not.
func fallbackApplies(code generic.Code) bool {
	switch generic.HTTPStatus(code) {
	case http.StatusBadGateway, http.StatusServiceUnavailable, http.StatusGatewayTimeout:
		return true
	}
	return false
}

// mirrors are the gateway's mirror queues, one per target service, each
// with its workers. They outlive reloads; Close stops them.
type mirrors struct {
	m  *metrics
	mu sync.Mutex
	by map[string]*mirrorQueue
	wg sync.WaitGroup
}

type mirrorQueue struct {
	ch             chan mirrorJob
	queue, workers int
	sent, failed   prometheus.Counter
	dropped        prometheus.Counter
	mu             sync.RWMutex // guards closed against sends
	closed         bool
}

type mirrorJob struct {
	c    *cluster
	call *generic.Call
}

// queue returns the mirror queue of target with these sizes, replacing one
// of other sizes (whose workers finish its copies, then stop).
func (ms *mirrors) queue(target string, size, workers int) *mirrorQueue {
	ms.mu.Lock()
	defer ms.mu.Unlock()
	if q := ms.by[target]; q != nil {
		if q.queue == size && q.workers == workers {
			return q
		}
		q.stop()
	}
	q := &mirrorQueue{ch: make(chan mirrorJob, size), queue: size, workers: workers,
		sent:    ms.m.mirrored.WithLabelValues(target, "ok"),
		failed:  ms.m.mirrored.WithLabelValues(target, "error"),
		dropped: ms.m.mirrored.WithLabelValues(target, "dropped")}
	for i := 0; i < workers; i++ {
		ms.wg.Add(1)
		go func() {
			defer ms.wg.Done()
			for j := range q.ch {
				ctx, cancel := context.WithTimeout(context.Background(), j.c.svc.Timeout)
				_, err := j.c.invoke(ctx, j.call, pickRequest{})
				cancel()
				if err != nil {
					q.failed.Inc()
				} else {
					q.sent.Inc()
				}
			}
		}()
	}
	if ms.by == nil {
		ms.by = map[string]*mirrorQueue{}
	}
	ms.by[target] = q
	return q
}

func (q *mirrorQueue) stop() {
	q.mu.Lock()
	defer q.mu.Unlock()
	if !q.closed {
		q.closed = true
		close(q.ch)
	}
}

// send enqueues a copy without waiting: when the queue is full (or
// stopped) the copy is dropped and counted.
func (q *mirrorQueue) send(j mirrorJob) {
	q.mu.RLock()
	defer q.mu.RUnlock()
	if q.closed {
		q.dropped.Inc()
		return
	}
	select {
	case q.ch <- j:
	default:
		q.dropped.Inc()
	}
}

// close stops every queue and waits for the copies in flight.
func (ms *mirrors) close() {
	ms.mu.Lock()
	for _, q := range ms.by {
		q.stop()
	}
	ms.by = nil
	ms.mu.Unlock()
	ms.wg.Wait()
}

// mirrorCall is the copy of call a mirror sends: the same body and
// parameters, the forwarded headers, and x-rpcbridge-mirror: 1.
func mirrorCall(call *generic.Call) *generic.Call {
	meta := make(map[string]string, len(call.Meta)+1)
	for k, v := range call.Meta {
		meta[k] = v
	}
	meta["x-rpcbridge-mirror"] = "1"
	return &generic.Call{Method: call.Method, Body: call.Body, Params: call.Params, Meta: meta}
}
