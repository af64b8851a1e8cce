package mapping

import (
	"math"
	"net"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Telemetry is the top-level telemetry: block. It is read once, when the
// gateway starts: a reload that changes it takes effect at the next start.
//
// Each key set in the YAML wins over the standard OpenTelemetry
// environment variable for it, and the variable over the default:
// service_name over OTEL_SERVICE_NAME; traces.sample_ratio over
// OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG; traces.otlp.protocol,
// endpoint, insecure, headers and timeout over OTEL_EXPORTER_OTLP_TRACES_*
// and OTEL_EXPORTER_OTLP_* (headers per header name). Without a
// telemetry.traces.otlp block, OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or
// OTEL_EXPORTER_OTLP_ENDPOINT turns OTLP export on (unless
// OTEL_TRACES_EXPORTER names no otlp exporter).
type Telemetry struct {
	// ServiceName is the service.name of the gateway's spans. Default
	// OTEL_SERVICE_NAME, else rpcbridge.
	ServiceName string       `yaml:"service_name"`
	Traces      *TraceExport `yaml:"traces"`

	// from names the environment variable a key's value was taken from
	// (by its path, "telemetry.traces.otlp.protocol"), for problems.
	from map[string]string
}

// TraceExport sends spans to an OpenTelemetry collector.
type TraceExport struct {
	OTLP *OTLP `yaml:"otlp"`
	// SampleRatio is the share of new traces sampled (parent-based: a
	// sampled caller is always followed). Default from OTEL_TRACES_SAMPLER
	// (always_on 1, always_off 0, traceidratio OTEL_TRACES_SAMPLER_ARG, and
	// their parentbased_ forms), else 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
	// QueueSize is the spans waiting for export; spans ending while it is
	// full are dropped and counted, never holding a request. Default 2048.
	QueueSize int `yaml:"queue_size"`
}

// OTLP is an OTLP exporter's endpoint.
type OTLP struct {
	// Endpoint is host:port for grpc; a URL (used as is; without a path,
	// /v1/traces) or host:port for http. Default: the exporter reads
	// OTEL_EXPORTER_OTLP_TRACES_ENDPOINT or OTEL_EXPORTER_OTLP_ENDPOINT
	// when set, else localhost:4317 (grpc) or localhost:4318 (http).
	Endpoint string `yaml:"endpoint"`
	// Protocol: grpc | http (protobuf over HTTP). Default from
	// OTEL_EXPORTER_OTLP_TRACES_PROTOCOL or OTEL_EXPORTER_OTLP_PROTOCOL
	// (grpc, http/protobuf), else grpc.
	Protocol string `yaml:"protocol"`
	// Insecure sends spans in plaintext rather than over TLS. Default from
	// OTEL_EXPORTER_OTLP_TRACES_INSECURE or OTEL_EXPORTER_OTLP_INSECURE,
	// else false. A URL endpoint's scheme decides instead.
	Insecure *bool `yaml:"insecure"`
	// Headers are sent with every export, over those of
	// OTEL_EXPORTER_OTLP_TRACES_HEADERS and OTEL_EXPORTER_OTLP_HEADERS (a
	// header named in both takes the YAML value). Keep credentials in the
	// environment: the control plane shows the YAML.
	Headers map[string]string `yaml:"headers"`
	// Timeout of one export, retries included. Default: the exporter reads
	// OTEL_EXPORTER_OTLP_TRACES_TIMEOUT or OTEL_EXPORTER_OTLP_TIMEOUT when
	// set, else 10s.
	Timeout time.Duration `yaml:"timeout"`
}

// Telemetry defaults.
const (
	DefaultTelemetryServiceName = "rpcbridge"
	DefaultTraceQueueSize       = 2048
	DefaultOTLPTimeout          = 10 * time.Second
	// MaxTraceQueueSize bounds queue_size (a span waiting is a few KB).
	MaxTraceQueueSize = 1 << 20
)

// From names the environment variable the value of key (a path such as
// "telemetry.traces.otlp.protocol") was taken from; "" when it came from
// the YAML or a default.
func (t *Telemetry) From(key string) string {
	if t == nil {
		return ""
	}
	return t.from[key]
}

// firstEnv returns the first of the variables that is set and not empty,
// and its name.
func firstEnv(names ...string) (string, string) {
	for _, n := range names {
		if v := strings.TrimSpace(os.Getenv(n)); v != "" {
			return v, n
		}
	}
	return "", ""
}

// envOTLPEndpoint reports whether the environment names an OTLP traces
// endpoint, which the exporter then reads itself.
func envOTLPEndpoint() bool {
	v, _ := firstEnv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_ENDPOINT")
	return v != ""
}

func (c *Config) applyTelemetryDefaults() {
	t := c.Telemetry
	if (t == nil || t.Traces == nil || t.Traces.OTLP == nil) && envOTLPEndpoint() {
		if ex, _ := firstEnv("OTEL_TRACES_EXPORTER"); ex == "" || strings.Contains(ex, "otlp") {
			if t == nil {
				t = &Telemetry{}
				c.Telemetry = t
			}
			if t.Traces == nil {
				t.Traces = &TraceExport{}
			}
			t.Traces.OTLP = &OTLP{}
		}
	}
	if t == nil {
		return
	}
	if t.from == nil {
		t.from = map[string]string{}
	}
	if t.ServiceName == "" {
		if v, name := firstEnv("OTEL_SERVICE_NAME"); v != "" {
			t.ServiceName, t.from["telemetry.service_name"] = v, name
		} else {
			t.ServiceName = DefaultTelemetryServiceName
		}
	}
	tr := t.Traces
	if tr == nil {
		return
	}
	if tr.QueueSize == 0 {
		tr.QueueSize = DefaultTraceQueueSize
	}
	if tr.SampleRatio == nil {
		r, from := envSampleRatio()
		tr.SampleRatio = &r
		if from != "" {
			t.from["telemetry.traces.sample_ratio"] = from
		}
	}
	o := tr.OTLP
	if o == nil {
		return
	}
	if o.Protocol == "" {
		v, name := firstEnv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "OTEL_EXPORTER_OTLP_PROTOCOL")
		switch v {
		case "":
			o.Protocol = "grpc"
		case "http/protobuf":
			o.Protocol = "http"
		default:
			// grpc, or a value validate refuses naming the variable.
			o.Protocol = v
		}
		if name != "" {
			t.from["telemetry.traces.otlp.protocol"] = name
		}
	}
	if o.Endpoint == "" && !envOTLPEndpoint() {
		o.Endpoint = "localhost:4317"
		if o.Protocol == "http" {
			o.Endpoint = "localhost:4318"
		}
	}
	if o.Insecure == nil {
		v, name := firstEnv("OTEL_EXPORTER_OTLP_TRACES_INSECURE", "OTEL_EXPORTER_OTLP_INSECURE")
		if b, err := strconv.ParseBool(v); err == nil && name != "" {
			o.Insecure = &b
			t.from["telemetry.traces.otlp.insecure"] = name
		}
	}
	if o.Timeout == 0 {
		if v, _ := firstEnv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "OTEL_EXPORTER_OTLP_TIMEOUT"); v == "" {
			o.Timeout = DefaultOTLPTimeout
		}
	}
}

