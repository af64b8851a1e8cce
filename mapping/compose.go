package mapping

import (
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	composeNameRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)
	paramNameRE   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_.-]*$`)
)

// Compose makes one route fan out to several calls, across services and
// protocols, and answer with one reply built from theirs.
type Compose struct {
	Calls map[string]*ComposeCall `yaml:"calls" json:"calls"`
	// Reply is a JSON template filled from the replies; default an object
	// keyed by call name.
	Reply yaml.Node `yaml:"reply" json:"-"`
	// Timeout bounds the whole fan-out. Default: the route's timeout.
	Timeout time.Duration `yaml:"timeout" json:"timeout,omitempty"`

	plan *ComposePlan
}

// ComposeCall is one call of a composed route.
type ComposeCall struct {
	Service string `yaml:"service" json:"service"`
	Method  string `yaml:"method" json:"method"`
	// Args is the request: an object whose values are literals, "{param}"
	// (a path or query parameter) or "${call.path}" (a value of an earlier
	// reply, typed as it came).
	Args yaml.Node `yaml:"args" json:"-"`
	// Optional: a failure gives null (and an entry in _errors) instead of
	// failing the route.
	Optional bool `yaml:"optional" json:"optional,omitempty"`
}

// ComposePlan is a composed route compiled at load: the calls in an order
// where each comes after what it references, their argument templates and
// the reply template.
type ComposePlan struct {
	Calls []*PlannedCall
	Reply *Template
	// DefaultReply: no reply template; the reply is an object keyed by
	// call name.
	DefaultReply bool
}

// PlannedCall is one call of a plan.
type PlannedCall struct {
	Name     string
	Service  string
	Method   string
	Optional bool
	Args     *Template
	// Deps are the indexes (in Plan.Calls) of the calls Args references.
	Deps []int
}

// Plan returns the compiled plan (after validation).
func (c *Compose) Plan() *ComposePlan { return c.plan }

// Template is a JSON value with holes: literals, parameters and
// references, compiled once.
type Template struct {
	Kind TemplateKind
	// Raw is a literal's JSON.
	Raw []byte
	// Param names a path or query parameter (KindParam).
	Param string
	// Call and Path name a reference (KindRef): the call's index in the
	// plan and the path of fields and indexes into its reply.
	Call int
	Path []PathStep
	// Keys and Items are an object's (sorted keys) and an array's members.
	Keys  []string
	Items []*Template
}

// TemplateKind says what a Template node is.
type TemplateKind int

// Template kinds.
const (
	KindLiteral TemplateKind = iota
	KindParam
	KindRef
	KindObject
	KindArray
)

// PathStep is one step of a reference path: a field name, or an index.
type PathStep struct {
	Field string
	Index int // when Field is ""
}

// compileCompose checks a composed route and compiles its plan.
func (c *Config) compileCompose(r *Route, where string, params map[string]bool, add func(string, ...any)) {
	cp := r.Compose
	if r.Service != "" || r.Method != "" {
		add("%s: a compose route takes no service or method (each call names its own)", where)
	}
	if len(cp.Calls) == 0 {
		add("%s: compose.calls lists no call", where)
		return
	}
	if cp.Timeout < 0 {
		add("%s: compose.timeout must not be negative, got %s", where, cp.Timeout)
	}
	names := make([]string, 0, len(cp.Calls))
	for name := range cp.Calls {
		names = append(names, name)
	}
	sort.Strings(names)
	index := map[string]int{}
	for i, n := range names {
		index[n] = i
	}
	plan := &ComposePlan{}
	ok := true
	calls := make([]*PlannedCall, len(names))
	for i, name := range names {
		cc := cp.Calls[name]
		cw := fmt.Sprintf("%s: compose.calls.%s", where, name)
		if cc == nil {
			add("%s: want {service, method, args}", cw)
			ok = false
			continue
		}
		if !composeNameRE.MatchString(name) {
			add("%s: a call name is letters, digits and _", cw)
		}
		switch {
		case cc.Service == "":
			add("%s: service is required", cw)
		case c.Service(cc.Service) == nil:
			add("%s: service %q is not defined", cw, cc.Service)
		}
		if cc.Method == "" {
			add("%s: method is required", cw)
		}
		pc := &PlannedCall{Name: name, Service: cc.Service, Method: cc.Method, Optional: cc.Optional}
		deps := map[int]bool{}
		if cc.Args.Kind == 0 {
			pc.Args = &Template{Kind: KindLiteral, Raw: []byte("{}")}
		} else if cc.Args.Kind != yaml.MappingNode {
			add("%s.args: want a mapping (the request's fields or arguments)", cw)
			ok = false
		} else {
			t, err := compileTemplate(&cc.Args, index, params, deps)
			if err != nil {
				add("%s.args: %v", cw, err)
				ok = false
			}
			pc.Args = t
		}
		if deps[i] {
			add("%s: references its own reply", cw)
			ok = false
		}
		for d := range deps {
			pc.Deps = append(pc.Deps, d)
		}
		sort.Ints(pc.Deps)
		calls[i] = pc
	}
	if cp.Reply.Kind == 0 {
		plan.DefaultReply = true
	} else {
		t, err := compileTemplate(&cp.Reply, index, params, map[int]bool{})
		if err != nil {
			add("%s: compose.reply: %v", where, err)
			ok = false
		}
		plan.Reply = t
	}
	if !ok {
		return
	}
	if cycle := findCycle(calls); cycle != nil {
		add("%s: compose.calls: %s reference each other in a cycle", where, strings.Join(cycle, " -> "))
		return
	}
	plan.Calls = calls
	cp.plan = plan
}

// findCycle returns the names along a reference cycle, or nil.
func findCycle(calls []*PlannedCall) []string {
	state := make([]int, len(calls)) // 0 new, 1 on the path, 2 done
	var path []int
	var visit func(i int) []string
	visit = func(i int) []string {
		state[i] = 1
		path = append(path, i)
		for _, d := range calls[i].Deps {
			switch state[d] {
			case 1:
				var out []string
				for j := len(path) - 1; j >= 0; j-- {
					out = append([]string{calls[path[j]].Name}, out...)
					if path[j] == d {
						break
					}
				}
				return append(out, calls[d].Name)
			case 0:
				if c := visit(d); c != nil {
					return c
				}
			}
		}
		path = path[:len(path)-1]
		state[i] = 2
		return nil
	}
	for i := range calls {
		if state[i] == 0 {
			if c := visit(i); c != nil {
				return c
			}
		}
	}
	return nil
}

// compileTemplate compiles a YAML value: "${call.path}" is a reference,
// "{name}" a parameter, anything else a literal.
func compileTemplate(n *yaml.Node, calls map[string]int, params map[string]bool, deps map[int]bool) (*Template, error) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	switch n.Kind {
	case yaml.MappingNode:
		t := &Template{Kind: KindObject}
		byKey := map[string]*Template{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i].Value
			v, err := compileTemplate(n.Content[i+1], calls, params, deps)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", k, err)
			}
			byKey[k] = v
			t.Keys = append(t.Keys, k)
		}
		sort.Strings(t.Keys)
		for _, k := range t.Keys {
			t.Items = append(t.Items, byKey[k])
		}
		return t, nil
	case yaml.SequenceNode:
		t := &Template{Kind: KindArray}
		for i, c := range n.Content {
			v, err := compileTemplate(c, calls, params, deps)
			if err != nil {
				return nil, fmt.Errorf("[%d]: %w", i, err)
			}
			t.Items = append(t.Items, v)
		}
		return t, nil
	case yaml.ScalarNode:
		if n.ShortTag() == "!!str" {
			v := n.Value
			if ref, ok := strings.CutPrefix(v, "${"); ok && strings.HasSuffix(ref, "}") {
				return compileRef(ref[:len(ref)-1], calls, deps)
			}
			if name, ok := strings.CutPrefix(v, "{"); ok && strings.HasSuffix(name, "}") && paramNameRE.MatchString(name[:len(name)-1]) {
				return &Template{Kind: KindParam, Param: name[:len(name)-1]}, nil
			}
		}
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, err
		}
		if n.ShortTag() == "!!int" {
			// Integers keep their digits: no float64 on the way.
			return &Template{Kind: KindLiteral, Raw: []byte(n.Value)}, nil
		}
		b, err := json.Marshal(v)
		if err != nil {
			return nil, err
		}
		return &Template{Kind: KindLiteral, Raw: b}, nil
	}
	return &Template{Kind: KindLiteral, Raw: []byte("null")}, nil
}

// compileRef compiles "call.field.0.field".
func compileRef(ref string, calls map[string]int, deps map[int]bool) (*Template, error) {
	parts := strings.Split(ref, ".")
	i, ok := calls[parts[0]]
	if !ok {
		return nil, fmt.Errorf("${%s}: no call named %q", ref, parts[0])
	}
	deps[i] = true
	t := &Template{Kind: KindRef, Call: i}
	for _, p := range parts[1:] {
		if p == "" {
			return nil, fmt.Errorf("${%s}: an empty step", ref)
		}
		if n, err := strconv.Atoi(p); err == nil && n >= 0 {
			t.Path = append(t.Path, PathStep{Index: n})
			continue
		}
		t.Path = append(t.Path, PathStep{Field: p})
	}
	return t, nil
}

// routeParams are the path parameters of a route's template.
func routeParams(r *Route) map[string]bool {
	out := map[string]bool{}
	if r.Match.Path == "" {
		return out
	}
	segs, err := parseTemplate(r.Match.Path)
	if err != nil {
		return out
	}
	for _, s := range segs {
		if s.param != "" {
			out[s.param] = true
		}
	}
	return out
}
