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

// TestPluginBuildsItsOwnClientForDubbo: protocol dubbo is always the
// package's own client and triple dubbo-go's; the dubbo-go client for
// protocol dubbo cannot be chosen from a config (the engine key is gone).
func TestPluginBuildsItsOwnClientForDubbo(t *testing.T) {
	for _, tc := range []struct {
		proto  string
		direct bool
	}{{"dubbo", true}, {"triple", false}} {
		c, err := parseDubboYAML(tc.proto, "")
		if err != nil {
			t.Fatalf("%s: %v", tc.proto, err)
		}
		gp, err := c.Service("users").Build(mapping.ProtocolEnv{})
		if err != nil {
			t.Fatalf("%s: build: %v", tc.proto, err)
		}
		if p := gp.(*Protocol); p.direct != tc.direct {
			t.Errorf("%s: got direct client %v, want %v", tc.proto, p.direct, tc.direct)
		}
	}
	want := `unknown key "engine"`
	if _, err := parseDubboYAML("dubbo", "dubbo-go"); err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("dubbo.engine: got %v, want a problem %q", err, want)
	}
}
