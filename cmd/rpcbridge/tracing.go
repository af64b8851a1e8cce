package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracegrpc"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/exporters/stdout/stdouttrace"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	semconv "go.opentelemetry.io/otel/semconv/v1.43.0"
	"go.opentelemetry.io/otel/trace"

	"github.com/rpcbridge/rpcbridge/internal/otlpexport"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// tracerShutdownTimeout bounds the flush of the spans still queued when
// the gateway stops.
const tracerShutdownTimeout = 5 * time.Second

// newTracer builds the gateway's tracer provider once, at start: spans go
// to the OTLP collector of the config's telemetry block (tel, nil for
// none) and, with file set (-trace-file), as JSON lines to that file; both
// may be on. It returns a nil provider when neither is, and a function
// that flushes what is queued and closes. reg receives the export's
// metrics (rpcbridge_trace_spans_total, rpcbridge_trace_queue_spans).
func newTracer(tel *mapping.Telemetry, file string, reg prometheus.Registerer, log *slog.Logger) (trace.TracerProvider, func(), error) {
	var otlp *mapping.OTLP
	if tel != nil && tel.Traces != nil {
		otlp = tel.Traces.OTLP
	}
	if otlp == nil && file == "" {
		return nil, func() {}, nil
	}
	name := mapping.DefaultTelemetryServiceName
	if tel != nil && tel.ServiceName != "" {
		name = tel.ServiceName
	}
	own := []attribute.KeyValue{semconv.ServiceName(name), semconv.ServiceVersion(buildInfo().Version)}
	// OTEL_RESOURCE_ATTRIBUTES adds attributes; service.name and
	// service.version are the gateway's.
	res, err := resource.New(context.Background(), resource.WithFromEnv(), resource.WithTelemetrySDK(), resource.WithAttributes(own...))
	if err != nil {
		log.Warn("tracing: resource attributes", "err", err)
		if res == nil {
			res = resource.NewSchemaless(own...)
		}
	}
	opts := []sdktrace.TracerProviderOption{sdktrace.WithResource(res)}
	ratio := 1.0
	if tel != nil && tel.Traces != nil && tel.Traces.SampleRatio != nil {
		ratio = *tel.Traces.SampleRatio
		opts = append(opts, sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(ratio))))
	}
	var closers []func()
	closeAll := func() {
		for _, c := range closers {
			c()
		}
	}
	// fail undoes what was built when a later part cannot be.
	var built []sdktrace.SpanProcessor
	fail := func(err error) (trace.TracerProvider, func(), error) {
		for _, p := range built {
			p.Shutdown(context.Background())
		}
		closeAll()
		return nil, nil, err
	}
	// The file's processor comes first: the provider shuts its
	// processors down in order, and a collector that does not answer
	// must not leave the file unflushed.
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return nil, nil, fmt.Errorf("-trace-file: %w", err)
		}
		exp, err := stdouttrace.New(stdouttrace.WithWriter(f))
		if err != nil {
			f.Close()
			return nil, nil, err
		}
		closers = append(closers, func() { f.Close() })
		bsp := sdktrace.NewBatchSpanProcessor(exp)
		built = append(built, bsp)
		opts = append(opts, sdktrace.WithSpanProcessor(bsp))
	}
	if otlp != nil {
		exp, err := newOTLPExporter(otlp)
		if err != nil {
			return fail(fmt.Errorf("telemetry.traces.otlp: %w", err))
		}
		q, err := newExportQueue(exp, tel.Traces.QueueSize, reg, log)
		if err != nil {
			exp.Shutdown(context.Background())
			return fail(err)
		}
		opts = append(opts, sdktrace.WithSpanProcessor(q))
		endpoint := otlp.Endpoint
		if endpoint == "" {
			endpoint = "(OTEL_EXPORTER_OTLP_*ENDPOINT)"
		}
		log.Info("exporting traces", "protocol", otlp.Protocol, "endpoint", endpoint, "service_name", name,
			"sample_ratio", ratio, "queue_size", tel.Traces.QueueSize)
	}
	tp := sdktrace.NewTracerProvider(opts...)
	return tp, func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracerShutdownTimeout)
		defer cancel()
		if err := tp.Shutdown(ctx); err != nil {
			log.Warn("tracing: spans still queued at exit were not all exported", "err", err)
		}
		// Spans recorded after Shutdown are not exported: close last.
		closeAll()
	}, nil
}

