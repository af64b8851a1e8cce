package mapping_test

import (
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// otelEnv are the environment variables the telemetry defaults read; each
// test starts with all of them empty (unset for the defaults).
var otelEnv = []string{
	"OTEL_SERVICE_NAME", "OTEL_TRACES_SAMPLER", "OTEL_TRACES_SAMPLER_ARG", "OTEL_TRACES_EXPORTER",
	"OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
	"OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
	"OTEL_EXPORTER_OTLP_INSECURE", "OTEL_EXPORTER_OTLP_TRACES_INSECURE",
	"OTEL_EXPORTER_OTLP_TIMEOUT", "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
}

func clearOTelEnv(t *testing.T) {
	for _, k := range otelEnv {
		t.Setenv(k, "")
	}
}

const telemetryService = `
services:
  - name: web
    protocol: http
    instances: [{address: 127.0.0.1:8081}]
`

func TestTelemetryDefaults(t *testing.T) {
	clearOTelEnv(t)
	c := mustParse(t, telemetryService)
	if c.Telemetry != nil {
		t.Fatalf("without a telemetry block or OTLP environment: got %+v, want nil (no export)", c.Telemetry)
	}
	c = mustParse(t, telemetryService+"telemetry:\n  traces:\n    otlp: {}\n")
	tr := c.Telemetry.Traces
	if c.Telemetry.ServiceName != "rpcbridge" || *tr.SampleRatio != 1 || tr.QueueSize != 2048 {
		t.Fatalf("got service %q ratio %v queue %d, want rpcbridge 1 2048", c.Telemetry.ServiceName, *tr.SampleRatio, tr.QueueSize)
	}
	if o := tr.OTLP; o.Protocol != "grpc" || o.Endpoint != "localhost:4317" || o.Insecure != nil || o.Timeout != 10*time.Second {
		t.Fatalf("otlp defaults: got %+v", o)
	}
	c = mustParse(t, telemetryService+"telemetry:\n  traces:\n    otlp: {protocol: http}\n")
	if o := c.Telemetry.Traces.OTLP; o.Endpoint != "localhost:4318" {
		t.Fatalf("http endpoint default: got %q want localhost:4318", o.Endpoint)
	}
}

func TestTelemetryEnvironmentFillsWhatTheYAMLLeavesOut(t *testing.T) {
	clearOTelEnv(t)
	t.Setenv("OTEL_SERVICE_NAME", "edge-gw")
	t.Setenv("OTEL_TRACES_SAMPLER", "parentbased_traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf")
	t.Setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318")
	t.Setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "3000")
	t.Setenv("OTEL_EXPORTER_OTLP_INSECURE", "true")

	// No telemetry block: the endpoint in the environment turns export on.
	c := mustParse(t, telemetryService)
	tel := c.Telemetry
	if tel == nil || tel.Traces == nil || tel.Traces.OTLP == nil {
		t.Fatalf("OTEL_EXPORTER_OTLP_ENDPOINT without a telemetry block: got %+v, want OTLP export on", tel)
	}
	o := tel.Traces.OTLP
	if tel.ServiceName != "edge-gw" || *tel.Traces.SampleRatio != 0.25 || o.Protocol != "http" || !*o.Insecure {
		t.Fatalf("from the environment: got service %q ratio %v protocol %q insecure %v", tel.ServiceName, *tel.Traces.SampleRatio, o.Protocol, *o.Insecure)
	}
	// Endpoint and timeout stay unset: the exporter reads those variables.
	if o.Endpoint != "" || o.Timeout != 0 {
		t.Fatalf("endpoint %q timeout %s: want both left to the exporter's environment", o.Endpoint, o.Timeout)
	}
	if tel.From("telemetry.traces.otlp.protocol") != "OTEL_EXPORTER_OTLP_PROTOCOL" || tel.From("telemetry.service_name") != "OTEL_SERVICE_NAME" {
		t.Fatalf("sources: got %q and %q", tel.From("telemetry.traces.otlp.protocol"), tel.From("telemetry.service_name"))
	}

	// Keys in the YAML win.
	c = mustParse(t, telemetryService+`
telemetry:
  service_name: yaml-gw
  traces:
    sample_ratio: 0.5
    otlp: {endpoint: 127.0.0.1:4317, protocol: grpc, insecure: false, timeout: 2s}
`)
	tel, o = c.Telemetry, c.Telemetry.Traces.OTLP
	if tel.ServiceName != "yaml-gw" || *tel.Traces.SampleRatio != 0.5 || o.Protocol != "grpc" || o.Endpoint != "127.0.0.1:4317" || *o.Insecure || o.Timeout != 2*time.Second {
		t.Fatalf("YAML over environment: got %+v %+v", tel, o)
	}
	if tel.From("telemetry.traces.otlp.protocol") != "" {
		t.Fatalf("a YAML value names no variable, got %q", tel.From("telemetry.traces.otlp.protocol"))
	}

	// The signal-specific variable wins over the general one.
	t.Setenv("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL", "grpc")
	c = mustParse(t, telemetryService)
	if p := c.Telemetry.Traces.OTLP.Protocol; p != "grpc" {
		t.Fatalf("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL over OTEL_EXPORTER_OTLP_PROTOCOL: got %q", p)
	}

	// OTEL_TRACES_EXPORTER=none keeps the environment from turning export on.
	t.Setenv("OTEL_TRACES_EXPORTER", "none")
	c = mustParse(t, telemetryService)
	if c.Telemetry != nil {
		t.Fatalf("OTEL_TRACES_EXPORTER=none: got %+v, want no export", c.Telemetry)
	}
}

