package dubbo

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// parseDubboYAML parses one service of protocol proto whose dubbo: section
// has the engine line given (none when engine is "").
func parseDubboYAML(proto, engine string) (*mapping.Config, error) {
	line := ""
	if engine != "" {
		line = fmt.Sprintf("\n      engine: %q", engine)
	}
	y := fmt.Sprintf(`
services:
  - name: users
    protocol: %s
    dubbo:
      interface: org.rpcbridge.demo.UserService%s
    instances: [{address: 127.0.0.1:20880}]
`, proto, line)
	return mapping.Parse([]byte(y), mapping.Plugins{"dubbo": Plugin{}, "triple": Plugin{}})
}

// TestPluginEngine: dubbo.engine picks the client the adapter builds, is
// part of the adapter's key, and a value that names no engine (or the
// direct engine under triple) is a configuration problem naming the key.
func TestPluginEngine(t *testing.T) {
	keys := map[string]string{}
	for _, tc := range []struct {
		engine string
		direct bool
	}{{"", true}, {EngineDirect, true}, {EngineDubboGo, false}} {
		c, err := parseDubboYAML("dubbo", tc.engine)
		if err != nil {
			t.Fatalf("engine %q: %v", tc.engine, err)
		}
		s := c.Service("users")
		gp, err := s.Build(mapping.ProtocolEnv{})
		if err != nil {
			t.Fatalf("engine %q: build: %v", tc.engine, err)
		}
		if p := gp.(*Protocol); p.direct != tc.direct {
			t.Errorf("engine %q: direct client %v, want %v", tc.engine, p.direct, tc.direct)
		}
		keys[tc.engine] = s.Proto.Key(s)
	}
	if keys[EngineDirect] == keys[EngineDubboGo] || keys[""] == keys[EngineDubboGo] {
		t.Errorf("the adapter's key does not change with the engine: %q", keys)
	}

	for _, tc := range []struct{ proto, engine, want string }{
		{"dubbo", "grpc", `dubbo.engine: want direct or dubbo-go, got "grpc"`},
		{"dubbo", "Direct", `dubbo.engine: want direct or dubbo-go, got "Direct"`},
		{"triple", EngineDirect, "dubbo.engine: direct is for protocol dubbo; triple always uses dubbo-go"},
	} {
		_, err := parseDubboYAML(tc.proto, tc.engine)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s with engine %q: got %v, want a problem %q", tc.proto, tc.engine, err, tc.want)
		}
	}
	if _, err := parseDubboYAML("triple", EngineDubboGo); err != nil {
		t.Errorf("triple with engine dubbo-go: %v", err)
	}
}
