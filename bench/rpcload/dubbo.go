package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"time"

	dubbogo "dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/server"
	hessian "github.com/apache/dubbo-go-hessian2"

	"github.com/rpcbridge/rpcbridge/bench/internal/loadgen"
	"github.com/rpcbridge/rpcbridge/examples/users"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"

	// The client's cluster and load balancer; examples/users imports the
	// dubbo protocol and the proxy factory. Each registers itself when
	// imported.
	_ "dubbo.apache.org/dubbo-go/v3/cluster/cluster/failfast"
	_ "dubbo.apache.org/dubbo-go/v3/cluster/loadbalance/random"
	// The registered provider's: interface- and application-level
	// registration in ZooKeeper, which doubles as the metadata report.
	_ "dubbo.apache.org/dubbo-go/v3/metadata/report/zookeeper"
	_ "dubbo.apache.org/dubbo-go/v3/registry/servicediscovery"
	_ "dubbo.apache.org/dubbo-go/v3/registry/zookeeper"
)

// dubboSetup starts the demo's Dubbo provider (examples/users: dubbo-go,
// org.rpcbridge.demo.UserService 1.0.0 on a static address, no registry)
// and compares getUser(1) from dubbo-go's typed client, with the
// provider's own Go types, against rpcbridge (and pixiu, with -pixiu).
//
// With -pixiu the provider also registers in ZooKeeper (-zk, or one this
// process starts), as Dubbo 3 providers do by default: its URL under
// /dubbo/<interface>/providers and its application instance for
// application-level discovery. pixiu's Dubbo proxy finds it there.
func dubboSetup(o options) (*setup, error) {
	// As the gateway does: dubbo-getty logs every packet at its default
	// level, which would cost the direct client and the provider more
	// than their calls. Before any dubbo-go connection exists.
	dubbo.QuietLibraryLogs()
	var (
		prov    provider
		zkAddr  string
		closeZK = func() {}
		err     error
	)
	if o.pixiu == "" {
		prov, err = users.Start("127.0.0.1")
	} else {
		// dubbo-go's ZooKeeper client logs its sessions through the
		// standard logger; this command reports with fmt only.
		log.SetOutput(io.Discard)
		zkAddr, closeZK, err = zooKeeper(o.zk)
		if err == nil {
			prov, err = startRegisteredUsers(zkAddr)
		}
	}
	if err != nil {
		closeZK()
		return nil, err
	}
	// With ZooKeeper, the provider and the registry stay until the command
	// ends: dubbo-go's clients and watches would log every error of their
	// going away through the other protocols' rounds.
	stop := prov.Stop
	if zkAddr != "" {
		*o.atExit = append(*o.atExit, closeZK, prov.Stop)
		stop = func() {}
	}
	cli, err := client.NewClient(client.WithClientShutdown(graceful_shutdown.WithoutInternalSignal()))
	if err != nil {
		stop()
		return nil, err
	}
	conn, err := cli.Dial(users.Interface,
		client.WithURL("dubbo://"+prov.Addr()),
		client.WithProtocolDubbo(),
		client.WithSerialization(constant.Hessian2Serialization),
		client.WithVersion(users.Version),
		client.WithClusterFailFast(),
		client.WithRetries(0),
		client.WithRequestTimeout(3*time.Second),
	)
	if err != nil {
		stop()
		return nil, err
	}
	ctx := context.Background()
	direct := func(int) error {
		var u users.User
		if err := conn.CallUnary(ctx, []any{int64(1)}, &u, "getUser"); err != nil {
			return err
		}
		if u.Id != 1 || u.Name == "" {
			return fmt.Errorf("getUser(1) gave %+v", u)
		}
		return nil
	}
	services := func() string {
		return fmt.Sprintf(`services:
  - name: users
    protocol: dubbo
    dubbo:
      interface: %s
      version: '%s'
      methods:
        getUser: {params: [{name: id, type: long}]}
    instances: [{address: '%s'}]
    timeout: 3s
`, users.Interface, users.Version, prov.Addr())
	}
	return &setup{
		protocol:   "dubbo (examples/users getUser(long), dubbo-go provider in this process)",
		directName: "direct dubbo-go",
		direct:     direct,
		path:       "/users/getUser",
		body:       `{"id": 1}`,
		variants: []variant{
			{name: "rpcbridge", services: services()},
		},
		pixius: []pixiuSetup{
			{name: "pixiu", config: func(listen, dir string) (pixiuCall, error) {
				return pixiuDubboProxy(listen, dir, zkAddr)
			}},
			{name: "pixiu-direct", config: func(listen, _ string) (pixiuCall, error) {
				return pixiuDirectDubbo(listen, prov.Addr()), nil
			}},
		},
		close: stop,
	}, nil
}

