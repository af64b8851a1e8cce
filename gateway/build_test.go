package gateway_test

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

func TestBuildInfoIsAMetricAndInTheConfigView(t *testing.T) {
	yaml := "services: [{name: s, protocol: http, instances: [{address: 127.0.0.1:1}]}]\n"
	cfg, err := mapping.Parse([]byte(yaml), plugins())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	b := gateway.Build{Version: "v1.2.3", Revision: "abc123", GoVersion: "go1.26.8"}
	g, err := gateway.New(cfg, []byte(yaml), gateway.Options{Metrics: reg, Build: b})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, mf := range mfs {
		if mf.GetName() != "rpcbridge_build_info" {
			continue
		}
		labels := map[string]string{}
		for _, l := range mf.Metric[0].Label {
			labels[l.GetName()] = l.GetValue()
		}
		found = labels["version"] == "v1.2.3" && labels["revision"] == "abc123" && labels["goversion"] == "go1.26.8"
		if !found {
			t.Errorf("rpcbridge_build_info labels: got %v, want version v1.2.3, revision abc123, goversion go1.26.8", labels)
		}
	}
	if !found {
		t.Fatal("rpcbridge_build_info: got no such metric")
	}
	adm := httptest.NewServer(g.AdminHandler(gateway.AdminOptions{}))
	defer adm.Close()
	body := scrape(t, adm.URL+"/admin/config")
	if !strings.Contains(body, `"build":{"version":"v1.2.3","revision":"abc123","go_version":"go1.26.8"}`) {
		t.Errorf("/admin/config: got %s, want the build", body)
	}
}