func TestTelemetrySamplerFromTheEnvironment(t *testing.T) {
	for _, tc := range []struct {
		sampler, arg string
		want         float64
	}{
		{"always_on", "", 1}, {"parentbased_always_on", "", 1},
		{"always_off", "", 0}, {"parentbased_always_off", "", 0},
		{"traceidratio", "0.1", 0.1}, {"parentbased_traceidratio", "", 1},
	} {
		clearOTelEnv(t)
		t.Setenv("OTEL_TRACES_SAMPLER", tc.sampler)
		t.Setenv("OTEL_TRACES_SAMPLER_ARG", tc.arg)
		c := mustParse(t, telemetryService+"telemetry: {traces: {}}\n")
		if got := *c.Telemetry.Traces.SampleRatio; got != tc.want {
			t.Errorf("OTEL_TRACES_SAMPLER=%s ARG=%q: got ratio %v want %v", tc.sampler, tc.arg, got, tc.want)
		}
	}
}

func TestTelemetryProblemsNameTheKeyAndTheVariable(t *testing.T) {
	clearOTelEnv(t)
	bad := func(y string, want ...string) {
		t.Helper()
		_, err := mapping.Parse([]byte(telemetryService+y), plugins())
		if err == nil {
			t.Fatalf("%s: no problem reported", y)
		}
		for _, w := range want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: problems lack %q:\n%v", y, w, err)
			}
		}
	}
	bad("telemetry: {traces: {otlp: {protocol: x}}}\n", `telemetry.traces.otlp.protocol: want grpc or http, got "x"`)
	bad("telemetry: {traces: {sample_ratio: 1.5}}\n", `telemetry.traces.sample_ratio: want a number from 0 to 1, got 1.5`)
	bad("telemetry: {traces: {sample_ratio: -0.1, queue_size: -1}}\n", `sample_ratio: want a number from 0 to 1, got -0.1`, `telemetry.traces.queue_size: want 1 to 1048576, got -1`)
	bad("telemetry: {traces: {otlp: {endpoint: collector}}}\n", `telemetry.traces.otlp.endpoint: want host:port for protocol grpc, got "collector"`)
	bad("telemetry: {traces: {otlp: {endpoint: \"http://collector:4317\"}}}\n", `want host:port for protocol grpc (no scheme; insecure: true for plaintext), got "http://collector:4317"`)
	bad("telemetry: {traces: {otlp: {endpoint: \"collector:0\"}}}\n", `want host:port for protocol grpc, got "collector:0"`)
	bad("telemetry: {traces: {otlp: {protocol: http, endpoint: \"ftp://collector/v1/traces\"}}}\n", `telemetry.traces.otlp.endpoint: want an http or https URL (https://collector:4318/v1/traces) or host:port, got "ftp://collector/v1/traces"`)
	bad("telemetry: {traces: {otlp: {protocol: http, endpoint: \"https://collector/v1/traces\", insecure: true}}}\n", `telemetry.traces.otlp.insecure: true, but the endpoint's scheme is https`)
	bad("telemetry: {traces: {otlp: {headers: {\"bad name\": x, good: \"a\\nb\"}, timeout: -1s}}}\n",
		`telemetry.traces.otlp.headers: "bad name" is not a header name`, `telemetry.traces.otlp.headers.good: the value holds a line break or NUL`, `telemetry.traces.otlp.timeout: must be positive, got -1s`)

	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "http/json")
	bad("telemetry: {traces: {otlp: {}}}\n", `telemetry.traces.otlp.protocol (from OTEL_EXPORTER_OTLP_PROTOCOL): want grpc or http/protobuf, got "http/json"`)
	t.Setenv("OTEL_EXPORTER_OTLP_PROTOCOL", "")
	t.Setenv("OTEL_TRACES_SAMPLER", "jaeger_remote")
	bad("telemetry: {traces: {}}\n", `telemetry.traces.sample_ratio (from OTEL_TRACES_SAMPLER): want always_on, always_off, traceidratio or their parentbased_ forms, got "jaeger_remote"`)
	t.Setenv("OTEL_TRACES_SAMPLER", "traceidratio")
	t.Setenv("OTEL_TRACES_SAMPLER_ARG", "half")
	bad("telemetry: {traces: {}}\n", `telemetry.traces.sample_ratio (from OTEL_TRACES_SAMPLER_ARG): want a number from 0 to 1, got "half"`)

	// Good endpoints.
	clearOTelEnv(t)
	for _, y := range []string{
		"telemetry: {traces: {otlp: {endpoint: \"[::1]:4317\"}}}\n",
		"telemetry: {traces: {otlp: {protocol: http, endpoint: \"collector:4318\"}}}\n",
		"telemetry: {traces: {otlp: {protocol: http, endpoint: \"https://collector.example.com/v1/traces\", headers: {x-tenant: a}}}}\n",
		"telemetry: {traces: {otlp: {protocol: http, endpoint: \"http://127.0.0.1:4318\", insecure: true}}}\n",
	} {
		if _, err := mapping.Parse([]byte(telemetryService+y), plugins()); err != nil {
			t.Errorf("%s: %v", y, err)
		}
	}
}