// envSampleRatio reads OTEL_TRACES_SAMPLER and OTEL_TRACES_SAMPLER_ARG
// into a ratio; from names the variable it came from, "" for the default
// 1. A value it cannot read gives NaN, which validate reports.
func envSampleRatio() (ratio float64, from string) {
	s, name := firstEnv("OTEL_TRACES_SAMPLER")
	switch strings.ToLower(s) {
	case "":
		return 1, ""
	case "always_on", "parentbased_always_on":
		return 1, name
	case "always_off", "parentbased_always_off":
		return 0, name
	case "traceidratio", "parentbased_traceidratio":
		arg, argName := firstEnv("OTEL_TRACES_SAMPLER_ARG")
		if arg == "" {
			return 1, name
		}
		r, err := strconv.ParseFloat(arg, 64)
		if err != nil {
			return math.NaN(), argName
		}
		return r, argName
	}
	return math.NaN(), name
}

func (c *Config) validateTelemetry(add func(string, ...any)) {
	t := c.Telemetry
	if t == nil {
		return
	}
	key := func(k string) string {
		if from := t.from[k]; from != "" {
			return k + " (from " + from + ")"
		}
		return k
	}
	tr := t.Traces
	if tr == nil {
		return
	}
	if r := tr.SampleRatio; r != nil && (math.IsNaN(*r) || *r < 0 || *r > 1) {
		k := "telemetry.traces.sample_ratio"
		switch from := t.from[k]; {
		case from == "OTEL_TRACES_SAMPLER":
			add("%s: want always_on, always_off, traceidratio or their parentbased_ forms, got %q", key(k), os.Getenv(from))
		case from != "":
			add("%s: want a number from 0 to 1, got %q", key(k), os.Getenv(from))
		default:
			add("%s: want a number from 0 to 1, got %v", k, *r)
		}
	}
	if tr.QueueSize < 0 || tr.QueueSize > MaxTraceQueueSize {
		add("telemetry.traces.queue_size: want 1 to %d, got %d", MaxTraceQueueSize, tr.QueueSize)
	}
	o := tr.OTLP
	if o == nil {
		return
	}
	protocolOK := o.Protocol == "grpc" || o.Protocol == "http"
	if !protocolOK {
		k := "telemetry.traces.otlp.protocol"
		if t.from[k] != "" {
			add("%s: want grpc or http/protobuf, got %q", key(k), o.Protocol)
		} else {
			add("%s: want grpc or http, got %q", k, o.Protocol)
		}
	}
	if o.Endpoint != "" && protocolOK {
		if problem := checkOTLPEndpoint(o.Protocol, o.Endpoint); problem != "" {
			add("telemetry.traces.otlp.endpoint: %s, got %q", problem, o.Endpoint)
		} else if u, err := url.Parse(o.Endpoint); err == nil && u.Scheme == "https" && o.Insecure != nil && *o.Insecure {
			add("%s: true, but the endpoint's scheme is https", key("telemetry.traces.otlp.insecure"))
		}
	}
	for _, name := range sortedKeys(o.Headers) {
		if !headerName(name) {
			add("telemetry.traces.otlp.headers: %q is not a header name", name)
		} else if strings.ContainsAny(o.Headers[name], "\r\n\x00") {
			add("telemetry.traces.otlp.headers.%s: the value holds a line break or NUL", name)
		}
	}
	if o.Timeout < 0 {
		add("telemetry.traces.otlp.timeout: must be positive, got %s", o.Timeout)
	}
}

// checkOTLPEndpoint returns what is wrong with endpoint for protocol, or "".
func checkOTLPEndpoint(protocol, endpoint string) string {
	if protocol == "http" && strings.Contains(endpoint, "://") {
		u, err := url.Parse(endpoint)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return "want an http or https URL (https://collector:4318/v1/traces) or host:port"
		}
		if u.Port() != "" && !validPort(u.Port()) {
			return "want an http or https URL (https://collector:4318/v1/traces) or host:port"
		}
		return ""
	}
	host, port, err := net.SplitHostPort(endpoint)
	if err == nil && host != "" && validPort(port) {
		return ""
	}
	if protocol == "grpc" {
		if strings.Contains(endpoint, "://") {
			return "want host:port for protocol grpc (no scheme; insecure: true for plaintext)"
		}
		return "want host:port for protocol grpc"
	}
	return "want an http or https URL (https://collector:4318/v1/traces) or host:port"
}

func validPort(p string) bool {
	n, err := strconv.Atoi(p)
	return err == nil && n > 0 && n < 65536
}

// headerName reports whether s is an HTTP header field name (a token).
func headerName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0:
		default:
			return false
		}
	}
	return true
}