// provider is a running Dubbo provider: users.Start's, or the registered
// one.
type provider interface {
	Addr() string
	Stop()
}

// zooKeeper is addr when set, else a throwaway ZooKeeper started here
// (the Debian zookeeper package's jar, as the registry tests use), and
// what stops it.
func zooKeeper(addr string) (string, func(), error) {
	if addr != "" {
		return addr, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "rpcload-zk")
	if err != nil {
		return "", nil, err
	}
	s, err := zktest.Launch(dir)
	stop := func() {
		if s != nil {
			s.Close()
		}
		os.RemoveAll(dir)
	}
	if err != nil {
		stop()
		return "", nil, fmt.Errorf("-pixiu needs ZooKeeper for pixiu's Dubbo proxy (or name one with -zk): %w", err)
	}
	return s.Addr(), stop, nil
}

// registeredUsers is the demo's UserService served by dubbo-go and
// registered in ZooKeeper.
type registeredUsers struct {
	addr string
}

func (p *registeredUsers) Addr() string { return p.addr }

// Stop deregisters the provider and stops it (dubbo-go's shutdown is
// process-wide; the bench ends after it).
func (p *registeredUsers) Stop() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	graceful_shutdown.Shutdown(ctx)
}

// startRegisteredUsers serves users.Service on a free 127.0.0.1 port and
// registers it in the ZooKeeper at zkAddr both ways Dubbo 3 does by
// default (interface and application level; the registry doubles as the
// metadata report), then waits until the port accepts connections.
func startRegisteredUsers(zkAddr string) (*registeredUsers, error) {
	hessian.RegisterPOJO(&users.User{})
	extension.GetProtocol("dubbo")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	metaPort, err := freePort()
	if err != nil {
		return nil, err
	}
	ins, err := dubbogo.NewInstance(
		dubbogo.WithName("rpcbridge-demo-users"),
		dubbogo.WithLogger(logger.WithLevel("error")),
		dubbogo.WithShutdown(graceful_shutdown.WithoutInternalSignal(), graceful_shutdown.WithStepTimeout(time.Second)),
		dubbogo.WithMetadataServicePort(metaPort),
		dubbogo.WithRegistry(registry.WithZookeeper(), registry.WithAddress(zkAddr), registry.WithRegisterServiceAndInterface()),
	)
	if err != nil {
		return nil, err
	}
	// The instance sets dubbo-go's loggers anew.
	dubbo.QuietLibraryLogs()
	srv, err := ins.NewServer(
		server.WithServerProtocol(protocol.WithDubbo(), protocol.WithIp("127.0.0.1"), protocol.WithPort(port)),
		server.WithServerProtocolIDs([]string{"dubbo"}),
	)
	if err != nil {
		return nil, err
	}
	if err := users.Register(srv); err != nil {
		return nil, err
	}
	p := &registeredUsers{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port))}
	if err := users.Serve(srv, p.addr, 30*time.Second); err != nil {
		return nil, err
	}
	return p, nil
}

func freePort() (int, error) {
	a, err := loadgen.FreeAddr()
	if err != nil {
		return 0, err
	}
	_, p, _ := net.SplitHostPort(a)
	return strconv.Atoi(p)
}

