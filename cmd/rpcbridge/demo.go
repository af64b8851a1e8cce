package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/stock"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// demoConfig is the built-in config; {{people}} and friends are replaced by
// the sample backends' addresses.
const demoConfig = `server:
  listen: {{listen}}
  admin: {{admin}}
  access_log: true
  cors: {allow_origins: ["*"]}
services:
  - name: people
    protocol: grpc
    grpc:
      service: demo.v1.PeopleService
      schema: {reflection: {refresh: 5m}}
    instances: [{address: {{people}}}]
    timeout: 2s
    forward_headers: [x-request-id]
  - name: stock
    protocol: tars
    tars:
      idl: {{stockidl}}
      servant: Demo.StockServer.StockObj
      interface: Stock
    instances: [{address: {{stock}}}]
    timeout: 2s
  - name: orders
    protocol: thrift
    thrift:
      idl: {{ordersidl}}
      service: OrderService
    instances: [{address: {{orders}}}]
    timeout: 2s
routes:
  - match: {path: "/v1/orders/{id}", methods: [GET]}
    service: orders
    method: getOrder
  - match: {path: "/v1/quotes/{code}", methods: [GET]}
    service: stock
    method: getQuote
  - match: {path: "/v1/people/{id}", methods: [GET]}
    service: people
    method: Get
  - match: {path: "/v1/people:echo", methods: [POST]}
    service: people
    method: Echo
  - match: {path: /v1/people, methods: [GET]}
    service: people
    method: List
`

// demoBackends are the running sample backends.
type demoBackends struct {
	vars  map[string]string
	stops []func()
}

func (d *demoBackends) stop() {
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
}

func startDemoBackends() (d *demoBackends, err error) {
	d = &demoBackends{vars: map[string]string{}}
	defer func() {
		if err != nil {
			d.stop()
		}
	}()
	dir, err := os.MkdirTemp("", "rpcbridge-demo")
	if err != nil {
		return nil, err
	}
	d.stops = append(d.stops, func() { os.RemoveAll(dir) })

	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		return nil, fmt.Errorf("starting the sample gRPC service: %w", err)
	}
	d.stops = append(d.stops, ps.Stop)
	d.vars["people"] = ps.Addr()

	ss, err := stock.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the sample Tars servant: %w", err)
	}
	d.stops = append(d.stops, ss.Stop)
	d.vars["stock"] = ss.Addr()
	d.vars["stockidl"] = filepath.Join(dir, "Stock.tars")
	if err := os.WriteFile(d.vars["stockidl"], stock.IDL, 0o644); err != nil {
		return nil, err
	}
	osrv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the sample Thrift service: %w", err)
	}
	d.stops = append(d.stops, func() { osrv.Stop() })
	d.vars["orders"] = osrv.Addr()
	d.vars["ordersidl"] = filepath.Join(dir, "order.thrift")
	if err := writeFile(d.vars["ordersidl"], orders.IDL); err != nil {
		return nil, err
	}
	return d, nil
}

func writeFile(path string, b []byte) error { return os.WriteFile(path, b, 0o644) }

func expand(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "data-plane address")
	adminAddr := fs.String("admin", "127.0.0.1:9901", "control-plane address")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	log, err := newLogger(stderr, *level)
	if err != nil {
		return err
	}
	data, err := net.Listen("tcp", *listen)
	if err != nil {
		return fmt.Errorf("%w (choose another address with -listen)", err)
	}
	admin, err := net.Listen("tcp", *adminAddr)
	if err != nil {
		data.Close()
		return fmt.Errorf("%w (choose another address with -admin)", err)
	}
	backends, err := startDemoBackends()
	if err != nil {
		data.Close()
		admin.Close()
		return err
	}
	defer backends.stop()
	backends.vars["listen"] = data.Addr().String()
	backends.vars["admin"] = admin.Addr().String()
	raw := []byte(expand(demoConfig, backends.vars))
	cfg, err := mapping.Parse(raw)
	if err != nil {
		return fmt.Errorf("built-in demo config: %w", err)
	}
	disc := newZKDiscovery(log)
	defer disc.Close()
	g, err := gateway.New(cfg, raw, gateway.Options{Protocols: protocolFactory(log), Discovery: disc, Logger: log, Source: "built-in demo"})
	if err != nil {
		return err
	}
	defer g.Close()
	printDemo(stdout, data.Addr().String(), admin.Addr().String())
	return g.Serve(ctx, data, admin, gateway.AdminOptions{})
}

func printDemo(w io.Writer, addr, admin string) {
	base := "http://" + addr
	fmt.Fprintf(w, `rpcbridge demo: the gateway listens on %s (control plane %s)
with sample backends behind it: gRPC (demo.v1.PeopleService, server reflection on)
Thrift (OrderService, from order.thrift) and Tars (Demo.StockServer.StockObj, from Stock.tars).
Try:

  # a path template: {id} binds to the int64 field "id"
  curl -s %s/v1/people/1

  # route-less: POST /{service}/{method}, the body is the request message
  curl -s --json '{"id": "2"}' %s/people/Get

  # every protobuf type: int64 above 2^53 stays exact, enums by name, maps, oneof, bytes, Timestamp
  curl -s --json '{"i64": "9007199254740993", "u64": "18446744073709551615", "roles": ["ROLE_ADMIN"], "counts": {"a": "9007199254740993"}, "blob": "aGVsbG8=", "when": "2026-11-21T10:00:00Z"}' '%s/v1/people:echo'

  # server streaming as newline-delimited JSON, or as Server-Sent Events
  curl -s '%s/v1/people?limit=3'
  curl -s -N -H 'Accept: text/event-stream' '%s/v1/people?limit=3'

  # Tars (IDL parsed at run time): a path parameter, then out-parameters beside the return value
  curl -s %s/v1/quotes/600000
  curl -s --json '{"codes": ["600000", "00700", "nope"]}' %s/stock/listQuotes

  # Thrift (IDL parsed at run time): arguments by name; a declared exception comes back with its fields
  curl -s %s/v1/orders/1
  curl -s --json '{"customer": "ada", "items": [{"sku": "A-1", "qty": 2, "priceCents": 9007199254740993}], "note": "gift"}' %s/orders/createOrder
  curl -s -i %s/v1/orders/99

  # errors are one JSON body with the right status
  curl -s -i %s/v1/people/404
  curl -s -i --json '{"id": "abc"}' %s/people/Get
  curl -s -i --json '{}' %s/people/NoSuchMethod

  # the control plane
  curl -s http://%s/admin/services
  curl -s http://%s/metrics | grep rpcbridge_requests_total

Press Ctrl-C to stop.
`, addr, admin, base, base, base, base, base, base, base, base, base, base, base, base, base, admin, admin)
}
