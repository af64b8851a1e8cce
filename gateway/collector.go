package gateway

import (
	"sort"

	"github.com/prometheus/client_golang/prometheus"
)

// stateCollector reads, at each scrape, what the clusters in force hold:
// their instances by state, requests in flight, calls per instance,
// ejections and schema fetches. Built from the live state, its series
// leave with the instance or service they describe.
type stateCollector struct {
	g                                                      *Gateway
	instances, inflight, backendCalls, ejections, schemaFx *prometheus.Desc
	registryUp                                             *prometheus.Desc
}

// instanceStates are the states rpcbridge_instances reports, each always
// present for a service.
var instanceStates = []string{"healthy", "ejected", "unhealthy", "offline", "unreachable"}

func newStateCollector(g *Gateway) *stateCollector {
	return &stateCollector{g: g,
		instances:    prometheus.NewDesc("rpcbridge_instances", "A service's instances by state (healthy, ejected, unhealthy, offline, unreachable).", []string{"service", "state"}, nil),
		inflight:     prometheus.NewDesc("rpcbridge_inflight_requests", "Calls in flight to a service.", []string{"service"}, nil),
		backendCalls: prometheus.NewDesc("rpcbridge_backend_requests_total", "Attempts at a backend instance by outcome (ok, error).", []string{"service", "instance", "outcome"}, nil),
		ejections:    prometheus.NewDesc("rpcbridge_ejections_total", "Instances of a service ejected as outliers.", []string{"service"}, nil),
		schemaFx:     prometheus.NewDesc("rpcbridge_schema_refreshes_total", "Schema fetches of a service by outcome (ok, error).", []string{"service", "outcome"}, nil),
		registryUp:   prometheus.NewDesc("rpcbridge_registry_connected", "1 while the gateway's session with a registry is up.", []string{"registry"}, nil),
	}
}

func (sc *stateCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{sc.instances, sc.inflight, sc.backendCalls, sc.ejections, sc.schemaFx, sc.registryUp} {
		ch <- d
	}
}

func (sc *stateCollector) Collect(ch chan<- prometheus.Metric) {
	st := sc.g.state.Load()
	if st == nil {
		return
	}
	names := make([]string, 0, len(st.clusters))
	for name := range st.clusters {
		names = append(names, name)
	}
	sort.Strings(names)
	if cr, ok := sc.g.opts.Discovery.(ConnectionReporter); ok {
		for i := range st.cfg.Registries {
			reg := &st.cfg.Registries[i]
			if up, known := cr.RegistryConnected(reg); known {
				v := 0.0
				if up {
					v = 1
				}
				ch <- prometheus.MustNewConstMetric(sc.registryUp, prometheus.GaugeValue, v, reg.Name)
			}
		}
	}
	for _, name := range names {
		c := st.clusters[name]
		counts := map[string]int{}
		for _, is := range c.instances() {
			counts[is.State]++
		}
		for _, state := range instanceStates {
			ch <- prometheus.MustNewConstMetric(sc.instances, prometheus.GaugeValue, float64(counts[state]), name, state)
		}
		ch <- prometheus.MustNewConstMetric(sc.inflight, prometheus.GaugeValue, float64(c.requests.Load()), name)
		ch <- prometheus.MustNewConstMetric(sc.ejections, prometheus.CounterValue, float64(c.ejectionsTotal.Load()), name)
		ch <- prometheus.MustNewConstMetric(sc.schemaFx, prometheus.CounterValue, float64(c.schemaOK.Load()), name, "ok")
		ch <- prometheus.MustNewConstMetric(sc.schemaFx, prometheus.CounterValue, float64(c.schemaErr.Load()), name, "error")
		s := c.snap.Load()
		for addr, m := range s.byAddr {
			ch <- prometheus.MustNewConstMetric(sc.backendCalls, prometheus.CounterValue, float64(m.calledOK.Load()), name, addr, "ok")
			ch <- prometheus.MustNewConstMetric(sc.backendCalls, prometheus.CounterValue, float64(m.calledErr.Load()), name, addr, "error")
		}
	}
}
