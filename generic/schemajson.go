package generic

import (
	"encoding/json"
	"sort"
)

// schemaJSON is the JSON form of a ServiceSchema: methods refer to named
// message and enum types, which are listed once under "types", so that
// recursive messages have a finite form.
type schemaJSON struct {
	Name    string              `json:"name"`
	Methods []methodJSON        `json:"methods"`
	Types   map[string]typeJSON `json:"types,omitempty"`
}

type methodJSON struct {
	Name            string `json:"name"`
	Input           any    `json:"input,omitempty"`
	Output          any    `json:"output,omitempty"`
	ClientStreaming bool   `json:"client_streaming,omitempty"`
	ServerStreaming bool   `json:"server_streaming,omitempty"`
	Oneway          bool   `json:"oneway,omitempty"`
}

type typeJSON struct {
	Kind   Kind        `json:"kind"`
	Fields []fieldJSON `json:"fields,omitempty"`
	Enum   []EnumValue `json:"enum,omitempty"`
}

type fieldJSON struct {
	Name     string `json:"name"`
	JSONName string `json:"json_name,omitempty"`
	Tag      int32  `json:"tag,omitempty"`
	Type     any    `json:"type"`
	Required bool   `json:"required,omitempty"`
	Out      bool   `json:"out,omitempty"`
	Default  string `json:"default,omitempty"`
}

// MarshalJSON writes the schema with named types listed once. A type is
// written as its kind ("int64"), as the name of a message or enum type, or
// as {"list": T}, {"set": T}, {"map": [K, V]}.
func (s *ServiceSchema) MarshalJSON() ([]byte, error) {
	out := schemaJSON{Name: s.Name, Types: map[string]typeJSON{}}
	var ref func(t *Type) any
	ref = func(t *Type) any {
		if t == nil {
			return nil
		}
		switch t.Kind {
		case KindList, KindSet:
			return map[string]any{string(t.Kind): ref(t.Elem)}
		case KindMap:
			return map[string]any{"map": []any{ref(t.Key), ref(t.Elem)}}
		case KindMessage, KindEnum:
			name := t.Name
			if name == "" {
				// An anonymous message (an argument list) is written inline.
				return map[string]any{"fields": fieldsOf(t, ref)}
			}
			if _, done := out.Types[name]; !done {
				out.Types[name] = typeJSON{Kind: t.Kind} // placeholder stops recursion
				tj := typeJSON{Kind: t.Kind, Enum: t.Enum}
				if t.Kind == KindMessage {
					tj.Fields = fieldsOf(t, ref)
				}
				out.Types[name] = tj
			}
			return name
		}
		return string(t.Kind)
	}
	methods := append([]*MethodSchema(nil), s.Methods...)
	sort.Slice(methods, func(i, j int) bool { return methods[i].Name < methods[j].Name })
	for _, m := range methods {
		out.Methods = append(out.Methods, methodJSON{
			Name: m.Name, Input: ref(m.Input), Output: ref(m.Output),
			ClientStreaming: m.ClientStreaming, ServerStreaming: m.ServerStreaming, Oneway: m.Oneway,
		})
	}
	if len(out.Types) == 0 {
		out.Types = nil
	}
	return json.Marshal(out)
}

func fieldsOf(t *Type, ref func(*Type) any) []fieldJSON {
	fs := make([]fieldJSON, 0, len(t.Fields))
	for _, f := range t.Fields {
		fs = append(fs, fieldJSON{Name: f.Name, JSONName: f.JSONName, Tag: f.Tag, Type: ref(f.Type),
			Required: f.Required, Out: f.Out, Default: f.Default})
	}
	return fs
}
