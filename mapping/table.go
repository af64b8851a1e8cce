package mapping

import (
	"fmt"
	"net/url"
	"sort"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Table matches HTTP requests to routes. Exact paths are looked up in a
// hash map; templates and prefixes in a trie of path segments. Precedence:
// an exact path, then a template (a literal segment beats a {param} at the
// same depth), then the longest prefix. Among routes on the same path, one
// naming the request's host beats one that names no host. A Table is
// immutable once built and safe for concurrent use.
type Table struct {
	exact map[string][]*entry
	root  node
	n     int
}

// RouteMatch is the outcome of a successful lookup.
type RouteMatch struct {
	Route *Route
	// Index is the route's position in the config.
	Index int
	// Method is the backend method: the route's, or for a prefix route
	// without one, the first path segment after the prefix.
	Method string
	// Params are the template's path parameters.
	Params []generic.Param
}

type entry struct {
	index   int
	route   *Route
	methods []string // upper case; empty = any
	host    string
	prefix  bool
	names   []string // template parameter names, in path order
	conds   conditions
}

type node struct {
	literal  map[string]*node
	param    *node
	names    []string // param names along the way, for templates ending here
	entries  []*entry // templates ending at this node
	prefixes []*entry // prefixes ending at this node
}

// segment is one parsed template segment.
type segment struct {
	literal string
	param   string
}

func parseTemplate(path string) ([]segment, error) {
	if !strings.HasPrefix(path, "/") {
		return nil, fmt.Errorf("must start with /, got %q", path)
	}
	var segs []segment
	names := map[string]bool{}
	for _, s := range splitPath(path) {
		if strings.HasPrefix(s, "{") {
			if !strings.HasSuffix(s, "}") || len(s) < 3 || strings.ContainsAny(s[1:len(s)-1], "{}/") {
				return nil, fmt.Errorf("bad parameter segment %q: want {name}", s)
			}
			name := s[1 : len(s)-1]
			if names[name] {
				return nil, fmt.Errorf("parameter {%s} appears twice", name)
			}
			names[name] = true
			segs = append(segs, segment{param: name})
			continue
		}
		if strings.ContainsAny(s, "{}") {
			return nil, fmt.Errorf("segment %q: a parameter must be a whole segment", s)
		}
		segs = append(segs, segment{literal: s})
	}
	return segs, nil
}

func splitPath(p string) []string {
	p = strings.Trim(p, "/")
	if p == "" {
		return nil
	}
	return strings.Split(p, "/")
}

func isTemplate(p string) bool { return strings.Contains(p, "{") }

// NewTable builds the route table of c. Routes that would shadow each other
// (same path shape, overlapping HTTP methods, same host) are Problems that
// name both routes.
func NewTable(c *Config) (*Table, error) {
	t := &Table{exact: make(map[string][]*entry)}
	var p Problems
	for i := range c.Routes {
		r := &c.Routes[i]
		e := &entry{index: i, route: r, host: strings.ToLower(r.Match.Host)}
		e.conds = compileConditions(&r.Match, fmt.Sprintf("routes[%d] (%s)", i, describe(r)), func(f string, a ...any) { p = append(p, fmt.Sprintf(f, a...)) })
		for _, m := range r.Match.Methods {
			e.methods = append(e.methods, strings.ToUpper(m))
		}
		var list []*entry
		var store func([]*entry)
		switch {
		case r.Match.Path != "" && !isTemplate(r.Match.Path):
			key := "/" + strings.Join(splitPath(r.Match.Path), "/")
			list = t.exact[key]
			store = func(l []*entry) { t.exact[key] = l }
		case r.Match.Path != "":
			segs, err := parseTemplate(r.Match.Path)
			if err != nil {
				continue // reported by Validate
			}
			n := &t.root
			var names []string
			for _, s := range segs {
				if s.param != "" {
					if n.param == nil {
						n.param = &node{}
					}
					n = n.param
					names = append(names, s.param)
					continue
				}
				n = n.child(s.literal)
			}
			if n.entries != nil && !sameNames(n.names, names) {
				other := n.entries[0]
				p = append(p, fmt.Sprintf("routes[%d] (%s): path parameters are named differently from routes[%d] (%s) at the same place", i, r.Match.Path, other.index, other.route.Match.Path))
			}
			n.names = names
			e.names = names
			list = n.entries
			store = func(l []*entry) { n.entries = l }
		case r.Match.Prefix != "":
			n := &t.root
			for _, s := range splitPath(r.Match.Prefix) {
				n = n.child(s)
			}
			e.prefix = true
			list = n.prefixes
			store = func(l []*entry) { n.prefixes = l }
		default:
			continue
		}
		for _, o := range list {
			if o.host != e.host || !methodsOverlap(o.methods, e.methods) || o.conds.key() != e.conds.key() {
				continue
			}
			if len(e.conds) > 0 {
				p = append(p, fmt.Sprintf("routes[%d] (%s) can never match: routes[%d] (%s) has the same conditions%s and is tried first", i, describe(r), o.index, describe(o.route), overlapText(o.methods, e.methods)))
				continue
			}
			p = append(p, fmt.Sprintf("routes[%d] (%s) duplicates routes[%d] (%s)%s", i, describe(r), o.index, describe(o.route), overlapText(o.methods, e.methods)))
		}
		store(append(list, e))
		t.n++
	}
	// Host-specific entries first, so that they win; then those with more
	// conditions; then config order.
	sortHostFirst := func(l []*entry) {
		sort.SliceStable(l, func(i, j int) bool {
			if (l[i].host != "") != (l[j].host != "") {
				return l[i].host != ""
			}
			return len(l[i].conds) > len(l[j].conds)
		})
	}
	t.root.walk(func(n *node) { sortHostFirst(n.entries); sortHostFirst(n.prefixes) })
	if len(p) > 0 {
		return nil, p
	}
	for _, l := range t.exact {
		sortHostFirst(l)
	}
	return t, nil
}

func describe(r *Route) string {
	if r.Match.Path != "" {
		return r.Match.Path
	}
	return "prefix " + r.Match.Prefix
}

func overlapText(a, b []string) string {
	if len(a) == 0 && len(b) == 0 {
		return ""
	}
	return " for the same HTTP methods"
}

func sameNames(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func methodsOverlap(a, b []string) bool {
	if len(a) == 0 || len(b) == 0 {
		return true
	}
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

func (n *node) child(lit string) *node {
	if n.literal == nil {
		n.literal = make(map[string]*node)
	}
	c := n.literal[lit]
	if c == nil {
		c = &node{}
		n.literal[lit] = c
	}
	return c
}

func (n *node) walk(f func(*node)) {
	f(n)
	for _, c := range n.literal {
		c.walk(f)
	}
	if n.param != nil {
		n.param.walk(f)
	}
}

// Len is the number of routes in the table.
func (t *Table) Len() int { return t.n }

// Lookup matches a request. It returns the match, or nil and
// generic.CodeNotFound when no route's path matches, or nil and
// generic.CodeMethodNotAllowed when a path matches but not its HTTP method.
func (t *Table) Lookup(method, host, path string) (*RouteMatch, generic.Code) {
	return t.LookupRequest(method, host, path, nil)
}

// LookupRequest is Lookup for routes with conditions: req gives the
// request's headers, query and cookies (nil meets no condition). A path
// that matches routes whose conditions the request does not meet is
// NOT_FOUND.
func (t *Table) LookupRequest(method, host, path string, req RequestAttrs) (*RouteMatch, generic.Code) {
	if host != "" {
		if i := strings.LastIndexByte(host, ':'); i >= 0 && !strings.Contains(host[i:], "]") {
			host = host[:i]
		}
		host = strings.ToLower(host)
	}
	pathMatched := false // a route's path and conditions matched, not its method
	key := path
	if len(key) > 1 && key[len(key)-1] == '/' || strings.Contains(key, "//") {
		key = "/" + strings.Join(splitPath(key), "/")
	}
	if l, ok := t.exact[key]; ok {
		e, miss := pick(l, method, host, req)
		pathMatched = miss
		if e != nil {
			return &RouteMatch{Route: e.route, Index: e.index, Method: e.route.Method}, ""
		}
	}
	// Walk the trie segment by segment without splitting the path.
	w := walker{method: method, host: host, req: req}
	if e := w.walk(&t.root, path); e != nil {
		m := &RouteMatch{Route: e.route, Index: e.index, Method: e.route.Method}
		if w.n > 0 {
			m.Params = make([]generic.Param, 0, w.n)
		}
		for i := 0; i < w.n && i < len(e.names); i++ {
			m.Params = append(m.Params, generic.Param{Name: e.names[i], Value: unescape(w.vals[i]), Path: true})
		}
		return m, ""
	}
	pathMatched = pathMatched || w.pathMatched
	best, bestRest := w.best, w.bestRest
	if best != nil {
		m := &RouteMatch{Route: best.route, Index: best.index, Method: best.route.Method}
		if m.Method == "" {
			seg := bestRest
			if i := strings.IndexByte(seg, '/'); i >= 0 {
				seg = seg[:i]
			}
			m.Method = unescape(seg)
		}
		return m, ""
	}
	if pathMatched {
		return nil, generic.CodeMethodNotAllowed
	}
	return nil, generic.CodeNotFound
}

// pick returns the first entry of l that takes the request; methodMiss
// reports that one matched but for its HTTP method.
func pick(l []*entry, method, host string, req RequestAttrs) (e *entry, methodMiss bool) {
	for _, e := range l {
		if e.host != "" && e.host != host {
			continue
		}
		if !e.conds.match(req) {
			continue
		}
		if len(e.methods) == 0 {
			return e, false
		}
		for _, m := range e.methods {
			if m == method {
				return e, false
			}
		}
		methodMiss = true
	}
	return nil, methodMiss
}

func unescape(s string) string {
	if !strings.ContainsRune(s, '%') {
		return s
	}
	if u, err := url.PathUnescape(s); err == nil {
		return u
	}
	return s
}

// maxParams bounds the path parameters one template may hold.
const maxParams = 16

// walker is one trie walk; it lives on the caller's stack.
type walker struct {
	method, host string
	req          RequestAttrs
	vals         [maxParams]string
	n            int
	best         *entry
	bestRest     string
	pathMatched  bool
}

// walk matches rest below n, literal segments before parameters,
// backtracking when a branch does not end on a template. It records the
// deepest prefix route seen on the way.
func (w *walker) walk(n *node, rest string) *entry {
	for len(rest) > 0 && rest[0] == '/' {
		rest = rest[1:]
	}
	if len(n.prefixes) > 0 {
		if e, miss := pick(n.prefixes, w.method, w.host, w.req); e != nil {
			w.best, w.bestRest = e, rest
		} else if miss {
			w.pathMatched = true
		}
	}
	if rest == "" {
		if len(n.entries) > 0 {
			e, miss := pick(n.entries, w.method, w.host, w.req)
			w.pathMatched = w.pathMatched || miss
			return e
		}
		return nil
	}
	seg, next := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		seg, next = rest[:i], rest[i:]
	}
	if c := n.literal[seg]; c != nil {
		if e := w.walk(c, next); e != nil {
			return e
		}
	}
	if n.param != nil && w.n < maxParams {
		w.vals[w.n] = seg
		w.n++
		if e := w.walk(n.param, next); e != nil {
			return e
		}
		w.n--
	}
	return nil
}
