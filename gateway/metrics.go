package gateway

import (
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/generic"
)

// metrics are the gateway's Prometheus collectors.
type metrics struct {
	requests     *prometheus.CounterVec
	duration     *prometheus.HistogramVec
	unmatched    prometheus.Counter
	unregistered prometheus.Counter
	version      *prometheus.GaugeVec
	connOpen     prometheus.Gauge
	connRejected prometheus.Counter
	authLocked   prometheus.Counter
	// authRefused counts refusals by scheme (api_key, jwt, hmac, ip) and
	// reason (a fixed set per scheme).
	authRefused   *prometheus.CounterVec
	backendDur    *prometheus.HistogramVec
	accessDropped prometheus.Counter
	reloads       *prometheus.CounterVec
	// Traffic control.
	circuit  *prometheus.GaugeVec   // service -> 0 closed, 1 open, 2 half-open
	split    *prometheus.CounterVec // service, side
	mirrored *prometheus.CounterVec // target service, outcome (ok, error, dropped)
	fallback *prometheus.CounterVec // service, kind (stale, reply)
	retries  *prometheus.CounterVec // service, outcome (sent, over_budget)
}

// refused counts one refusal.
func (m *metrics) refused(scheme, reason string) {
	m.authRefused.WithLabelValues(scheme, reason).Inc()
}

// unknownMethod is the method label of requests whose method is not known
// to exist (in a schema, the YAML or an SDK report): client-chosen names
// never become label values.
const unknownMethod = "_unknown"

func newMetrics(reg *prometheus.Registry) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_requests_total", Help: "HTTP requests by service, method, protocol and HTTP status code.",
		}, []string{"service", "method", "protocol", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpcbridge_request_duration_seconds", Help: "HTTP request latency by service, method and protocol.",
			Buckets: latencyBuckets,
		}, []string{"service", "method", "protocol"}),
		backendDur: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "rpcbridge_backend_duration_seconds", Help: "Latency of each attempt at a backend, by service and protocol.",
			Buckets: latencyBuckets,
		}, []string{"service", "protocol"}),
		accessDropped: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpcbridge_access_log_dropped_total", Help: "Access-log lines dropped because the writer's queue was full.",
		}),
		reloads: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_config_reloads_total", Help: "Config generations applied (ok) or refused (error).",
		}, []string{"outcome"}),
		unmatched: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpcbridge_unmatched_requests_total", Help: "Requests that matched no route or service (404).",
		}),
		unregistered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpcbridge_unregistered_api_requests_total", Help: "Requests refused by registered-only mode (404).",
		}),
		version: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpcbridge_config_info", Help: "The config version in force (value 1).",
		}, []string{"version"}),
		connOpen: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "rpcbridge_open_connections", Help: "Open data-plane connections.",
		}),
		connRejected: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpcbridge_rejected_connections_total", Help: "Data-plane connections closed at once because server.max_connections were open.",
		}),
		authLocked: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "rpcbridge_auth_lockouts_total", Help: "Requests answered 429 because their client address failed authentication too often.",
		}),
		authRefused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_auth_refusals_total", Help: "Requests refused by an authentication scheme or an IP rule, by scheme and reason.",
		}, []string{"scheme", "reason"}),
		circuit: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "rpcbridge_circuit_state", Help: "A service's circuit breaker: 0 closed, 1 open, 2 half-open.",
		}, []string{"service"}),
		split: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_split_requests_total", Help: "Requests of a split service by side (the tag, or default).",
		}, []string{"service", "side"}),
		mirrored: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_mirror_requests_total", Help: "Mirrored copies by target service and outcome (ok, error, dropped).",
		}, []string{"service", "outcome"}),
		fallback: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_fallback_replies_total", Help: "Failed calls answered by a fallback, by service and kind (stale, reply).",
		}, []string{"service", "kind"}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "rpcbridge_retries_total", Help: "Retries by service and outcome (sent, over_budget).",
		}, []string{"service", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.unmatched, m.unregistered, m.version, m.connOpen, m.connRejected, m.authLocked, m.authRefused,
		m.circuit, m.split, m.mirrored, m.fallback, m.retries, m.backendDur, m.reloads, m.accessDropped} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The Go runtime's and the process's own metrics, once per registry.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			var are prometheus.AlreadyRegisteredError
			if !errors.As(err, &are) {
				return nil, err
			}
		}
	}
	return m, nil
}

// latencyBuckets suit a gateway: 100 µs to 10 s.
var latencyBuckets = []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}

func (m *metrics) configVersion(v string) {
	m.version.Reset()
	m.version.WithLabelValues(v).Set(1)
}

// observe records one finished request in metrics and the access log.
func (g *Gateway) observe(r *http.Request, w *statusWriter, t *target, start time.Time, st *state, rc *reqCtx) {
	elapsed := time.Since(start)
	svc, method, proto := "", "", ""
	if t != nil {
		svc, method, proto = t.svc.Name, unknownMethod, t.svc.Protocol
		if g.knownMethod(r.Context(), st, t) {
			method = t.method
		}
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	g.metrics.requests.WithLabelValues(svc, method, proto, strconv.Itoa(status)).Inc()
	g.metrics.duration.WithLabelValues(svc, method, proto).Observe(elapsed.Seconds())
	if status >= 400 {
		e := errorEntry{Time: start.UTC().Format(time.RFC3339), Status: status, Code: string(w.code),
			Method: generic.Clip(r.Method), Path: generic.Clip(r.URL.Path), Service: svc}
		if t != nil {
			e.API = generic.Clip(t.method)
		}
		g.errors.add(e)
	}
	if a := g.access.Load(); a != nil {
		g.logAccess(a, r, w, t, start, status, rc.clientKey())
	}
}

// finishSpan names the request's span after its service and method and
// sets its attributes (those of serverSpan's request, the status code and
// the route) in one call, then ends it.
func (g *Gateway) finishSpan(span trace.Span, r *http.Request, w *statusWriter, t *target) {
	if !span.IsRecording() {
		return
	}
	status := w.status
	if status == 0 {
		status = http.StatusOK
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	// One SetAttributes call: each may grow the span's attribute slice.
	attrs := make([]attribute.KeyValue, 0, 10)
	if knownMethods[r.Method] {
		attrs = append(attrs, attribute.String("http.request.method", r.Method))
	} else {
		attrs = append(attrs, attribute.String("http.request.method", "_OTHER"),
			attribute.String("http.request.method_original", generic.Clip(r.Method)))
	}
	attrs = append(attrs, attribute.String("url.path", generic.ClipTo(r.URL.Path, maxSpanPath)),
		attribute.String("url.scheme", scheme), attribute.Int("http.response.status_code", status))
	if t != nil {
		if t.cluster != nil {
			span.SetName(t.cluster.spanName(t.method))
		} else {
			span.SetName(t.svc.Name + "/" + generic.Clip(t.method))
		}
		attrs = append(attrs, attribute.String("rpcbridge.service", t.svc.Name), attribute.String("rpcbridge.method", generic.Clip(t.method)),
			attribute.String("rpcbridge.route", t.how))
		if t.route != nil {
			route := t.route.Match.Path
			if route == "" {
				route = t.route.Match.Prefix + "*"
			}
			attrs = append(attrs, attribute.String("http.route", route))
		}
	}
	span.SetAttributes(attrs...)
	if status >= 500 {
		span.SetStatus(codes.Error, http.StatusText(status))
	}
	span.End()
}
