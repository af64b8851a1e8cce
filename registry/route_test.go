package registry

import (
	"slices"
	"testing"
)

func TestRoute(t *testing.T) {
	mk := func(addr string, online bool, zone string, tags ...string) *Instance {
		return &Instance{Address: addr, Online: online, Zone: zone, Tags: tags}
	}
	a := mk("a", true, "z1")
	b := mk("b", true, "z2")
	c := mk("c", true, "z1", "canary")
	d := mk("d", true, "z2", "canary")
	off := mk("off", false, "z1")
	offTagged := mk("offc", false, "z1", "blue")
	all := []*Instance{a, b, c, d, off, offTagged}
	onlyTagged := []*Instance{c, d}

	for _, tc := range []struct {
		name string
		in   []*Instance
		req  RouteRequest
		want []string
	}{
		{"no tag selects untagged online", all, RouteRequest{}, []string{"a", "b"}},
		{"no tag, only tagged exist: all", onlyTagged, RouteRequest{}, []string{"c", "d"}},
		{"tag selects carriers", all, RouteRequest{Tag: "canary"}, []string{"c", "d"}},
		{"tag and zone", all, RouteRequest{Tag: "canary", Zone: "z2"}, []string{"d"}},
		{"missing tag, no fallback: none", all, RouteRequest{Tag: "blue"}, nil},
		{"missing tag, fallback: untagged", all, RouteRequest{Tag: "blue", TagFallback: true}, []string{"a", "b"}},
		{"missing tag, fallback, zone", all, RouteRequest{Tag: "blue", TagFallback: true, Zone: "z1"}, []string{"a"}},
		{"zone preferred", all, RouteRequest{Zone: "z2"}, []string{"b"}},
		{"unknown zone falls back to all", all, RouteRequest{Zone: "z9"}, []string{"a", "b"}},
		{"offline never selected", []*Instance{off, offTagged}, RouteRequest{}, nil},
		{"empty input", nil, RouteRequest{Tag: "x", TagFallback: true, Zone: "z"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got []string
			for _, in := range Route(tc.in, tc.req) {
				got = append(got, in.Address)
			}
			if !slices.Equal(got, tc.want) {
				t.Fatalf("got %v want %v", got, tc.want)
			}
		})
	}
}

func TestRouteReturnsInputWhenNothingFiltered(t *testing.T) {
	ins := []*Instance{{Address: "a", Online: true}, {Address: "b", Online: true}}
	if a := testing.AllocsPerRun(100, func() { Route(ins, RouteRequest{Zone: "z"}) }); a != 0 {
		t.Fatalf("allocs: got %v want 0", a)
	}
	if got := Route(ins, RouteRequest{}); &got[0] != &ins[0] {
		t.Fatalf("got a copy, want the input slice")
	}
}
