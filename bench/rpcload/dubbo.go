package main

import (
	"context"
	"fmt"
	"net"
	"time"

	"dubbo.apache.org/dubbo-go/v3/client"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"

	"github.com/rpcbridge/rpcbridge/examples/users"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"

	// The client's cluster and load balancer; examples/users imports the
	// dubbo protocol and the proxy factory. Each registers itself when
	// imported.
	_ "dubbo.apache.org/dubbo-go/v3/cluster/cluster/failfast"
	_ "dubbo.apache.org/dubbo-go/v3/cluster/loadbalance/random"
)

// dubboSetup starts the demo's Dubbo provider (examples/users: dubbo-go,
// org.rpcbridge.demo.UserService 1.0.0 on a static address, no registry)
// and compares getUser(1) from dubbo-go's typed client, with the
// provider's own Go types, against rpcbridge (and pixiu, with -pixiu).
func dubboSetup(options) (*setup, error) {
	// As the gateway does: dubbo-getty logs every packet at its default
	// level, which would cost the direct client and the provider more
	// than their calls. Before any dubbo-go connection exists.
	dubbo.QuietLibraryLogs()
	prov, err := users.Start("127.0.0.1")
	if err != nil {
		return nil, err
	}
	cli, err := client.NewClient(client.WithClientShutdown(graceful_shutdown.WithoutInternalSignal()))
	if err != nil {
		prov.Stop()
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
		prov.Stop()
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
		pixiu: func(listen string) pixiuCall {
			return pixiuDubbo(listen, prov.Addr())
		},
		close: prov.Stop,
	}, nil
}

// pixiuDubbo configures dubbo-go-pixiu (v1.1.0) to serve getUser(1) on
// listen with its direct HTTP to Dubbo filter (dgp.filter.http.directdubboproxy:
// no registry, the provider as the one endpoint of a static cluster). Its
// request names the application, interface and method in the path and the
// version and Java parameter types in headers; the body is the argument
// list.
func pixiuDubbo(listen, provider string) pixiuCall {
	lhost, lport, _ := net.SplitHostPort(listen)
	phost, pport, _ := net.SplitHostPort(provider)
	config := fmt.Sprintf(`static_resources:
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
                  - match: {prefix: "/"}
                    route: {cluster: "users"}
              http_filters:
                - name: dgp.filter.http.directdubboproxy
                  config: {}
      config: {idle_timeout: 60s, read_timeout: 5s, write_timeout: 5s}
  clusters:
    - name: "users"
      lb_policy: "RoundRobin"
      endpoints:
        - id: 1
          socket_address: {address: "%s", port: %s}
  shutdown_config: {timeout: 5s, step_timeout: 1s, reject_policy: immediacy}
`, lhost, lport, phost, pport) + pixiuLog
	return pixiuCall{
		config: config,
		path:   "/users/" + users.Interface + "/getUser",
		body:   `[1]`,
		header: []string{"x-dubbo-service-version", users.Version, "x-dubbo-service-method-overloading", "long"},
	}
}

// pixiuLog keeps pixiu's logging to errors.
const pixiuLog = `log:
  level: error
  encoding: console
  outputPaths: [stderr]
  errorOutputPaths: [stderr]
`