// pixiuDubboProxy configures dubbo-go-pixiu (v1.1.0) to serve getUser(1)
// on listen the way its documentation and samples do: the API config
// filter (dgp.filter.http.apiconfig) maps POST /users/getUser to the
// Dubbo method, the body's id to its long argument, and the Dubbo proxy
// filter (dgp.filter.http.dubboproxy) calls it through dubbo-go's generic
// client, one reference per service kept for the process, with the
// provider found in the ZooKeeper at zkAddr. The API config goes to dir.
func pixiuDubboProxy(listen, dir, zkAddr string) (pixiuCall, error) {
	api := filepath.Join(dir, "pixiu-api.yaml")
	err := os.WriteFile(api, []byte(fmt.Sprintf(`name: rpcload
description: getUser through pixiu's Dubbo proxy
resources:
  - path: '/users/getUser'
    type: restful
    description: getUser
    methods:
      - httpVerb: POST
        enable: true
        timeout: 3s
        inboundRequest: {requestType: http}
        integrationRequest:
          requestType: dubbo
          mappingParams:
            - {name: requestBody.id, mapTo: 0, mapType: long}
          applicationName: rpcbridge-demo-users
          interface: %s
          method: getUser
          group: ""
          version: %s
          clusterName: users
`, users.Interface, users.Version)), 0o644)
	if err != nil {
		return pixiuCall{}, err
	}
	config := pixiuConfig(listen, "", `
                - name: dgp.filter.http.apiconfig
                  config: {path: `+strconv.Quote(api)+`}
                - name: dgp.filter.http.dubboproxy
                  config:
                    dubboProxyConfig:
                      registries:
                        zookeeper: {protocol: zookeeper, timeout: 3s, address: `+strconv.Quote(zkAddr)+`}
                      timeout_config: {connect_timeout: 3s, request_timeout: 3s}`, "")
	return pixiuCall{config: config, path: "/users/getUser", body: `{"id": 1}`}, nil
}

// pixiuDirectDubbo configures dubbo-go-pixiu (v1.1.0) to serve getUser(1)
// on listen with its direct HTTP to Dubbo filter
// (dgp.filter.http.directdubboproxy: no registry, the provider as the one
// endpoint of a static cluster). Its request names the application,
// interface and method in the path and the version and Java parameter
// types in headers; the body is the argument list. The filter refers a
// new Dubbo invoker for each request and destroys it after.
func pixiuDirectDubbo(listen, provider string) pixiuCall {
	phost, pport, _ := net.SplitHostPort(provider)
	config := pixiuConfig(listen, "users", `
                - name: dgp.filter.http.directdubboproxy
                  config: {}`, fmt.Sprintf(`
  clusters:
    - name: "users"
      lb_policy: "RoundRobin"
      endpoints:
        - id: 1
          socket_address: {address: "%s", port: %s}`, phost, pport))
	return pixiuCall{
		config: config,
		path:   "/users/" + users.Interface + "/getUser",
		body:   `[1]`,
		header: []string{"x-dubbo-service-version", users.Version, "x-dubbo-service-method-overloading", "long"},
	}
}

// pixiuConfig is a pixiu bootstrap with one HTTP listener on listen
// whose connection manager takes every path (to cluster, when set)
// through filters (http_filters items), then clusters (a static_resources
// key), with pixiu's logging kept to errors.
func pixiuConfig(listen, cluster, filters, clusters string) string {
	host, port, _ := net.SplitHostPort(listen)
	route := ""
	if cluster != "" {
		route = "\n                    route: {cluster: " + strconv.Quote(cluster) + "}"
	}
	return fmt.Sprintf(`static_resources:
  listeners:
    - name: "net/http"
      protocol_type: "HTTP"
      address:
        socket_address: {address: "%s", port: %s}
      filter_chains:
        filters:
          - name: dgp.filter.httpconnectionmanager
            config:
              route_config:
                routes:
                  - match: {prefix: "/"}%s
              http_filters:%s
      config: {idle_timeout: 60s, read_timeout: 5s, write_timeout: 5s}%s
  shutdown_config: {timeout: 5s, step_timeout: 1s, reject_policy: immediacy}
`, host, port, route, filters, clusters) + pixiuLog
}

// pixiuLog keeps pixiu's logging to errors.
const pixiuLog = `log:
  level: error
  encoding: console
  outputPaths: [stderr]
  errorOutputPaths: [stderr]
`
