package gateway_test

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// trafficBackend is a real HTTP backend that says who it is, and can be
// made to fail, to stall, or to hold calls until released.
type trafficBackend struct {
	name     string
	srv      *httptest.Server
	calls    atomic.Int64
	mirrored atomic.Int64 // calls carrying x-rpcbridge-mirror: 1
	inflight atomic.Int64
	fail     atomic.Bool
	delay    atomic.Int64 // nanoseconds
	hold     chan struct{}
}

func newTrafficBackend(t *testing.T, name string) *trafficBackend {
	t.Helper()
	b := &trafficBackend{name: name}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b.calls.Add(1)
		if r.Header.Get("X-Rpcbridge-Mirror") == "1" {
			b.mirrored.Add(1)
		}
		b.inflight.Add(1)
		defer b.inflight.Add(-1)
		body, _ := io.ReadAll(r.Body)
		if d := time.Duration(b.delay.Load()); d > 0 {
			select {
			case <-time.After(d):
			case <-r.Context().Done():
				return
			}
		}
		if b.hold != nil {
			select {
			case <-b.hold:
			case <-r.Context().Done():
				return
			}
		}
		if b.fail.Load() {
			http.Error(w, `{"error":"down"}`, 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"from":%q,"got":%s}`, name, orEmpty(body))
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func orEmpty(b []byte) string {
	if len(b) == 0 {
		return "{}"
	}
	return string(b)
}

func (b *trafficBackend) addr() string { return strings.TrimPrefix(b.srv.URL, "http://") }

// metric reads one sample of the gateway's /metrics ("" when absent).
func metric(t *testing.T, e *env, series string) string {
	t.Helper()
	for _, line := range strings.Split(scrape(t, e.adm+"/metrics"), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return v
		}
	}
	return ""
}

func TestASplitSendsItsShareToTheTaggedInstances(t *testing.T) {
	stable, canary := newTrafficBackend(t, "stable"), newTrafficBackend(t, "canary")
	e := newEnv(t, `
services:
  - name: users
    protocol: http
    split: [{tag: v2, percent: 10}]
    instances: [{address: {{stable}}}, {address: {{canary}}, tags: [v2]}]
  - name: keyed
    protocol: http
    split: [{tag: v2, percent: 50}]
    split_key: header:x-user-id
    instances: [{address: {{stable}}}, {address: {{canary}}, tags: [v2]}]
`, map[string]string{"stable": stable.addr(), "canary": canary.addr()})
	const n = 2000
	for i := 0; i < n; i++ {
		if r := do(t, "POST", e.url+"/users/M", `{}`); r.status != 200 {
			t.Fatalf("call %d: got %d %s", i, r.status, r.body)
		}
	}
	got := canary.calls.Load()
	// 10% of 2000 random picks: a standard deviation of 13.4 calls, so
	// ±60 is 4.5 of them (a false failure about once in 150,000 runs).
	if got < n*7/100 || got > n*13/100 {
		t.Errorf("canary share of %d calls: got %d, want 10%% ± 3%% (140..260)", n, got)
	}
	if v := metric(t, e, `rpcbridge_split_requests_total{service="users",side="v2"}`); v != strconv.FormatInt(got, 10) {
		t.Errorf("split metric for v2: got %q, want %d", v, got)
	}
	// An explicit gray header wins over the split.
	for i := 0; i < 20; i++ {
		if r := do(t, "POST", e.url+"/users/M", `{}`, "gray", "v2"); !strings.Contains(r.body, `"canary"`) {
			t.Fatalf("gray: v2: got %s, want the canary", r.body)
		}
	}
	// With split_key, one key always lands on one side; both sides get keys.
	sides := map[string]int{}
	for k := 0; k < 40; k++ {
		key := fmt.Sprintf("user-%d", k)
		first := ""
		for i := 0; i < 5; i++ {
			r := do(t, "POST", e.url+"/keyed/M", `{}`, "x-user-id", key)
			side := field(t, r.body, "from")
			if first == "" {
				first = side
			} else if side != first {
				t.Fatalf("key %s: got %s then %s, want one side", key, first, side)
			}
		}
		sides[first]++
	}
	if sides[`"stable"`] == 0 || sides[`"canary"`] == 0 {
		t.Errorf("40 keys at 50%%: got %v, want both sides", sides)
	}
}

func TestMirroredCopiesNeverDelayTheCallerAndAreDroppedWhenTheQueueIsFull(t *testing.T) {
	primary, shadow, slow := newTrafficBackend(t, "primary"), newTrafficBackend(t, "shadow"), newTrafficBackend(t, "slow-shadow")
	slow.hold = make(chan struct{})
	e := newEnv(t, `
services:
  - name: users
    protocol: http
    mirror: {service: shadow, percent: 50}
    instances: [{address: {{primary}}}]
  - name: shadow
    protocol: http
    instances: [{address: {{shadow}}}]
  - name: held
    protocol: http
    mirror: {service: slow-shadow, percent: 100, queue: 2, workers: 1}
    instances: [{address: {{primary}}}]
  - name: slow-shadow
    protocol: http
    timeout: 30s
    instances: [{address: {{slow}}}]
`, map[string]string{"primary": primary.addr(), "shadow": shadow.addr(), "slow": slow.addr()})
	t.Cleanup(func() { close(slow.hold) }) // runs before the gateway closes
	const n = 400
	for i := 0; i < n; i++ {
		if r := do(t, "POST", e.url+"/users/M", `{"i":1}`); r.status != 200 || !strings.Contains(r.body, `"primary"`) {
			t.Fatalf("call %d: got %d %s, want the primary's answer", i, r.status, r.body)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for shadow.mirrored.Load() < n*40/100 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := shadow.mirrored.Load(); got < n*40/100 || got > n*60/100 || got != shadow.calls.Load() {
		t.Errorf("shadow: got %d mirrored of %d calls (%d in all), want 50%% ± 10%%, every one marked x-rpcbridge-mirror", got, n, shadow.calls.Load())
	}

	// A shadow that holds every copy: the callers' answers do not wait,
	// one copy is at the worker, two wait in the queue, the rest drop.
	var slowest time.Duration
	for i := 0; i < 20; i++ {
		start := time.Now()
		if r := do(t, "POST", e.url+"/held/M", `{}`); r.status != 200 {
			t.Fatalf("call %d: got %d %s", i, r.status, r.body)
		}
		slowest = max(slowest, time.Since(start))
	}
	if slowest > time.Second {
		t.Errorf("slowest caller with a held shadow: got %s, want far less than the shadow's hold", slowest)
	}
	waitUntil(t, "17 copies dropped", 10*time.Second, func() bool {
		return metric(t, e, `rpcbridge_mirror_requests_total{outcome="dropped",service="slow-shadow"}`) == "17"
	})
}

func TestTheBreakerOpensSparesTheBackendAndClosesWhenItHeals(t *testing.T) {
	b := newTrafficBackend(t, "b")
	b.fail.Store(true)
	e := newEnv(t, `
services:
  - name: s
    protocol: http
    retries: 0
    circuit_breaker: {error_percent: 50, min_requests: 10, window: 10s, open_for: 300ms, half_open_requests: 2}
    instances: [{address: {{b}}}]
`, map[string]string{"b": b.addr()})
	for i := 0; i < 10; i++ {
		if r := do(t, "POST", e.url+"/s/M", `{}`); r.status != 502 {
			t.Fatalf("call %d to a failing backend: got %d %s, want 502", i, r.status, r.body)
		}
	}
	if v := metric(t, e, `rpcbridge_circuit_state{service="s"}`); v != "1" {
		t.Fatalf("after 10 failures of 10: breaker state got %q, want 1 (open)", v)
	}
	seen := b.calls.Load()
	for i := 0; i < 20; i++ {
		r := do(t, "POST", e.url+"/s/M", `{}`)
		if r.status != 503 || errCode(t, r.body) != "CIRCUIT_OPEN" {
			t.Fatalf("while open: got %d %s, want 503 CIRCUIT_OPEN", r.status, r.body)
		}
	}
	if got := b.calls.Load(); got != seen {
		t.Errorf("backend calls while open: got %d more, want none", got-seen)
	}
	b.fail.Store(false)
	waitUntil(t, "the healed backend to close the breaker", 10*time.Second, func() bool {
		return do(t, "POST", e.url+"/s/M", `{}`).status == 200 && metric(t, e, `rpcbridge_circuit_state{service="s"}`) == "0"
	})
	if r := do(t, "GET", e.adm+"/admin/services", ""); !strings.Contains(r.body, `"circuit":"closed"`) {
		t.Errorf("/admin/services: got %s, want circuit closed", r.body)
	}
}

func TestMaxConcurrentAnswersTheExcessAtOnce(t *testing.T) {
	b := newTrafficBackend(t, "b")
	b.hold = make(chan struct{})
	e := newEnv(t, `
services:
  - name: s
    protocol: http
    max_concurrent: 5
    timeout: 30s
    instances: [{address: {{b}}}]
`, map[string]string{"b": b.addr()})
	var wg sync.WaitGroup
	codes := make(chan int, 15)
	for i := 0; i < 15; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := do(t, "POST", e.url+"/s/M", `{}`)
			if r.status == 503 && errCode(t, r.body) != "OVERLOADED" {
				t.Errorf("got 503 %s, want OVERLOADED", r.body)
			}
			codes <- r.status
		}()
	}
	waitUntil(t, "5 calls at the backend and 10 answered", 10*time.Second, func() bool { return b.inflight.Load() == 5 && len(codes) == 10 })
	close(b.hold)
	wg.Wait()
	close(codes)
	count := map[int]int{}
	for c := range codes {
		count[c]++
	}
	if count[200] != 5 || count[503] != 10 {
		t.Errorf("15 concurrent calls with max_concurrent 5: got %v, want 5 x 200 and 10 x 503", count)
	}
}

func TestRetriesGetTheirOwnTimeoutAndABudget(t *testing.T) {
	stall, good := newTrafficBackend(t, "stall"), newTrafficBackend(t, "good")
	stall.delay.Store(int64(5 * time.Second))
	bad, bad2 := newTrafficBackend(t, "bad"), newTrafficBackend(t, "bad2")
	bad.fail.Store(true)
	bad2.fail.Store(true)
	e := newEnv(t, `
services:
  - name: s
    protocol: http
    timeout: 3s
    retry: {attempts: 2, per_try_timeout: 200ms, budget_percent: 100}
    instances: [{address: {{stall}}}, {address: {{good}}}]
  - name: failing
    protocol: http
    retry: {attempts: 2, budget_percent: 20}
    outlier: {consecutive_failures: -1}   # both instances stay in: only the budget stops retries
    instances: [{address: {{bad}}}, {address: {{bad2}}}]
routes:
  - match: {path: /s, methods: [POST]}
    service: s
    method: M
    idempotent: true
  - match: {path: /failing, methods: [POST]}
    service: failing
    method: M
    idempotent: true
`, map[string]string{"stall": stall.addr(), "good": good.addr(), "bad": bad.addr(), "bad2": bad2.addr()})
	var times []time.Duration
	for i := 0; i < 6; i++ {
		start := time.Now()
		r := do(t, "POST", e.url+"/s", `{}`)
		times = append(times, time.Since(start))
		if r.status != 200 || !strings.Contains(r.body, `"good"`) {
			t.Fatalf("call %d: got %d %s, want the good instance's answer", i, r.status, r.body)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	if slowest := times[len(times)-1]; slowest > time.Second || slowest < 200*time.Millisecond {
		t.Errorf("slowest call: got %s, want the 200ms per-try timeout plus the second call (under 1s)", slowest)
	}
	if stall.calls.Load() == 0 {
		t.Errorf("the stalling instance was never tried; the test proves nothing")
	}
	const n = 100
	for i := 0; i < n; i++ {
		if r := do(t, "POST", e.url+"/failing", `{}`); r.status != 502 {
			t.Fatalf("call %d: got %d", i, r.status)
		}
	}
	// Without a budget every call would be tried twice (200 calls).
	if got := bad.calls.Load() + bad2.calls.Load(); got < n+15 || got > n+25 {
		t.Errorf("backend calls for %d failing requests with a 20%% budget: got %d, want about %d", n, got, n+20)
	}
	if v := metric(t, e, `rpcbridge_retries_total{outcome="over_budget",service="failing"}`); v == "" || v == "0" {
		t.Errorf("over_budget retries: got %q, want some", v)
	}
}

func TestFallbackAnswersWithTheLastGoodReplyThenAFixedOne(t *testing.T) {
	b := newTrafficBackend(t, "b")
	e := newEnv(t, `
services:
  - name: feed
    protocol: http
    retries: 0
    fallback:
      stale_for: 1m
      reply: {status: 200, body: {items: [], note: "fallback", big: 9007199254740993}}
    instances: [{address: {{b}}}]
  - name: plain
    protocol: http
    retries: 0
    instances: [{address: {{b}}}]
routes:
  - match: {path: /v1/feed, methods: [GET]}
    service: feed
    method: list
`, map[string]string{"b": b.addr()})
	if r := do(t, "GET", e.url+"/v1/feed?page=1&size=5", ""); r.status != 200 || r.header.Get("X-Rpcbridge-Fallback") != "" {
		t.Fatalf("backend up: got %d %s %v", r.status, r.body, r.header)
	}
	fresh := do(t, "GET", e.url+"/v1/feed?page=1&size=5", "").body
	b.fail.Store(true)
	// The same request, its query in another order: the last good reply.
	r := do(t, "GET", e.url+"/v1/feed?size=5&page=1", "")
	if r.status != 200 || r.body != fresh || r.header.Get("X-Rpcbridge-Fallback") != "stale" {
		t.Errorf("backend failing, request seen before: got %d %s (fallback %q), want 200 %s (stale)", r.status, r.body, r.header.Get("X-Rpcbridge-Fallback"), fresh)
	}
	r = do(t, "GET", e.url+"/v1/feed?page=2", "")
	if r.status != 200 || r.body != `{"big":9007199254740993,"items":[],"note":"fallback"}` || r.header.Get("X-Rpcbridge-Fallback") != "reply" {
		t.Errorf("backend failing, request not seen: got %d %s (fallback %q), want the fixed reply", r.status, r.body, r.header.Get("X-Rpcbridge-Fallback"))
	}
	if r = do(t, "POST", e.url+"/plain/list", `{}`); r.status != 502 || r.header.Get("X-Rpcbridge-Fallback") != "" {
		t.Errorf("a service without fallback: got %d %s, want today's 502", r.status, r.body)
	}
	if v := metric(t, e, `rpcbridge_fallback_replies_total{kind="stale",service="feed"}`); v != "1" {
		t.Errorf("stale fallbacks: got %q, want 1", v)
	}
}
