package generic

import (
	"encoding/json"
	"testing"
)

func TestSchemaJSONListsRecursiveTypesOnce(t *testing.T) {
	node := &Type{Kind: KindMessage, Name: "demo.Node"}
	node.Fields = []*Field{
		{Name: "id", Tag: 1, Type: &Type{Kind: KindInt64}},
		{Name: "children", Tag: 2, Type: &Type{Kind: KindList, Elem: node}},
		{Name: "color", Tag: 3, Type: &Type{Kind: KindEnum, Name: "demo.Color", Enum: []EnumValue{{"RED", 0}}}},
		{Name: "tags", Tag: 4, Type: &Type{Kind: KindMap, Key: &Type{Kind: KindString}, Elem: &Type{Kind: KindInt32}}},
	}
	s := &ServiceSchema{Name: "demo.Tree", Methods: []*MethodSchema{
		{Name: "Walk", Input: node, Output: node, ServerStreaming: true},
		{Name: "Add", Input: &Type{Kind: KindMessage, Fields: []*Field{{Name: "n", Type: node}}}},
	}}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"name":"demo.Tree","methods":[{"name":"Add","input":{"fields":[{"name":"n","type":"demo.Node"}]}},` +
		`{"name":"Walk","input":"demo.Node","output":"demo.Node","server_streaming":true}],` +
		`"types":{"demo.Color":{"kind":"enum","enum":[{"name":"RED","number":0}]},` +
		`"demo.Node":{"kind":"message","fields":[{"name":"id","tag":1,"type":"int64"},{"name":"children","tag":2,"type":{"list":"demo.Node"}},` +
		`{"name":"color","tag":3,"type":"demo.Color"},{"name":"tags","tag":4,"type":{"map":["string","int32"]}}]}}}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}
