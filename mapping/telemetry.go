package mapping

import "time"

// Telemetry is the top-level telemetry: block.
type Telemetry struct {
	// ServiceName is the service.name of the gateway's spans. Default
	// rpcbridge (OTEL_SERVICE_NAME wins when set).
	ServiceName string       `yaml:"service_name"`
	Traces      *TraceExport `yaml:"traces"`
}

// TraceExport sends spans to an OpenTelemetry collector.
type TraceExport struct {
	OTLP *OTLP `yaml:"otlp"`
	// SampleRatio is the share of new traces sampled (parent-based: a
	// sampled caller is always followed). Default 1.
	SampleRatio *float64 `yaml:"sample_ratio"`
}

// OTLP is an OTLP exporter's endpoint.
type OTLP struct {
	Endpoint string `yaml:"endpoint"`
	// Protocol: grpc (default) | http.
	Protocol string            `yaml:"protocol"`
	Insecure bool              `yaml:"insecure"`
	Headers  map[string]string `yaml:"headers"`
	// Timeout of one export. Default 10s.
	Timeout time.Duration `yaml:"timeout"`
}
