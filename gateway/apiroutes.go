package gateway

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// apiTable holds the routes made from APIs that instances report through
// the SDK (registry.API with a Path). It is rebuilt whenever an instance
// set changes and consulted after the configured routes.
type apiTable struct {
	table  *mapping.Table
	routes []apiRoute
}

// apiRoute is one SDK-declared route and who declared it.
type apiRoute struct {
	Path       string   `json:"path"`
	HTTPMethod string   `json:"http_method,omitempty"`
	Service    string   `json:"service"`
	Method     string   `json:"method"`
	DeclaredBy []string `json:"declared_by"`
	// Conflict names the route that won when two declared the same path.
	Conflict string `json:"conflict,omitempty"`
}

// rebuildAPIRoutes collects every reported API with a path across the
// current services and swaps in a new table. The first service (in config
// order) to declare a path and HTTP method keeps it; later ones are listed
// with the conflict.
func (g *Gateway) rebuildAPIRoutes() {
	g.apiMu.Lock()
	defer g.apiMu.Unlock()
	st := g.state.Load()
	if st == nil {
		return
	}
	type key struct{ path, method string }
	byKey := map[key]*apiRoute{}
	var order []key
	var conflicts []apiRoute
	for _, svc := range st.cfg.Services {
		c := st.clusters[svc.Name]
		for _, in := range c.snap.Load().all {
			for _, a := range in.APIs {
				if a.Path == "" || !strings.HasPrefix(a.Path, "/") {
					continue
				}
				k := key{a.Path, strings.ToUpper(a.HTTPMethod)}
				r := byKey[k]
				if r == nil {
					r = &apiRoute{Path: a.Path, HTTPMethod: k.method, Service: svc.Name, Method: a.Name}
					byKey[k] = r
					order = append(order, k)
				}
				if r.Service != svc.Name || r.Method != a.Name {
					conflicts = append(conflicts, apiRoute{Path: a.Path, HTTPMethod: k.method, Service: svc.Name, Method: a.Name,
						DeclaredBy: []string{in.Address}, Conflict: fmt.Sprintf("%s.%s keeps this path", r.Service, r.Method)})
					continue
				}
				r.DeclaredBy = appendUnique(r.DeclaredBy, in.Address)
			}
		}
	}
	cfg := &mapping.Config{}
	t := &apiTable{}
	for _, k := range order {
		r := byKey[k]
		sort.Strings(r.DeclaredBy)
		m := mapping.Match{Path: r.Path}
		if r.HTTPMethod != "" {
			m.Methods = []string{r.HTTPMethod}
		}
		cfg.Routes = append(cfg.Routes, mapping.Route{Match: m, Service: r.Service, Method: r.Method})
		t.routes = append(t.routes, *r)
	}
	t.routes = append(t.routes, conflicts...)
	table, err := mapping.NewTable(cfg)
	if err != nil {
		// Shapes that collide ({a} vs {b} at one place): keep the old table.
		g.log.Warn("routes reported by instances conflict; keeping the previous set", "err", err)
		return
	}
	t.table = table
	g.apiRoutes.Store(t)
}

func appendUnique(l []string, s string) []string {
	for _, x := range l {
		if x == s {
			return l
		}
	}
	return append(l, s)
}
