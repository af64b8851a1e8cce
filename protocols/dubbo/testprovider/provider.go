// Package testprovider is a dubbo-go provider for rpcbridge's Dubbo adapter
// tests: one Go service whose methods cover the Java types the adapter
// converts, served over the dubbo protocol (Hessian2) or Triple on
// 127.0.0.1.
package testprovider

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"time"

	"dubbo.apache.org/dubbo-go/v3"
	"dubbo.apache.org/dubbo-go/v3/common/constant"
	"dubbo.apache.org/dubbo-go/v3/common/extension"
	"dubbo.apache.org/dubbo-go/v3/graceful_shutdown"
	"dubbo.apache.org/dubbo-go/v3/logger"
	"dubbo.apache.org/dubbo-go/v3/protocol"
	"dubbo.apache.org/dubbo-go/v3/registry"
	"dubbo.apache.org/dubbo-go/v3/server"
	hessian "github.com/apache/dubbo-go-hessian2"
	"github.com/apache/dubbo-go-hessian2/java_exception"
	big "github.com/dubbogo/gost/math/big"

	// Extensions the provider needs, registered by their packages.
	_ "dubbo.apache.org/dubbo-go/v3/filter/echo"
	_ "dubbo.apache.org/dubbo-go/v3/filter/generic"
	_ "dubbo.apache.org/dubbo-go/v3/filter/graceful_shutdown"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/dubbo"
	_ "dubbo.apache.org/dubbo-go/v3/protocol/triple"
	_ "dubbo.apache.org/dubbo-go/v3/proxy/proxy_factory"
	_ "dubbo.apache.org/dubbo-go/v3/registry/protocol"
	_ "dubbo.apache.org/dubbo-go/v3/registry/zookeeper"
)

// Interface is the Java interface name the service is exported under.
const Interface = "org.rpcbridge.test.TypesService"

// Address is a nested POJO.
type Address struct {
	City string `hessian:"city"`
	Zip  string `hessian:"zip"`
}

// JavaClassName implements hessian.POJO.
func (Address) JavaClassName() string { return "org.rpcbridge.test.Address" }

// User is a POJO with scalar, list, date and nested POJO fields.
//
// dubbo-go's provider names generalised reply fields by lower-casing the
// Go name's first letter and ignores hessian tags, so Go names here are
// chosen to give the Java names (Id, not ID). Dates are left out: dubbo-go
// generalises a time.Time field into an empty map.
type User struct {
	Id      int64    `hessian:"id"`
	Name    string   `hessian:"name"`
	Age     int32    `hessian:"age"`
	Tags    []string `hessian:"tags"`
	Address *Address `hessian:"address"`
}

// JavaClassName implements hessian.POJO.
func (User) JavaClassName() string { return "org.rpcbridge.test.User" }

// Color is a Java enum.
type Color hessian.JavaEnum

// Color values.
const (
	Red Color = iota
	Green
	Blue
)

var colorNames = [...]string{"RED", "GREEN", "BLUE"}

// JavaClassName implements hessian.POJOEnum.
func (Color) JavaClassName() string { return "org.rpcbridge.test.Color" }

// String implements hessian.POJOEnum.
func (c Color) String() string {
	if int(c) >= 0 && int(c) < len(colorNames) {
		return colorNames[c]
	}
	return strconv.Itoa(int(c))
}

// EnumValue implements hessian.POJOEnum.
func (Color) EnumValue(s string) hessian.JavaEnum {
	for i, n := range colorNames {
		if n == s {
			return hessian.JavaEnum(i)
		}
	}
	return hessian.InvalidJavaEnum
}

// ApacheGenericException is the wire form of Java's
// org.apache.dubbo.rpc.service.GenericException, which Java providers
// throw from generic calls. Its first two fields must stay first: a
// process that registered another Go type under this Java name encodes it
// by that type's field list.
type ApacheGenericException struct {
	ExceptionClass   string `hessian:"exceptionClass"`
	ExceptionMessage string `hessian:"exceptionMessage"`
}

// Error implements error.
func (e *ApacheGenericException) Error() string { return e.ExceptionMessage }

// JavaClassName implements hessian.POJO.
func (*ApacheGenericException) JavaClassName() string {
	return "org.apache.dubbo.rpc.service.GenericException"
}

// GetStackTrace implements java_exception.Throwabler.
func (*ApacheGenericException) GetStackTrace() []java_exception.StackTraceElement { return nil }