// newOTLPExporter makes the OTLP exporter the block describes: spans are
// converted by otlpexport, with messages reused batch after batch, and
// sent by OpenTelemetry's OTLP client. Keys the block leaves empty are
// left to the client, which reads the standard
// OTEL_EXPORTER_OTLP_TRACES_* and OTEL_EXPORTER_OTLP_* variables for them;
// keys it sets are passed as options, which win over those variables.
func newOTLPExporter(o *mapping.OTLP) (sdktrace.SpanExporter, error) {
	insecure := o.Insecure != nil && *o.Insecure
	var headers map[string]string
	if len(o.Headers) > 0 {
		// The block's headers over the environment's, header by header.
		headers = map[string]string{}
		for _, v := range []string{"OTEL_EXPORTER_OTLP_HEADERS", "OTEL_EXPORTER_OTLP_TRACES_HEADERS"} {
			for k, val := range parseOTLPHeaders(os.Getenv(v)) {
				headers[k] = val
			}
		}
		for k, v := range o.Headers {
			headers[k] = v
		}
	}
	ctx := context.Background()
	if o.Protocol == "http" {
		var opts []otlptracehttp.Option
		switch {
		case strings.Contains(o.Endpoint, "://"):
			u, err := url.Parse(o.Endpoint)
			if err != nil {
				return nil, err
			}
			if u.Path == "" || u.Path == "/" {
				u.Path = "/v1/traces"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(u.String()))
		case o.Endpoint != "":
			scheme := "https"
			if insecure {
				scheme = "http"
			}
			opts = append(opts, otlptracehttp.WithEndpointURL(scheme+"://"+o.Endpoint+"/v1/traces"))
		case insecure:
			opts = append(opts, otlptracehttp.WithInsecure())
		}
		if headers != nil {
			opts = append(opts, otlptracehttp.WithHeaders(headers))
		}
		if o.Timeout > 0 {
			opts = append(opts, otlptracehttp.WithTimeout(o.Timeout))
		}
		return otlpexport.New(ctx, otlptracehttp.NewClient(opts...))
	}
	// The client sizes each request against a limit (64 MB by default)
	// before grpc-go sizes it again to marshal it: a whole extra pass
	// over every export. A batch here holds at most 512 spans whose
	// attribute values are clipped, megabytes under any limit, so the
	// check is off.
	opts := []otlptracegrpc.Option{otlptracegrpc.WithMaxRequestSize(0)}
	switch {
	case o.Endpoint != "":
		// The URL form sets plaintext or TLS explicitly, over
		// OTEL_EXPORTER_OTLP_INSECURE.
		scheme := "https"
		if insecure {
			scheme = "http"
		}
		opts = append(opts, otlptracegrpc.WithEndpointURL(scheme+"://"+o.Endpoint))
	case insecure:
		opts = append(opts, otlptracegrpc.WithInsecure())
	}
	if headers != nil {
		opts = append(opts, otlptracegrpc.WithHeaders(headers))
	}
	if o.Timeout > 0 {
		opts = append(opts, otlptracegrpc.WithTimeout(o.Timeout))
	}
	return otlpexport.New(ctx, otlptracegrpc.NewClient(opts...))
}

// parseOTLPHeaders reads OTEL_EXPORTER_OTLP_HEADERS' format:
// "k1=v1,k2=v2", values percent-encoded. Malformed entries are skipped.
func parseOTLPHeaders(s string) map[string]string {
	out := map[string]string{}
	for _, kv := range strings.Split(s, ",") {
		k, v, ok := strings.Cut(kv, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			continue
		}
		if dec, err := url.PathUnescape(strings.TrimSpace(v)); err == nil {
			out[k] = dec
		}
	}
	return out
}

