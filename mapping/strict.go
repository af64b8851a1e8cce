package mapping

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// DecodeStrict decodes node into v (a pointer to a struct) the way the whole
// config is decoded: a key v's type does not have, or a value of the wrong
// kind, is a problem naming its line and its path (where, e.g.
// "services[0].grpc"), all of them reported at once as Problems. A nil node
// leaves v as it is. Protocol plug-ins decode their sections with it.
func DecodeStrict(node *yaml.Node, where string, v any) error {
	if node == nil {
		return nil
	}
	var s strictChecker
	s.check(node, reflect.TypeOf(v).Elem(), where)
	if len(s.problems) > 0 {
		return s.problems
	}
	if err := node.Decode(v); err != nil {
		return yamlProblems(err)
	}
	return nil
}

// yamlProblems turns a yaml.v3 error into Problems, one per line it names.
func yamlProblems(err error) error {
	if te, ok := err.(*yaml.TypeError); ok {
		return Problems(te.Errors)
	}
	return err
}

// strictChecker walks a YAML node beside the Go type it will decode into.
type strictChecker struct {
	problems Problems
	// extra says which keys a struct type takes beyond its fields (the
	// protocol sections of a service); nil: none.
	extra map[reflect.Type]func(key string) bool
}

var (
	durationType  = reflect.TypeOf(time.Duration(0))
	nodeType      = reflect.TypeOf(yaml.Node{})
	unmarshalType = reflect.TypeOf((*yaml.Unmarshaler)(nil)).Elem()
	checkerType   = reflect.TypeOf((*yamlChecker)(nil)).Elem()
)

// yamlChecker is implemented by config types that decode themselves
// (UnmarshalYAML) but take part in the strict check: their problems are
// reported with the others.
type yamlChecker interface {
	checkYAML(s *strictChecker, n *yaml.Node, where string)
}

func (s *strictChecker) add(n *yaml.Node, where, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	if where != "" {
		msg = where + ": " + msg
	}
	s.problems = append(s.problems, fmt.Sprintf("line %d: %s", n.Line, msg))
}

func (s *strictChecker) check(n *yaml.Node, t reflect.Type, where string) {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind == yaml.DocumentNode {
		if len(n.Content) == 0 {
			return
		}
		n = n.Content[0]
	}
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
		return
	}
	if reflect.PointerTo(t).Implements(checkerType) {
		reflect.New(t).Interface().(yamlChecker).checkYAML(s, n, where)
		return
	}
	if t == nodeType || reflect.PointerTo(t).Implements(unmarshalType) || t.Kind() == reflect.Interface {
		return
	}
	switch {
	case t == durationType:
		if n.Kind != yaml.ScalarNode {
			s.add(n, where, "want a duration such as 3s, 500ms or 1m30s, got %s", kindName(n))
		} else if _, err := time.ParseDuration(n.Value); err != nil {
			s.add(n, where, "want a duration with a unit (3s, 500ms, 1m30s), got %s", clipValue(n.Value))
		}
	case t.Kind() == reflect.Struct:
		s.checkStruct(n, t, where)
	case t.Kind() == reflect.Slice || t.Kind() == reflect.Array:
		if n.Kind != yaml.SequenceNode {
			s.add(n, where, "want a list, got %s", kindName(n))
			return
		}
		for i, c := range n.Content {
			s.check(c, t.Elem(), fmt.Sprintf("%s[%d]", where, i))
		}
	case t.Kind() == reflect.Map:
		if n.Kind != yaml.MappingNode {
			s.add(n, where, "want a mapping, got %s", kindName(n))
			return
		}
		for i := 0; i+1 < len(n.Content); i += 2 {
			s.check(n.Content[i+1], t.Elem(), join(where, n.Content[i].Value))
		}
	case t.Kind() == reflect.Bool:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!bool" {
			s.add(n, where, "want true or false, got %s", kindName(n))
		}
	case t.Kind() >= reflect.Int && t.Kind() <= reflect.Uint64:
		if n.Kind != yaml.ScalarNode || n.ShortTag() != "!!int" {
			s.add(n, where, "want a whole number, got %s", kindName(n))
		}
	case t.Kind() == reflect.Float32 || t.Kind() == reflect.Float64:
		if n.Kind != yaml.ScalarNode || (n.ShortTag() != "!!int" && n.ShortTag() != "!!float") {
			s.add(n, where, "want a number, got %s", kindName(n))
		}
	case t.Kind() == reflect.String:
		if n.Kind != yaml.ScalarNode {
			s.add(n, where, "want a string, got %s", kindName(n))
		}
	}
}

func (s *strictChecker) checkStruct(n *yaml.Node, t reflect.Type, where string) {
	if n.Kind != yaml.MappingNode {
		s.add(n, where, "want a mapping, got %s", kindName(n))
		return
	}
	fields := yamlFields(t)
	extra := s.extra[t]
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Value == "<<" { // a merge key: its mapping's keys are this struct's
			s.check(v, t, where)
			continue
		}
		if ft, ok := fields[k.Value]; ok {
			s.check(v, ft, join(where, k.Value))
			continue
		}
		if extra != nil && extra(k.Value) {
			continue
		}
		s.add(k, where, "unknown key %q%s", k.Value, suggest(k.Value, fields))
	}
}

// yamlFields maps a struct's YAML keys to their types (inline structs
// included; fields tagged "-" left out).
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			ft := f.Type
			for ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if ft.Kind() == reflect.Struct {
				for k, v := range yamlFields(ft) {
					out[k] = v
				}
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

// suggest names the known key closest to a mistyped one, when one is close.
func suggest(key string, fields map[string]reflect.Type) string {
	best, bestD := "", 3
	names := make([]string, 0, len(fields))
	for name := range fields {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if d := editDistance(key, name); d < bestD {
			best, bestD = name, d
		}
	}
	if best == "" {
		return "; known keys: " + strings.Join(names, ", ")
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

func join(where, key string) string {
	if where == "" {
		return key
	}
	return where + "." + key
}

func kindName(n *yaml.Node) string {
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	}
	return clipValue(n.Value)
}

// clipValue quotes a scalar for a message, cut to a readable length.
func clipValue(v string) string {
	if len(v) > 40 {
		v = v[:40] + "..."
	}
	return fmt.Sprintf("%q", v)
}