// BizException is the wire form of a Java provider's own exception class
//
//	package com.example;
//	public class BizException extends RuntimeException {
//	    private final int code;
//	    ...
//	}
//
// as Java's Hessian (JavaSerializer) writes it: an object with a class
// definition listing the fields of the class and then of its
// superclasses, primitive and java.lang-typed fields first (code,
// Throwable's detailMessage and cause), then the others (stackTrace,
// suppressedExceptions). A Throwable with no cause set has cause ==
// this, written as a reference to the exception itself.
//
// Only provider processes started by StartChild register it (see
// runChild): the process calling them, the gateway under test, has never
// heard of the class.
type BizException struct {
	Code                 int32                              `hessian:"code"`
	DetailMessage        string                             `hessian:"detailMessage"`
	Cause                java_exception.Throwabler          `hessian:"cause"`
	StackTrace           []java_exception.StackTraceElement `hessian:"stackTrace"`
	SuppressedExceptions []java_exception.Throwabler        `hessian:"suppressedExceptions"`
}

// Error implements error.
func (e *BizException) Error() string { return e.DetailMessage }

// JavaClassName implements hessian.POJO.
func (*BizException) JavaClassName() string { return "com.example.BizException" }

// GetStackTrace implements java_exception.Throwabler.
func (e *BizException) GetStackTrace() []java_exception.StackTraceElement { return e.StackTrace }

// Register registers the service's POJOs and enum with hessian. It may be
// called more than once.
func Register() {
	hessian.RegisterPOJO(&Address{})
	hessian.RegisterPOJO(&User{})
	hessian.RegisterJavaEnum(Red)
}

// Service is the test service. Marker tells providers of one interface
// apart (a different group or version).
type Service struct {
	Marker string
}

// Reference names the service inside its dubbo-go server; services of
// one interface in several groups or versions need different names.
func (s *Service) Reference() string { return "TypesService-" + s.Marker }

// Who returns the provider's marker.
func (s *Service) Who(ctx context.Context) (string, error) { return s.Marker, nil }

// Ping takes no argument.
func (s *Service) Ping(ctx context.Context) (string, error) { return "pong", nil }

// EchoLong echoes a long.
func (s *Service) EchoLong(ctx context.Context, v int64) (int64, error) { return v, nil }

// EchoInt echoes an int.
func (s *Service) EchoInt(ctx context.Context, v int32) (int32, error) { return v, nil }

// EchoShort echoes a short.
func (s *Service) EchoShort(ctx context.Context, v int16) (int16, error) { return v, nil }

// EchoByte echoes a byte.
func (s *Service) EchoByte(ctx context.Context, v int8) (int8, error) { return v, nil }

// EchoFloat echoes a float.
func (s *Service) EchoFloat(ctx context.Context, v float32) (float32, error) { return v, nil }

// EchoDouble echoes a double.
func (s *Service) EchoDouble(ctx context.Context, v float64) (float64, error) { return v, nil }

// EchoBool echoes a boolean.
func (s *Service) EchoBool(ctx context.Context, v bool) (bool, error) { return v, nil }

// EchoString echoes a string.
func (s *Service) EchoString(ctx context.Context, v string) (string, error) { return v, nil }

// EchoDecimal echoes a java.math.BigDecimal.
func (s *Service) EchoDecimal(ctx context.Context, v *big.Decimal) (*big.Decimal, error) {
	return v, nil
}

// EchoBigInteger echoes a java.math.BigInteger.
func (s *Service) EchoBigInteger(ctx context.Context, v *big.Integer) (*big.Integer, error) {
	return v, nil
}

// EchoDate returns the java.util.Date it received in RFC 3339 (UTC):
// dubbo-go's provider would generalise a time.Time reply into an empty
// map.
func (s *Service) EchoDate(ctx context.Context, v time.Time) (string, error) {
	return v.UTC().Format(time.RFC3339Nano), nil
}

// EchoColor echoes an enum.
func (s *Service) EchoColor(ctx context.Context, v Color) (Color, error) { return v, nil }

// EchoList echoes a java.util.List<Long>.
func (s *Service) EchoList(ctx context.Context, v []int64) ([]int64, error) { return v, nil }