// exportQueue is the OTLP export's span processor: the SDK's batch span
// processor behind a bound on the spans it holds. The SDK's batcher drops
// spans when its queue is full but does not say how many (its count is
// private, reported only through the global meter provider), so the bound
// is kept here, where the drops can be counted: a span that ends while
// limit spans wait (queued, or in the batch being built) is dropped and
// counted; the batcher's own queue, a little larger, never overflows.
// Ending a span never waits for the collector.
type exportQueue struct {
	sdktrace.SpanProcessor
	limit   int64
	waiting *atomic.Int64
	dropped prometheus.Counter
}

// exportSlack is room in the batcher's queue beyond the limit, for the
// markers ForceFlush puts in it.
const exportSlack = 64

func newExportQueue(exp sdktrace.SpanExporter, limit int, reg prometheus.Registerer, log *slog.Logger) (*exportQueue, error) {
	if limit <= 0 {
		limit = mapping.DefaultTraceQueueSize
	}
	spans := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "rpcbridge_trace_spans_total",
		Help: "Spans sent to the OTLP collector by outcome: exported; export_failed (the collector refused them or did not answer within the export timeout); dropped (they ended while telemetry.traces.queue_size spans were waiting).",
	}, []string{"outcome"})
	waiting := &atomic.Int64{}
	queued := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "rpcbridge_trace_queue_spans",
		Help: "Spans waiting for export to the OTLP collector.",
	}, func() float64 { return float64(waiting.Load()) })
	if reg != nil {
		for _, c := range []prometheus.Collector{spans, queued} {
			if err := reg.Register(c); err != nil {
				return nil, err
			}
		}
	}
	ce := &countingExporter{SpanExporter: exp, waiting: waiting, exported: spans.WithLabelValues("exported"),
		failed: spans.WithLabelValues("export_failed"), log: log}
	batch := sdktrace.NewBatchSpanProcessor(ce,
		sdktrace.WithMaxQueueSize(limit+exportSlack),
		sdktrace.WithMaxExportBatchSize(min(sdktrace.DefaultMaxExportBatchSize, limit)))
	return &exportQueue{SpanProcessor: batch, limit: int64(limit), waiting: waiting, dropped: spans.WithLabelValues("dropped")}, nil
}

// OnEnd hands a sampled span to the batcher, or drops and counts it when
// limit spans wait.
func (q *exportQueue) OnEnd(s sdktrace.ReadOnlySpan) {
	if !s.SpanContext().IsSampled() {
		return // the batcher skips it too
	}
	if q.waiting.Add(1) > q.limit {
		q.waiting.Add(-1)
		q.dropped.Inc()
		return
	}
	q.SpanProcessor.OnEnd(s)
}

// countingExporter counts exported and failed spans and logs failures
// (the first, then at most one line a minute, and the recovery). It
// reports success to the batcher either way: the batcher would hand the
// error to OpenTelemetry's global error handler, which prints it on every
// failed export.
type countingExporter struct {
	sdktrace.SpanExporter
	waiting          *atomic.Int64
	exported, failed prometheus.Counter
	log              *slog.Logger

	mu         sync.Mutex
	failing    bool
	lastLog    time.Time
	suppressed int
}

// failureLogEvery spaces the log lines of a collector that keeps failing.
const failureLogEvery = time.Minute

func (e *countingExporter) ExportSpans(ctx context.Context, spans []sdktrace.ReadOnlySpan) error {
	// The batch has left the queue.
	e.waiting.Add(-int64(len(spans)))
	err := e.SpanExporter.ExportSpans(ctx, spans)
	if err == nil {
		e.exported.Add(float64(len(spans)))
	} else {
		e.failed.Add(float64(len(spans)))
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch {
	case err == nil && e.failing:
		e.failing = false
		e.log.Info("trace export recovered")
	case err != nil && (!e.failing || time.Since(e.lastLog) >= failureLogEvery):
		e.log.Warn("trace export failed; spans are dropped until the collector answers", "spans", len(spans),
			"failed_exports_since_last_line", e.suppressed, "err", err)
		e.failing, e.lastLog, e.suppressed = true, time.Now(), 0
	case err != nil:
		e.suppressed++
	}
	return nil
}

// Shutdown closes the exporter; a collector that is down is not an error
// worth more than the export failures already logged.
func (e *countingExporter) Shutdown(ctx context.Context) error {
	err := e.SpanExporter.Shutdown(ctx)
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return nil
	}
	return err
}
