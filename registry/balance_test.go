package registry

import (
	"fmt"
	"math"
	"strconv"
	"sync"
	"testing"
)

func weighted(weights ...int) []*Instance {
	out := make([]*Instance, len(weights))
	for i, w := range weights {
		out[i] = &Instance{Address: fmt.Sprintf("10.0.0.%d:80", i+1), Weight: w, Online: true}
	}
	return out
}

func mustBalancer(t testing.TB, policy string, ins []*Instance) Balancer {
	t.Helper()
	b, err := NewBalancer(policy, ins)
	if err != nil {
		t.Fatalf("NewBalancer(%q): %v", policy, err)
	}
	return b
}

func TestWeightedPoliciesFollowWeights(t *testing.T) {
	for _, policy := range []string{PolicyRandom, PolicyRoundRobin} {
		t.Run(policy, func(t *testing.T) {
			ins := weighted(1, 2, 7)
			b := mustBalancer(t, policy, ins)
			const n = 10000
			counts := map[*Instance]int{}
			for range n {
				counts[b.Pick(PickInfo{})]++
			}
			for i, want := range []float64{0.1, 0.2, 0.7} {
				got := float64(counts[ins[i]]) / n
				// Random: 5 standard deviations at n=10k is under 0.025.
				if math.Abs(got-want) > 0.025 {
					t.Errorf("share of weight %d: got %.3f want %.3f±0.025", ins[i].Weight, got, want)
				}
			}
			if policy == PolicyRoundRobin {
				// Exact over whole periods.
				if counts[ins[0]] != 1000 || counts[ins[1]] != 2000 || counts[ins[2]] != 7000 {
					t.Errorf("round_robin counts: got %d/%d/%d want 1000/2000/7000", counts[ins[0]], counts[ins[1]], counts[ins[2]])
				}
			}
		})
	}
}

func TestRoundRobinIsSmooth(t *testing.T) {
	// nginx's example: weights 5,1,1 give a a b a c a a (no long runs).
	ins := weighted(5, 1, 1)
	b := newRoundRobin(ins)
	b.next.Store(0)
	var got []string
	for range 7 {
		got = append(got, b.Pick(PickInfo{}).Address)
	}
	want := []string{ins[0].Address, ins[0].Address, ins[1].Address, ins[0].Address, ins[2].Address, ins[0].Address, ins[0].Address}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("order: got %v want %v", got, want)
	}
}

func TestRoundRobinWithoutScheduleFollowsWeights(t *testing.T) {
	// Coprime large weights make the period too long to precompute.
	ins := weighted(999983, 999979*2)
	b := newRoundRobin(ins)
	if b.heap == nil {
		t.Fatalf("schedule: got %d entries, want the heap path", len(b.schedule))
	}
	counts := map[*Instance]int{}
	for range 3000 {
		counts[b.Pick(PickInfo{})]++
	}
	if got := float64(counts[ins[1]]) / 3000; math.Abs(got-2.0/3) > 0.01 {
		t.Fatalf("share of the heavier: got %.3f want 0.667", got)
	}
}

func TestPickHonoursExclude(t *testing.T) {
	ins := weighted(1, 2, 7)
	for _, policy := range Policies() {
		t.Run(policy, func(t *testing.T) {
			b := mustBalancer(t, policy, ins)
			exclHeavy := func(in *Instance) bool { return in == ins[2] }
			for i := range 200 {
				got := b.Pick(PickInfo{HashKey: strconv.Itoa(i), Exclude: exclHeavy, Load: func(*Instance) int64 { return 0 }})
				if got == nil || got == ins[2] {
					t.Fatalf("pick %d with the heaviest excluded: got %v", i, got)
				}
			}
			if got := b.Pick(PickInfo{Exclude: func(*Instance) bool { return true }}); got != nil {
				t.Fatalf("pick with all excluded: got %v want nil", got.Address)
			}
			empty := mustBalancer(t, policy, nil)
			if got := empty.Pick(PickInfo{}); got != nil {
				t.Fatalf("pick from empty set: got %v want nil", got.Address)
			}
		})
	}
}

