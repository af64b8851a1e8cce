package mapping

import (
	"fmt"
	"net/textproto"
	"reflect"
	"regexp"
	"sort"
	"strings"

	"gopkg.in/yaml.v3"
)

// Cond is one condition on a header, query parameter or cookie: a plain
// string is an exact value; or {exact}, {prefix}, {regex} (RE2) or
// {present: true|false}.
type Cond struct {
	Exact   *string `yaml:"exact" json:"exact,omitempty"`
	Prefix  string  `yaml:"prefix" json:"prefix,omitempty"`
	Regex   string  `yaml:"regex" json:"regex,omitempty"`
	Present *bool   `yaml:"present" json:"present,omitempty"`

	re *regexp.Regexp
}

// UnmarshalYAML takes a string (exact) or a mapping.
func (c *Cond) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		v := n.Value
		*c = Cond{Exact: &v}
		return nil
	}
	type plain Cond
	var p plain
	if err := n.Decode(&p); err != nil {
		return err
	}
	*c = Cond(p)
	return nil
}

// checkYAML takes part in the strict check.
func (c *Cond) checkYAML(s *strictChecker, n *yaml.Node, where string) {
	switch n.Kind {
	case yaml.ScalarNode:
	case yaml.MappingNode:
		type plain Cond
		s.check(n, reflect.TypeOf(plain{}), where)
	default:
		s.add(n, where, "want a value, or {exact | prefix | regex | present}, got %s", kindName(n))
	}
}

func (c *Cond) kinds() int {
	n := 0
	if c.Exact != nil {
		n++
	}
	if c.Prefix != "" {
		n++
	}
	if c.Regex != "" {
		n++
	}
	if c.Present != nil {
		n++
	}
	return n
}

// matches reports whether a value (present or not) meets the condition.
func (c *Cond) matches(v string, present bool) bool {
	switch {
	case c.Present != nil:
		return present == *c.Present
	case !present:
		return false
	case c.Exact != nil:
		return v == *c.Exact
	case c.Prefix != "":
		return strings.HasPrefix(v, c.Prefix)
	case c.re != nil:
		return c.re.MatchString(v)
	}
	return false
}

func (c *Cond) String() string {
	switch {
	case c.Present != nil:
		return fmt.Sprintf("present=%v", *c.Present)
	case c.Exact != nil:
		return fmt.Sprintf("=%q", *c.Exact)
	case c.Prefix != "":
		return fmt.Sprintf("prefix %q", c.Prefix)
	}
	return fmt.Sprintf("regex %q", c.Regex)
}

// RequestAttrs gives route conditions the request's headers (by canonical
// name), query parameters and cookies.
type RequestAttrs interface {
	Header(canonical string) (string, bool)
	Query(name string) (string, bool)
	Cookie(name string) (string, bool)
}

// condCheck is one compiled condition of a route.
type condCheck struct {
	kind byte // 'h' header, 'q' query, 'c' cookie
	name string
	c    *Cond
}

// conditions are a route's compiled conditions, sorted by kind and name.
type conditions []condCheck

// compileConditions checks and compiles m's conditions; problems name the
// key under where.
func compileConditions(m *Match, where string, add func(string, ...any)) conditions {
	var out conditions
	for _, set := range []struct {
		kind byte
		key  string
		m    map[string]*Cond
	}{{'h', "headers", m.Headers}, {'q', "query", m.Query}, {'c', "cookies", m.Cookies}} {
		for name, c := range set.m {
			key := fmt.Sprintf("%s: match.%s.%s", where, set.key, name)
			if c == nil {
				add("%s: want a value or a condition", key)
				continue
			}
			if c.kinds() != 1 {
				add("%s: give one of exact, prefix, regex and present", key)
				continue
			}
			if c.Regex != "" && c.re == nil {
				re, err := regexp.Compile(c.Regex)
				if err != nil {
					add("%s: regex: %v (RE2 syntax: no look-arounds or back-references)", key, err)
					continue
				}
				c.re = re
			}
			if set.kind == 'h' {
				if !headerNameRE.MatchString(name) {
					add("%s: %q is not a header name", key, name)
					continue
				}
				name = textproto.CanonicalMIMEHeaderKey(name)
			}
			out = append(out, condCheck{kind: set.kind, name: name, c: c})
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].kind != out[j].kind {
			return out[i].kind < out[j].kind
		}
		return out[i].name < out[j].name
	})
	return out
}

// match reports whether req meets every condition; a nil req meets none.
func (cs conditions) match(req RequestAttrs) bool {
	if len(cs) == 0 {
		return true
	}
	if req == nil {
		return false
	}
	for _, c := range cs {
		var v string
		var ok bool
		switch c.kind {
		case 'h':
			v, ok = req.Header(c.name)
		case 'q':
			v, ok = req.Query(c.name)
		default:
			v, ok = req.Cookie(c.name)
		}
		if !c.c.matches(v, ok) {
			return false
		}
	}
	return true
}

// key is the conditions' canonical text: two routes with the same key
// match the same requests.
func (cs conditions) key() string {
	var b strings.Builder
	for _, c := range cs {
		fmt.Fprintf(&b, "%c:%s%s;", c.kind, c.name, c.c)
	}
	return b.String()
}