// MakeMap returns a java.util.Map with nested values. (dubbo-go's
// provider cannot realise a generic map argument: its mapstructure step
// turns every key into "<interface {} Value>".)
func (s *Service) MakeMap(ctx context.Context, n int64) (map[string]any, error) {
	return map[string]any{
		"n":      n,
		"big":    int64(1) << 60,
		"nested": map[string]any{"list": []any{int32(1), "two", true}, "none": nil},
	}, nil
}

// EchoObject echoes a java.lang.Object.
func (s *Service) EchoObject(ctx context.Context, v any) (any, error) { return v, nil }

// SumInts adds an int[].
func (s *Service) SumInts(ctx context.Context, v []int32) (int64, error) {
	var n int64
	for _, x := range v {
		n += int64(x)
	}
	return n, nil
}

// Join joins a java.lang.String[] with a separator.
func (s *Service) Join(ctx context.Context, v []string, sep string) (string, error) {
	out := ""
	for i, x := range v {
		if i > 0 {
			out += sep
		}
		out += x
	}
	return out, nil
}

// CreateUser returns the user with its id set to 1000 + age.
func (s *Service) CreateUser(ctx context.Context, u *User) (*User, error) {
	if u == nil {
		return nil, errors.New("user is null")
	}
	out := *u
	out.Id = 1000 + int64(u.Age)
	return &out, nil
}

// Find stands in for a Java pair find(long) / find(String): it reports
// the type that arrived.
func (s *Service) Find(ctx context.Context, v any) (string, error) {
	switch x := v.(type) {
	case int64:
		return "long:" + strconv.FormatInt(x, 10), nil
	case string:
		return "string:" + x, nil
	}
	return fmt.Sprintf("other:%T", v), nil
}

// Fail throws a business exception as a dubbo-go provider does
// (com.alibaba.dubbo.rpc.service.GenericException on the wire).
func (s *Service) Fail(ctx context.Context, id int64) (string, error) {
	return "", &java_exception.DubboGenericException{
		ExceptionClass:   "org.rpcbridge.test.UserNotFoundException",
		ExceptionMessage: "user " + strconv.FormatInt(id, 10) + " not found",
	}
}

// FailApache throws as a Java Dubbo 3 provider does from a generic call
// (org.apache.dubbo.rpc.service.GenericException on the wire).
func (s *Service) FailApache(ctx context.Context, id int64) (string, error) {
	return "", &ApacheGenericException{
		ExceptionClass:   "java.lang.IllegalArgumentException",
		ExceptionMessage: "bad id " + strconv.FormatInt(id, 10),
	}
}

// Debit throws com.example.BizException (code 4001, "insufficient
// balance") as a Java provider's own code would. Call it on a child
// provider only (see BizException).
func (s *Service) Debit(ctx context.Context, account string, amount int64) (string, error) {
	e := &BizException{
		Code:          4001,
		DetailMessage: "insufficient balance",
		StackTrace: []java_exception.StackTraceElement{
			{DeclaringClass: "com.example.AccountService", MethodName: "debit", FileName: "AccountService.java", LineNumber: 42},
			{DeclaringClass: "com.example.AccountFacade", MethodName: "pay", FileName: "AccountFacade.java", LineNumber: 17},
		},
		SuppressedExceptions: []java_exception.Throwabler{},
	}
	e.Cause = e
	return "", e
}

// Slow sleeps for ms milliseconds.
func (s *Service) Slow(ctx context.Context, ms int64) (string, error) {
	time.Sleep(time.Duration(ms) * time.Millisecond)
	return "done", nil
}

// Attachment returns the value of the request attachment key.
func (s *Service) Attachment(ctx context.Context, key string) (string, error) {
	switch m := ctx.Value(constant.AttachmentKey).(type) {
	case map[string]any:
		switch v := m[key].(type) {
		case string:
			return v, nil
		case []string:
			if len(v) > 0 {
				return v[0], nil
			}
		}
	case map[string]string:
		return m[key], nil
	}
	return "", nil
}

// ReplyAttachments are the attachments Tagged adds to its reply: text,
// numbers and a boolean, a list, text a header cannot carry, and one
// whose name differs from its lower-case form.
func ReplyAttachments() map[string]any {
	return map[string]any{
		"x-trace-id":   "abc-123",
		"X-Mixed-Case": "M",
		"x-count":      int32(42),
		"x-big":        int64(1) << 60,
		"x-ok":         true,
		"x-ratio":      1.5,
		"x-list":       []string{"a", "b"},
		"x-bad":        "line\nbreak",
		"x-secret":     "not for the client",
	}
}

