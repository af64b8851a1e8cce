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

	"github.com/rpcbridge/rpcbridge/examples/catalog"
	"github.com/rpcbridge/rpcbridge/examples/orders"
	"github.com/rpcbridge/rpcbridge/examples/people"
	"github.com/rpcbridge/rpcbridge/examples/stock"
	"github.com/rpcbridge/rpcbridge/examples/users"
	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// demoConfig is the built-in config; '{{people}}' and friends are replaced
// by the sample backends' addresses and IDL paths (see demoYAML). Every
// such value sits in single quotes: an address such as [::]:8080 would
// otherwise read as a YAML flow sequence.
const demoConfig = `server:
  listen: '{{listen}}'
  admin: '{{admin}}'
  access_log: true
  cors: {allow_origins: ["*"]}
services:
  - name: people
    protocol: grpc
    grpc:
      service: demo.v1.PeopleService
      schema: {reflection: {refresh: 5m}}
    instances: [{address: '{{people}}'}]
    timeout: 2s
    forward_headers: [x-request-id]
  - name: stock
    protocol: tars
    tars:
      idl: '{{stockidl}}'
      servant: Demo.StockServer.StockObj
      interface: Stock
    instances: [{address: '{{stock}}'}]
    timeout: 2s
  - name: orders
    protocol: thrift
    thrift:
      idl: '{{ordersidl}}'
      service: OrderService
    instances: [{address: '{{orders}}'}]
    timeout: 2s
  - name: users
    protocol: dubbo
    dubbo:
      interface: org.rpcbridge.demo.UserService
      version: '1.0.0'
      methods:
        getUser: {params: [{name: id, type: long}]}
        createUser: {params: [{name: user, type: org.rpcbridge.demo.User}]}
      exceptions: {org.rpcbridge.demo.UserNotFoundException: 404}
    instances: [{address: '{{users}}'}]
    timeout: 3s
  - name: catalog
    protocol: http
    http: {path_prefix: /api}
    instances: [{address: '{{catalog}}'}]
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
  - match: {path: "/v1/users/{id}", methods: [GET]}
    service: users
    method: getUser
  - match: {path: "/v1/items/{sku}", methods: [GET]}
    service: catalog
    method: getItem
  - match: {path: "/v1/home/{id}", methods: [GET]}
    compose:
      timeout: 3s
      calls:
        user:   {service: users,  method: getUser,  args: {id: "{id}"}}
        person: {service: people, method: Get,      args: {id: "{id}"}}
        order:  {service: orders, method: getOrder, args: {id: "${user.id}"}}
        quote:  {service: stock,  method: getQuote, args: {code: "{code}"}, optional: true}
      reply: {name: "${person.name}", email: "${user.email}", order: "${order}", quote: "${quote.return}"}
`

// demoYAML fills demoConfig in, escaping each value for its single-quoted
// YAML scalar.
func demoYAML(vars map[string]string) string {
	quoted := make(map[string]string, len(vars))
	for k, v := range vars {
		quoted[k] = strings.ReplaceAll(v, "'", "''")
	}
	return expand(demoConfig, quoted)
}

// IDL file names the demo writes for its Tars and Thrift services.
const (
	stockIDLName  = "Stock.tars"
	ordersIDLName = "order.thrift"
)

// demoBackends are the running sample backends.
type demoBackends struct {
	vars  map[string]string
	stops []func()
}

func (d *demoBackends) stop() {
	if d == nil {
		return
	}
	for i := len(d.stops) - 1; i >= 0; i-- {
		d.stops[i]()
	}
	d.stops = nil
}

// startDemoBackends starts the five sample backends on 127.0.0.1 and
// writes the Tars and Thrift IDL files (the adapters read IDL from files)
// into dir, or into a new temporary directory when dir is "". On an error
// it stops what it started and returns the error.
//
// The Dubbo provider starts last: stopping it withdraws its service, but
// its port stays open until the process exits (dubbo-go's shutdown is
// process-wide).
func startDemoBackends(dir string) (*demoBackends, error) {
	d := &demoBackends{vars: map[string]string{}}
	ok := false
	defer func() {
		if !ok {
			d.stop()
		}
	}()
	if dir == "" {
		tmp, err := os.MkdirTemp("", "rpcbridge-demo")
		if err != nil {
			return nil, fmt.Errorf("the demo needs a directory for its IDL files (%s, %s): %w; name a writable one with -dir", stockIDLName, ordersIDLName, err)
		}
		d.stops = append(d.stops, func() { os.RemoveAll(tmp) })
		dir = tmp
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("-dir: the demo cannot create its IDL directory: %w", err)
	}

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

	osrv, err := orders.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the sample Thrift service: %w", err)
	}
	d.stops = append(d.stops, func() { osrv.Stop() })
	d.vars["orders"] = osrv.Addr()

	cs, err := catalog.Start("127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("starting the sample HTTP service: %w", err)
	}
	d.stops = append(d.stops, cs.Stop)
	d.vars["catalog"] = cs.Addr()

	for _, f := range []struct {
		name, key string
		text      []byte
	}{{stockIDLName, "stockidl", stock.IDL}, {ordersIDLName, "ordersidl", orders.IDL}} {
		path := filepath.Join(dir, f.name)
		if err := os.WriteFile(path, f.text, 0o644); err != nil {
			return nil, fmt.Errorf("writing the demo's IDL file: %w (name a writable directory with -dir)", err)
		}
		d.stops = append(d.stops, func() { os.Remove(path) })
		d.vars[f.key] = path
	}

	us, err := users.Start("127.0.0.1")
	if err != nil {
		return nil, fmt.Errorf("starting the sample Dubbo provider: %w", err)
	}
	d.stops = append(d.stops, us.Stop)
	d.vars["users"] = us.Addr()
	ok = true
	return d, nil
}

