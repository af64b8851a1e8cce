package users

import (
	"fmt"
	"net"
	"strconv"
	"time"

	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/global"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/server"
	gostlogger "github.com/dubbogo/gost/log/logger"

	// The dubbo-go extensions a provider of generic calls needs; each
	// registers itself when imported. Importing only these (not
	// dubbo-go's catch-all "imports" package) keeps registries and
	// config centres out of the binary.
	_ "dubbo.apache.org/dubbo-go/v3/filter/echo"
	_ "dubbo.apache.org/dubbo-go/v3/filter/generic"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/protocol"
)

// Provider is a running provider.
type Provider struct {
	addr string
	svc  *server.ServiceOptions
}

// Addr is the provider's host:port.
func (p *Provider) Addr() string { return p.addr }

// Stop withdraws the service, so that another provider of it can start in
// this process (dubbo-go allows one export of an interface and version per
// process). The port itself stays open, answering "no such service", until
// the process exits: dubbo-go closes its servers only in its process-wide
// shutdown.
func (p *Provider) Stop() {
	if p.svc != nil {
		p.svc.Unexport()
	}
}

// Start serves a new Service on a free port of host ("127.0.0.1") and
// returns once the port accepts connections. One provider of the service
// can run in a process at a time (see Stop).
//
// Start leaves the process's signals alone (dubbo-go would otherwise
// install its own SIGTERM handler) and lowers dubbo-go's process-wide log
// level to errors.
func Start(host string) (*Provider, error) {
	registerTypes()
	// dubbo-go creates its protocol singletons lazily and without a lock:
	// create the dubbo one here, before the server's goroutines race to.
	extension.GetProtocol("dubbo")
	port, err := freePort(host)
	if err != nil {
		return nil, err
	}
	// The metadata service would take a fixed default port; give it a
	// free one so that two providers can run side by side.
	metaPort, err := freePort(host)
	if err != nil {
		return nil, err
	}
	// Not dubbo.NewInstance: it replaces dubbo-go's process-wide loggers,
	// which races with any dubbo-go connection already running (the
	// gateway's, or an earlier provider's). Lower the level in place.
	gostlogger.SetLoggerLevel("error")
	app := global.DefaultApplicationConfig()
	app.Name = "rpcbridge-demo-users"
	app.MetadataServicePort = strconv.Itoa(metaPort)
	shutdown := global.DefaultShutdownConfig()
	noSignal := false
	shutdown.InternalSignal = &noSignal // leave the process's signals alone
	srv, err := server.NewServer(
		server.SetServerApplication(app),
		server.SetServerShutdown(shutdown),
		server.WithServerProtocol(protocol.WithDubbo(), protocol.WithIp(host), protocol.WithPort(port)),
		server.WithServerProtocolIDs([]string{"dubbo"}),
	)
	if err != nil {
		return nil, err
	}
	if err := Register(srv, server.WithNotRegister()); err != nil {
		return nil, err
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	if err := Serve(srv, addr, 15*time.Second); err != nil {
		return nil, err
	}
	return &Provider{addr: addr, svc: srv.GetServiceOptionsByInterfaceName(Interface)}, nil
}

// Serve runs srv in the background and returns once addr, where it
// listens, accepts connections: an error when srv stops first or
// timeout passes.
func Serve(srv *server.Server, addr string, timeout time.Duration) error {
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return nil
		}
		select {
		case err := <-serveErr:
			return fmt.Errorf("dubbo provider stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("dubbo provider is not listening on %s after %v", addr, timeout)
		}
	}
}

// Register adds a new Service to srv as Interface, Version, over the
// dubbo protocol, with the filters a provider of generic calls needs (the
// ones this package imports) and no others; opts add to these.
func Register(srv *server.Server, opts ...server.ServiceOption) error {
	return srv.RegisterService(NewService(), append([]server.ServiceOption{
		server.WithInterface(Interface),
		server.WithVersion(Version),
		server.WithProtocolIDs([]string{"dubbo"}),
		server.WithFilter(constant.EchoFilterKey + "," + constant.GenericServiceFilterKey + "," + constant.GracefulShutdownProviderFilterKey),
	}, opts...)...)
}

// freePort asks the kernel for a port of host that is free now.
func freePort(host string) (int, error) {
	l, err := net.Listen("tcp", net.JoinHostPort(host, "0"))
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
