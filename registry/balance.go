package registry

import (
	"cmp"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Balancer policy names, as written in the config's balancer key.
const (
	PolicyRandom         = "random"
	PolicyRoundRobin     = "round_robin"
	PolicyConsistentHash = "consistent_hash"
	PolicyLeastRequest   = "least_request"
)

// Policies lists the balancer policies NewBalancer accepts.
func Policies() []string {
	return []string{PolicyRandom, PolicyRoundRobin, PolicyConsistentHash, PolicyLeastRequest}
}

// PickInfo is what one Pick knows about the request.
type PickInfo struct {
	// HashKey is the key for consistent_hash (a user id, a session id).
	// Other policies ignore it. An empty key hashes like any other string.
	HashKey string
	// Exclude reports instances that must not be picked (ejected, or
	// already tried by this request). May be nil.
	Exclude func(*Instance) bool
	// Load reports an instance's in-flight requests, for least_request.
	// When nil, least_request picks at random by weight.
	Load func(*Instance) int64
}

// Balancer picks one instance from the set it was built for. It is built
// once per instance set and Pick is safe for concurrent use; Pick does not
// allocate. Pick returns nil when no instance is eligible.
type Balancer interface {
	Pick(info PickInfo) *Instance
}

// NewBalancer builds a balancer with policy over instances (which it keeps
// and does not modify). An empty policy means round_robin. An empty
// instance set is allowed: Pick then returns nil.
func NewBalancer(policy string, instances []*Instance) (Balancer, error) {
	switch policy {
	case PolicyRandom:
		return newRandom(instances), nil
	case PolicyRoundRobin, "":
		return newRoundRobin(instances), nil
	case PolicyConsistentHash:
		return newRing(instances), nil
	case PolicyLeastRequest:
		return newLeastRequest(instances), nil
	}
	return nil, generic.Errorf(generic.CodeInvalidArgument,
		"balancer: want one of random, round_robin, consistent_hash, least_request, got %q", policy)
}

func excluded(info *PickInfo, in *Instance) bool {
	return info.Exclude != nil && info.Exclude(in)
}

// weightedPickSlow picks among the eligible instances with probability
// proportional to weight, in two passes.
func weightedPickSlow(instances []*Instance, info *PickInfo) *Instance {
	total := 0
	for _, in := range instances {
		if !excluded(info, in) {
			total += in.EffectiveWeight()
		}
	}
	if total == 0 {
		return nil
	}
	r := rand.IntN(total)
	for _, in := range instances {
		if excluded(info, in) {
			continue
		}
		r -= in.EffectiveWeight()
		if r < 0 {
			return in
		}
	}
	return nil
}

// ---- random (weighted) ----

type randomBalancer struct {
	instances []*Instance
	cum       []int // cum[i] = sum of weights of instances[0..i]
	equal     bool  // all weights equal: index directly
}

func newRandom(instances []*Instance) *randomBalancer {
	b := &randomBalancer{instances: instances, cum: make([]int, len(instances)), equal: true}
	sum := 0
	for i, in := range instances {
		w := in.EffectiveWeight()
		if w != instances[0].EffectiveWeight() {
			b.equal = false
		}
		sum += w
		b.cum[i] = sum
	}
	return b
}

func (b *randomBalancer) pickOne() *Instance {
	n := len(b.instances)
	if b.equal {
		return b.instances[rand.IntN(n)]
	}
	r := rand.IntN(b.cum[n-1])
	i, _ := slices.BinarySearch(b.cum, r+1)
	return b.instances[i]
}

// Pick implements Balancer.
func (b *randomBalancer) Pick(info PickInfo) *Instance {
	if len(b.instances) == 0 {
		return nil
	}
	// A few fast tries; most requests exclude nothing or a few instances.
	for range 3 {
		if in := b.pickOne(); !excluded(&info, in) {
			return in
		}
	}
	return weightedPickSlow(b.instances, &info)
}

// ---- round_robin (smooth weighted) ----

// maxScheduleWork bounds the work of precomputing the smooth weighted
// schedule (period x instances); beyond it the balancer schedules by
// earliest deadline with a heap, which interleaves just as smoothly.
const maxScheduleWork = 1 << 22

type roundRobin struct {
	instances []*Instance
	// schedule is one full period of nginx's smooth weighted order, when
	// it is cheap to precompute; next indexes it atomically.
	schedule []int32
	next     atomic.Uint64

	// Otherwise: earliest-deadline-first over a heap, under mu. Each pick
	// advances the chosen instance's deadline by 1/weight.
	mu   sync.Mutex
	heap []edfEntry
}

type edfEntry struct {
	deadline float64
	step     float64
	idx      int32
}

func newRoundRobin(instances []*Instance) *roundRobin {
	b := &roundRobin{instances: instances}
	n := len(instances)
	if n == 0 {
		return b
	}
	g := 0
	for _, in := range instances {
		g = gcd(g, in.EffectiveWeight())
	}
	period := 0
	for _, in := range instances {
		period += in.EffectiveWeight() / g
	}
	if period*n > maxScheduleWork {
		b.heap = make([]edfEntry, n)
		for i, in := range instances {
			step := 1 / float64(in.EffectiveWeight())
			// A random phase keeps many gateways from moving in lockstep.
			b.heap[i] = edfEntry{deadline: step * rand.Float64(), step: step, idx: int32(i)}
		}
		for i := n/2 - 1; i >= 0; i-- {
			b.down(i)
		}
		return b
	}
	// Run the smooth weighted algorithm for one period: every instance
	// appears weight/g times, spread out as evenly as the weights allow.
	cur := make([]int, n)
	b.schedule = make([]int32, period)
	for k := range b.schedule {
		best, total := -1, 0
		for i, in := range instances {
			w := in.EffectiveWeight() / g
			cur[i] += w
			total += w
			if best < 0 || cur[i] > cur[best] {
				best = i
			}
		}
		cur[best] -= total
		b.schedule[k] = int32(best)
	}
	// Start at a random point so that many gateways do not send their
	// first requests to the same instance.
	b.next.Store(uint64(rand.IntN(period)))
	return b
}

func gcd(a, b int) int {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

func (b *roundRobin) less(i, j int) bool {
	x, y := &b.heap[i], &b.heap[j]
	if x.deadline != y.deadline {
		return x.deadline < y.deadline
	}
	return x.idx < y.idx
}

func (b *roundRobin) down(i int) {
	n := len(b.heap)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && b.less(r, l) {
			m = r
		}
		if !b.less(m, i) {
			return
		}
		b.heap[i], b.heap[m] = b.heap[m], b.heap[i]
		i = m
	}
}

// Pick implements Balancer.
func (b *roundRobin) Pick(info PickInfo) *Instance {
	n := len(b.instances)
	if n == 0 {
		return nil
	}
	if b.schedule != nil {
		p := uint64(len(b.schedule))
		// Excluded instances are passed over; after one full period every
		// instance has been seen.
		for range p {
			in := b.instances[b.schedule[(b.next.Add(1)-1)%p]]
			if !excluded(&info, in) {
				return in
			}
		}
		return nil
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	// An excluded instance's turn is spent; after n turns all were seen.
	for range n {
		top := &b.heap[0]
		in := b.instances[top.idx]
		top.deadline += top.step
		b.down(0)
		if !excluded(&info, in) {
			return in
		}
	}
	return nil
}

// ---- consistent_hash (ring with virtual nodes) ----

// vnodesPerDefaultWeight is the number of ring points of an instance with
// weight 100; other weights scale linearly (at least one point).
const vnodesPerDefaultWeight = 160

// maxVnodes bounds one instance's ring points.
const maxVnodes = 16 * vnodesPerDefaultWeight

type ringPoint struct {
	hash uint64
	idx  int32
}

type ring struct {
	instances []*Instance
	points    []ringPoint
}

func newRing(instances []*Instance) *ring {
	r := &ring{instances: instances}
	total := 0
	counts := make([]int, len(instances))
	for i, in := range instances {
		c := min(max(1, in.EffectiveWeight()*vnodesPerDefaultWeight/DefaultWeight), maxVnodes)
		counts[i] = c
		total += c
	}
	r.points = make([]ringPoint, 0, total)
	var buf []byte
	for i, in := range instances {
		// A point depends only on the instance's address and its ordinal,
		// so adding an instance leaves every other point in place.
		for v := range counts[i] {
			buf = append(buf[:0], in.Address...)
			buf = append(buf, '#')
			buf = strconv.AppendInt(buf, int64(v), 10)
			r.points = append(r.points, ringPoint{hash: hashBytes(buf), idx: int32(i)})
		}
	}
	slices.SortFunc(r.points, func(a, b ringPoint) int {
		if c := cmp.Compare(a.hash, b.hash); c != 0 {
			return c
		}
		// Ties (vanishingly rare) resolve by address, independent of order.
		return cmp.Compare(instances[a.idx].Address, instances[b.idx].Address)
	})
	return r
}

// hashString is FNV-1a followed by a 64-bit finalizer (so that keys that
// differ in one character spread over the whole ring).
func hashString(s string) uint64 {
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return mix64(h)
}

func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return mix64(h)
}

func mix64(h uint64) uint64 {
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	h *= 0xc4ceb9fe1a85ec53
	h ^= h >> 33
	return h
}

// Pick implements Balancer: the first point clockwise from the key's hash
// whose instance is not excluded.
func (r *ring) Pick(info PickInfo) *Instance {
	n := len(r.points)
	if n == 0 {
		return nil
	}
	h := hashString(info.HashKey)
	i, _ := slices.BinarySearchFunc(r.points, h, func(p ringPoint, h uint64) int { return cmp.Compare(p.hash, h) })
	if info.Exclude == nil {
		return r.instances[r.points[i%n].idx]
	}
	for k := range n {
		in := r.instances[r.points[(i+k)%n].idx]
		if !info.Exclude(in) {
			return in
		}
	}
	return nil
}

// ---- least_request (power of two choices) ----

type leastRequest struct {
	random *randomBalancer
}

func newLeastRequest(instances []*Instance) *leastRequest {
	return &leastRequest{random: newRandom(instances)}
}

// Pick implements Balancer: two instances drawn at random by weight; the
// one with fewer in-flight requests per unit of weight wins.
func (b *leastRequest) Pick(info PickInfo) *Instance {
	a := b.random.Pick(info)
	if a == nil || info.Load == nil || len(b.random.instances) == 1 {
		return a
	}
	c := b.random.Pick(info)
	for range 2 {
		if c != a {
			break
		}
		c = b.random.Pick(info)
	}
	if c == a {
		return a
	}
	// Compare load/weight without division: la*wc vs lc*wa.
	la, lc := info.Load(a), info.Load(c)
	wa, wc := int64(a.EffectiveWeight()), int64(c.EffectiveWeight())
	if lc*wa < la*wc {
		return c
	}
	return a
}
