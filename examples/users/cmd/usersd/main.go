// Command usersd runs the sample Dubbo provider of
// org.rpcbridge.demo.UserService (version 1.0.0, dubbo protocol, Hessian2)
// and registers it the Dubbo way in ZooKeeper: its URL under
// /dubbo/<interface>/providers, and its service definition (method
// signatures, as a Java provider's metadata report stores them) under
// /dubbo/metadata/<interface>/<version>/provider/<application>. A gateway
// finds it with `discovery: {registry: zk, dubbo_native: true}` and takes
// the types of methods its YAML does not declare from that definition.
//
//	usersd -zk 127.0.0.1:2181 -host 127.0.0.1 -port 20880
//
// -host is the address it listens on and registers (default: the first
// non-loopback IPv4 address, which is what a container's peers reach).
// SIGINT or SIGTERM deregisters it, then stops it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/server"
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/examples/users"

	// The dubbo-go extensions this provider uses; each registers itself
	// when imported.
	_ "dubbo.apache.org/dubbo-go/v3/filter/echo"
	_ "dubbo.apache.org/dubbo-go/v3/filter/generic"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/protocol"
	_ "dubbo.apache.org/dubbo-go/v3/registry/zookeeper"
)

// application is the provider's Dubbo application name.
const application = "rpcbridge-demo-users"

// definition is UserService's service definition in the shape Java
// Dubbo's metadata report writes (FullServiceDefinition, as JSON).
const definition = `{"canonicalName": "org.rpcbridge.demo.UserService", "parameters": {"side": "provider"},
 "methods": [
  {"name": "getUser", "parameterTypes": ["long"], "returnType": "org.rpcbridge.demo.User"},
  {"name": "createUser", "parameterTypes": ["org.rpcbridge.demo.User"], "returnType": "org.rpcbridge.demo.User"}],
 "types": [{"type": "org.rpcbridge.demo.User", "properties": {"id": "long", "name": "java.lang.String", "email": "java.lang.String", "tags": "java.util.List<java.lang.String>"}}]}`

func main() {
	zkServers := flag.String("zk", "127.0.0.1:2181", "ZooKeeper servers (comma-separated host:port) to register in")
	host := flag.String("host", "", "address to listen on and register (default: the first non-loopback IPv4 address)")
	port := flag.Int("port", 20880, "dubbo protocol port")
	metaPort := flag.Int("metadata-port", 20881, "dubbo-go's metadata service port")
	flag.Parse()
	if err := run(*zkServers, *host, *port, *metaPort); err != nil {
		fmt.Fprintln(os.Stderr, "usersd:", err)
		os.Exit(1)
	}
}

func run(zkServers, host string, port, metaPort int) error {
	if host == "" {
		h, err := firstIPv4()
		if err != nil {
			return err
		}
		host = h
	}
	hessian.RegisterPOJO(&users.User{})
	extension.GetProtocol("dubbo")
	ins, err := dubbo.NewInstance(
		dubbo.WithName(application),
		dubbo.WithLogger(logger.WithLevel("error")),
		dubbo.WithShutdown(graceful_shutdown.WithoutInternalSignal(),
			graceful_shutdown.WithConsumerUpdateWaitTime(time.Second), graceful_shutdown.WithStepTimeout(2*time.Second)),
		dubbo.WithMetadataServicePort(metaPort),
		dubbo.WithRegistry(
			registry.WithZookeeper(),
			registry.WithAddress(zkServers),
			registry.WithRegisterInterface(),
			registry.WithoutUseAsMetaReport(),
			registry.WithoutUseAsConfigCenter(),
		),
	)
	if err != nil {
		return err
	}
	srv, err := ins.NewServer(
		server.WithServerProtocol(protocol.WithDubbo(), protocol.WithIp(host), protocol.WithPort(port)),
		server.WithServerProtocolIDs([]string{"dubbo"}),
	)
	if err != nil {
		return err
	}
	if err := users.Register(srv); err != nil {
		return err
	}
	if err := publishDefinition(strings.Split(zkServers, ",")); err != nil {
		return err
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	fmt.Printf("%s %s (dubbo) on %s, registered in %s\n", users.Interface, users.Version, net.JoinHostPort(host, strconv.Itoa(port)), zkServers)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	select {
	case err := <-serveErr:
		return err
	case <-ctx.Done():
	}
	// Deregister and stop; dubbo-go's shutdown is process-wide.
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	graceful_shutdown.Shutdown(sctx)
	return nil
}

// publishDefinition stores the service definition where Java Dubbo's
// ZooKeeper metadata report keeps it (a persistent node, replaced on each
// start).
func publishDefinition(servers []string) error {
	conn, _, err := zk.Connect(servers, 10*time.Second, zk.WithLogInfo(false))
	if err != nil {
		return err
	}
	defer conn.Close()
	path := "/dubbo/metadata/" + users.Interface + "/" + users.Version + "/provider/" + application
	parts := strings.Split(strings.Trim(path, "/"), "/")
	deadline := time.Now().Add(30 * time.Second)
	for i := 1; i <= len(parts); i++ {
		p := "/" + strings.Join(parts[:i], "/")
		var data []byte
		if i == len(parts) {
			data = []byte(definition)
		}
		for {
			_, err = conn.Create(p, data, 0, zk.WorldACL(zk.PermAll))
			if errors.Is(err, zk.ErrNodeExists) && data != nil {
				_, err = conn.Set(p, data, -1)
			}
			if err == nil || errors.Is(err, zk.ErrNodeExists) {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("publishing the service definition at %s: %w", p, err)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	return nil
}

// firstIPv4 is the first non-loopback IPv4 address of the host's
// interfaces.
func firstIPv4() (string, error) {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return "", err
	}
	for _, a := range addrs {
		if n, ok := a.(*net.IPNet); ok && n.IP.To4() != nil && !n.IP.IsLoopback() {
			return n.IP.String(), nil
		}
	}
	return "", errors.New("no non-loopback IPv4 address: name one with -host")
}
