package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
)

// metricNameRE finds the metric names a PromQL expression uses.
var metricNameRE = regexp.MustCompile(`\b((?:rpcbridge|go|process)_[a-z0-9_]+)\b`)

// Every metric the shipped dashboard and alerts use is one a running
// gateway exports, so neither can rot.
func TestTheDashboardAndAlertsUseOnlyExportedMetrics(t *testing.T) {
	used := map[string][]string{}
	for _, f := range []string{"../../deploy/grafana/rpcbridge.json", "../../deploy/prometheus/alerts.yml"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range metricNameRE.FindAllString(string(b), -1) {
			used[m] = append(used[m], f)
		}
	}
	if len(used) < 10 {
		t.Fatalf("found %d metric names in the dashboard and alerts, want the dozen they use: %v", len(used), used)
	}

	zk := zktest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{}`)
	}))
	defer backend.Close()
	e := newZKEnv(t, `
server: {access_log: {path: "{{log}}"}}
registries:
  - name: zk
    zookeeper: {servers: ["{{zk}}"], root: /rb}
services:
  - name: web
    protocol: http
    discovery: {registry: zk}
    instances: [{address: "{{backend}}"}]
`, map[string]string{"zk": zk.Addr(), "backend": strings.TrimPrefix(backend.URL, "http://"), "log": filepath.Join(t.TempDir(), "access.jsonl")})
	if resp, err := http.Post(e.url+"/web/M", "application/json", strings.NewReader(`{}`)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("a call through the gateway: %v %v", resp, err)
	}
	families := map[string]bool{}
	waitFor(t, "the registry session in /metrics", 10*time.Second, func() bool {
		resp, err := http.Get(e.adm + "/metrics")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		text, err := io.ReadAll(resp.Body)
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(text), "\n") {
			if f, ok := strings.CutPrefix(line, "# TYPE "); ok {
				name, _, _ := strings.Cut(f, " ")
				families[name] = true
			}
		}
		return strings.Contains(string(text), `rpcbridge_registry_connected{registry="zk"} 1`)
	})
	var missing []string
	for name, files := range used {
		base := name
		for _, suffix := range []string{"_bucket", "_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok && families[b] {
				base = b
			}
		}
		if !families[base] {
			missing = append(missing, fmt.Sprintf("%s (in %s)", name, strings.Join(files, ", ")))
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("used but not exported by a running gateway:\n  %s", strings.Join(missing, "\n  "))
	}
}