// Tagged adds ReplyAttachments to its reply (a dubbo-go provider's reply
// attachments are the ctx's attachment map, request attachments
// included) and answers "tagged", or, with fail, throws as Fail does.
func (s *Service) Tagged(ctx context.Context, fail bool) (string, error) {
	if m, ok := ctx.Value(constant.AttachmentKey).(map[string]any); ok {
		for k, v := range ReplyAttachments() {
			m[k] = v
		}
	}
	if fail {
		return "", &java_exception.DubboGenericException{
			ExceptionClass:   "org.rpcbridge.test.TaggedException",
			ExceptionMessage: "tagged and failed",
		}
	}
	return "tagged", nil
}

// Export is one service to serve.
type Export struct {
	Group, Version, Marker string
}

// Config says what to serve.
type Config struct {
	// Protocol is "dubbo" (default) or "tri".
	Protocol string
	// Exports are the services; none means one with no group and version
	// 1.0.0.
	Exports []Export
	// Registry is a ZooKeeper address ("127.0.0.1:2181") to register the
	// provider in, interface level; empty means none.
	Registry string
}

// Provider is a running provider.
type Provider struct {
	// Addr is host:port.
	Addr string
}

// Start serves the service on a free port of 127.0.0.1 and returns once
// the port accepts connections. dubbo-go's shutdown is process-wide, so a
// started provider runs until the process exits.
func Start(cfg Config) (*Provider, error) {
	Register()
	// dubbo-go creates protocol singletons lazily without locking: create
	// them here, before the server's goroutine does.
	extension.GetProtocol("dubbo")
	extension.GetProtocol("tri")
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	metaPort, err := freePort()
	if err != nil {
		return nil, err
	}
	var insOpts []dubbo.InstanceOption
	insOpts = append(insOpts,
		dubbo.WithName("rpcbridge-testprovider"),
		dubbo.WithLogger(logger.WithLevel("error")),
		dubbo.WithShutdown(graceful_shutdown.WithoutInternalSignal()),
		dubbo.WithMetadataServicePort(metaPort),
	)
	if cfg.Registry != "" {
		insOpts = append(insOpts, dubbo.WithRegistry(
			registry.WithZookeeper(),
			registry.WithAddress(cfg.Registry),
			registry.WithRegisterInterface(),
			registry.WithoutUseAsMetaReport(),
			registry.WithoutUseAsConfigCenter(),
		))
	}
	ins, err := dubbo.NewInstance(insOpts...)
	if err != nil {
		return nil, err
	}
	popt, pid := protocol.WithDubbo(), "dubbo"
	if cfg.Protocol == "tri" {
		popt, pid = protocol.WithTriple(), "tri"
	}
	srv, err := ins.NewServer(
		server.WithServerProtocol(popt, protocol.WithIp("127.0.0.1"), protocol.WithPort(port)),
		server.WithServerProtocolIDs([]string{pid}),
	)
	if err != nil {
		return nil, err
	}
	exports := cfg.Exports
	if len(exports) == 0 {
		exports = []Export{{Version: "1.0.0", Marker: "main"}}
	}
	for _, e := range exports {
		opts := []server.ServiceOption{server.WithInterface(Interface), server.WithVersion(e.Version), server.WithProtocolIDs([]string{pid}),
			// Only the filters this package imports.
			server.WithFilter(constant.EchoFilterKey + "," + constant.GenericServiceFilterKey + "," + constant.GracefulShutdownProviderFilterKey),
		}
		if pid == "tri" {
			// Generic calls over Triple carry Hessian2, not protobuf.
			opts = append(opts, server.WithSerialization(constant.Hessian2Serialization))
		}
		if e.Group != "" {
			opts = append(opts, server.WithGroup(e.Group))
		}
		if cfg.Registry == "" {
			opts = append(opts, server.WithNotRegister())
		}
		if err := srv.RegisterService(&Service{Marker: e.Marker}, opts...); err != nil {
			return nil, err
		}
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.Serve() }()
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
		if err == nil {
			c.Close()
			return &Provider{Addr: addr}, nil
		}
		select {
		case err := <-serveErr:
			return nil, fmt.Errorf("provider stopped: %v", err)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("provider did not listen on %s", addr)
		}
	}
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
