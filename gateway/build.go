package gateway

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Build describes the running binary: shown by /admin/config and exported
// as the rpcbridge_build_info metric.
type Build struct {
	Version   string `json:"version"`
	Revision  string `json:"revision,omitempty"`
	Time      string `json:"time,omitempty"`
	Modified  bool   `json:"modified,omitempty"`
	GoVersion string `json:"go_version"`
}

func registerBuildInfo(reg *prometheus.Registry, b Build) error {
	g := prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "rpcbridge_build_info", Help: "The running binary: version, VCS revision and Go version (value 1).",
	}, []string{"version", "revision", "goversion"})
	g.WithLabelValues(b.Version, b.Revision, b.GoVersion).Set(1)
	return reg.Register(g)
}