func expand(tmpl string, vars map[string]string) string {
	for k, v := range vars {
		tmpl = strings.ReplaceAll(tmpl, "{{"+k+"}}", v)
	}
	return tmpl
}

// clientAddr is the address a client on this machine dials to reach a
// listener: 127.0.0.1 stands in for a wildcard host (0.0.0.0, ::).
func clientAddr(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok || !ta.IP.IsUnspecified() {
		return a.String()
	}
	return (&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ta.Port}).String()
}

func cmdDemo(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	listen := fs.String("listen", "127.0.0.1:8080", "data-plane address")
	adminAddr := fs.String("admin", "127.0.0.1:9901", "control-plane address")
	level := fs.String("log-level", "warn", "log level: debug, info, warn, error")
	dir := fs.String("dir", "", "directory for the sample Tars and Thrift IDL files (default: a new temporary directory, removed on exit)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("demo takes no arguments, got %q", fs.Args())
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
	backends, err := startDemoBackends(*dir)
	if err != nil {
		data.Close()
		admin.Close()
		return err
	}
	defer backends.stop()
	backends.vars["listen"] = data.Addr().String()
	backends.vars["admin"] = admin.Addr().String()
	raw := []byte(demoYAML(backends.vars))
	cfg, err := mapping.Parse(raw, plugins())
	if err != nil {
		data.Close()
		admin.Close()
		return fmt.Errorf("built-in demo config: %w", err)
	}
	disc := newZKDiscovery(log)
	defer disc.Close()
	g, err := gateway.New(cfg, raw, gateway.Options{Discovery: disc, Logger: log, Source: "built-in demo"})
	if err != nil {
		data.Close()
		admin.Close()
		return err
	}
	defer g.Close()
	printDemo(stdout, clientAddr(data.Addr()), clientAddr(admin.Addr()))
	return g.Serve(ctx, data, admin, gateway.AdminOptions{})
}

// demoBanner is what the demo prints: {base} becomes the data plane's URL,
// {addr} its host:port and {admin} the control plane's host:port.
const demoBanner = `rpcbridge demo: the gateway listens on {addr} (control plane {admin})
with sample backends behind it: gRPC (demo.v1.PeopleService, server reflection on),
Thrift (OrderService, from order.thrift), Tars (Demo.StockServer.StockObj, from Stock.tars),
Dubbo (org.rpcbridge.demo.UserService, dubbo-go over Hessian2) and plain HTTP/JSON (a catalogue).
Try:

  # a path template: {id} binds to the int64 field "id"
  curl -s {base}/v1/people/1

  # route-less: POST /{service}/{method}, the body is the request message
  curl -s --json '{"id": "2"}' {base}/people/Get

  # every protobuf type: int64 above 2^53 stays exact, enums by name, maps, oneof, bytes, Timestamp
  curl -s --json '{"i64": "9007199254740993", "u64": "18446744073709551615", "roles": ["ROLE_ADMIN"], "counts": {"a": "9007199254740993"}, "blob": "aGVsbG8=", "when": "2026-11-21T10:00:00Z"}' '{base}/v1/people:echo'

  # server streaming as newline-delimited JSON, or as Server-Sent Events
  curl -s '{base}/v1/people?limit=3'
  curl -s -N -H 'Accept: text/event-stream' '{base}/v1/people?limit=3'

  # Tars (IDL parsed at run time): a path parameter, then out-parameters beside the return value
  curl -s {base}/v1/quotes/600000
  curl -s --json '{"codes": ["600000", "00700", "nope"]}' {base}/stock/listQuotes

  # Thrift (IDL parsed at run time): arguments by name; a declared exception comes back with its fields
  curl -s {base}/v1/orders/1
  curl -s --json '{"customer": "ada", "items": [{"sku": "A-1", "qty": 2, "priceCents": 9007199254740993}], "note": "gift"}' {base}/orders/createOrder
  curl -s -i {base}/v1/orders/99

  # Dubbo (generic $invoke, Java types from the YAML): getUser(long), createUser(User) with the POJO's fields,
  # and UserNotFoundException mapped to 404
  curl -s {base}/v1/users/1
  curl -s --json '{"user": {"name": "grace", "email": "grace@example.org", "tags": ["ops"]}}' {base}/users/createUser
  curl -s -i {base}/v1/users/404

  # plain HTTP/JSON: POST /api/{method} on the backend, path parameters as its query string; its 404 stays a 404
  curl -s {base}/v1/items/A-1
  curl -s --json '{"query": "tea", "maxPriceCents": 500}' {base}/catalog/searchItems
  curl -s -i {base}/v1/items/Z-9

  # one request, four protocols: Dubbo and gRPC at once, then Thrift with the Dubbo reply's id, and Tars
  curl -s '{base}/v1/home/1?code=600000'

  # errors are one JSON body with the right status
  curl -s -i {base}/v1/people/404
  curl -s -i --json '{"id": "abc"}' {base}/people/Get
  curl -s -i --json '{}' {base}/people/NoSuchMethod

  # the control plane
  curl -s http://{admin}/admin/services
  curl -s http://{admin}/metrics | grep rpcbridge_requests_total

Press Ctrl-C to stop.
`

// printDemo prints the banner for a gateway a client reaches at addr,
// with its control plane at admin.
func printDemo(w io.Writer, addr, admin string) {
	io.WriteString(w, strings.NewReplacer("{base}", "http://"+addr, "{addr}", addr, "{admin}", admin).Replace(demoBanner))
}