func TestConsistentHashStableAndMovesAboutOneNth(t *testing.T) {
	ins := weighted(100, 100, 100, 100, 100, 100, 100, 100, 100)
	b := mustBalancer(t, PolicyConsistentHash, ins)
	const keys = 20000
	before := make([]*Instance, keys)
	for k := range keys {
		before[k] = b.Pick(PickInfo{HashKey: "user-" + strconv.Itoa(k)})
		if again := b.Pick(PickInfo{HashKey: "user-" + strconv.Itoa(k)}); again != before[k] {
			t.Fatalf("key %d: got %s then %s, want the same", k, before[k].Address, again.Address)
		}
	}
	// Same set built again (in another order) maps keys identically.
	rev := make([]*Instance, len(ins))
	for i, in := range ins {
		rev[len(ins)-1-i] = in
	}
	b2 := mustBalancer(t, PolicyConsistentHash, rev)
	for k := range keys {
		if got := b2.Pick(PickInfo{HashKey: "user-" + strconv.Itoa(k)}); got != before[k] {
			t.Fatalf("key %d on a rebuilt ring: got %s want %s", k, got.Address, before[k].Address)
		}
	}
	added := append(append([]*Instance{}, ins...), &Instance{Address: "10.0.0.99:80", Online: true})
	b3 := mustBalancer(t, PolicyConsistentHash, added)
	moved, toNew := 0, 0
	for k := range keys {
		got := b3.Pick(PickInfo{HashKey: "user-" + strconv.Itoa(k)})
		if got != before[k] {
			moved++
			if got == added[len(added)-1] {
				toNew++
			}
		}
	}
	share := float64(moved) / keys
	t.Logf("adding a 10th instance moved %.3f of keys (ideal 0.100)", share)
	if share < 0.06 || share > 0.15 {
		t.Fatalf("moved share: got %.3f want about 1/10 (0.06..0.15)", share)
	}
	if toNew != moved {
		t.Fatalf("keys moved to old instances: got %d want 0", moved-toNew)
	}
	// Weight-aware: a weight-300 instance among 100s gets about 3x keys.
	heavy := weighted(100, 100, 300)
	bh := mustBalancer(t, PolicyConsistentHash, heavy)
	n := 0
	for k := range keys {
		if bh.Pick(PickInfo{HashKey: "k" + strconv.Itoa(k)}) == heavy[2] {
			n++
		}
	}
	if got := float64(n) / keys; math.Abs(got-0.6) > 0.08 {
		t.Fatalf("share of the weight-300 instance: got %.3f want 0.6±0.08", got)
	}
}

func TestLeastRequestPrefersLessLoaded(t *testing.T) {
	ins := weighted(100, 100, 100)
	load := map[*Instance]int64{ins[0]: 50, ins[1]: 0, ins[2]: 50}
	b := mustBalancer(t, PolicyLeastRequest, ins)
	counts := map[*Instance]int{}
	for range 3000 {
		counts[b.Pick(PickInfo{Load: func(in *Instance) int64 { return load[in] }})]++
	}
	// The idle instance wins every pair it is in: 1 - (2/3)^2 = 5/9, plus
	// draws of the same instance twice that are redrawn.
	if got := float64(counts[ins[1]]) / 3000; got < 0.5 {
		t.Fatalf("share of the idle instance: got %.3f want > 0.5", got)
	}
	if counts[ins[1]] <= counts[ins[0]] || counts[ins[1]] <= counts[ins[2]] {
		t.Fatalf("counts: got %v, want the idle instance most", counts)
	}
}

func TestNewBalancerRejectsUnknownPolicy(t *testing.T) {
	_, err := NewBalancer("fastest", nil)
	if err == nil || err.Error() != `INVALID_ARGUMENT: balancer: want one of random, round_robin, consistent_hash, least_request, got "fastest"` {
		t.Fatalf("got %v", err)
	}
	if b, err := NewBalancer("", weighted(1)); err != nil || b.Pick(PickInfo{}) == nil {
		t.Fatalf("empty policy: got %v, %v want round_robin", b, err)
	}
}

func TestPickIsSafeForConcurrentUse(t *testing.T) {
	ins := weighted(3, 5, 7, 11)
	for _, policy := range Policies() {
		b := mustBalancer(t, policy, ins)
		var wg sync.WaitGroup
		for g := range 4 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 500 {
					if b.Pick(PickInfo{HashKey: strconv.Itoa(g*1000 + i)}) == nil {
						t.Errorf("%s: nil pick", policy)
						return
					}
				}
			}()
		}
		wg.Wait()
	}
}

func TestPickDoesNotAllocate(t *testing.T) {
	ins := weighted(1, 2, 7)
	load := func(*Instance) int64 { return 1 }
	excl := func(in *Instance) bool { return in == ins[0] }
	for _, policy := range Policies() {
		b := mustBalancer(t, policy, ins)
		info := PickInfo{HashKey: "user-42", Load: load, Exclude: excl}
		if a := testing.AllocsPerRun(200, func() { b.Pick(info) }); a != 0 {
			t.Errorf("%s: got %v allocs per Pick want 0", policy, a)
		}
	}
}

func BenchmarkPick(b *testing.B) {
	for _, n := range []int{3, 1000} {
		ins := make([]*Instance, n)
		for i := range ins {
			ins[i] = &Instance{Address: fmt.Sprintf("10.%d.%d.%d:80", i>>16, (i>>8)&255, i&255), Weight: 50 + i%100, Online: true}
		}
		load := func(in *Instance) int64 { return int64(len(in.Address)) }
		for _, policy := range Policies() {
			bal := mustBalancer(b, policy, ins)
			b.Run(fmt.Sprintf("%s/n=%d", policy, n), func(b *testing.B) {
				b.ReportAllocs()
				info := PickInfo{HashKey: "user-12345", Load: load}
				for b.Loop() {
					bal.Pick(info)
				}
			})
		}
	}
}
