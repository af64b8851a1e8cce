package dubbo_test

import (
	"encoding/binary"
	"io"
	"net"
	"testing"

	hessian "github.com/apache/dubbo-go-hessian2"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

const bizException = "com.example.BizException"

// requireUnknownClass checks that this process (the gateway's side) has
// no Go type for class: an object of it, with a field that does not make
// it look like an exception, decodes into a map. hessian2 registers a
// nameless placeholder (UnknownException) for any unknown class it sees
// with Throwable's fields, so after a first call (go test -count 2) that
// placeholder is what decodes; it knows neither the name nor the fields.
func requireUnknownClass(t *testing.T, class string) {
	t.Helper()
	enc := hessian.NewEncoder()
	if err := enc.EncodeMapAsClass(class, map[string]any{"code": int32(1)}); err != nil {
		t.Fatal(err)
	}
	v, err := hessian.NewDecoder(enc.Buffer()).Decode()
	if err != nil {
		t.Fatal(err)
	}
	switch x := v.(type) {
	case map[string]any:
		if x[hessian.ClassKey] != class {
			t.Fatalf("got a map of class %v, want %s", x[hessian.ClassKey], class)
		}
	case *hessian.UnknownException:
	default:
		t.Fatalf("this process knows %s as %T, want it unknown", class, v)
	}
}

func debitProtocol(t *testing.T, mod func(*dubbo.Options)) *dubbo.Protocol {
	return newProtocol(t, func(o *dubbo.Options) {
		o.Methods["debit"] = dubbo.Method{Params: []dubbo.Param{p("account", "java.lang.String"), p("amount", "long")}}
		if mod != nil {
			mod(o)
		}
	})
}

// checkBizException checks the error of a debit call: the class, the
// message and the fields, the status dubbo.exceptions gives, and the JSON
// error body clients get.
func checkBizException(t *testing.T, err error, status int) {
	t.Helper()
	ge := generic.AsError(err)
	if err == nil || ge.Code != generic.CodeBackendException {
		t.Fatalf("got %v, want BACKEND_EXCEPTION", err)
	}
	if ge.Exception != bizException || ge.Message != "insufficient balance" || string(ge.Fields) != `{"code":4001}` {
		t.Fatalf("got exception %q message %q fields %s, want %s \"insufficient balance\" {\"code\":4001}",
			ge.Exception, ge.Message, ge.Fields, bizException)
	}
	if got := ge.HTTPStatus(); got != status {
		t.Fatalf("got status %d, want %d", got, status)
	}
	want := `{"error":{"code":"BACKEND_EXCEPTION","message":"insufficient balance","protocol":"dubbo",` +
		`"service":"org.rpcbridge.test.TypesService","method":"debit","exception":"com.example.BizException","fields":{"code":4001}}}`
	if got := string(ge.MarshalBody()); got != want {
		t.Fatalf("got body\n%s\nwant\n%s", got, want)
	}
}

// A provider throws its own exception class, which this process has
// never registered: the class, message and fields come through, and
// dubbo.exceptions maps the class to a status.
func TestUnknownExceptionClassKeepsClassAndFields(t *testing.T) {
	// The provider runs in its own process, the only one registering
	// com.example.BizException (see testprovider.BizException).
	ch := testprovider.StartChild(t, "dubbo", false)
	requireUnknownClass(t, bizException)

	c := dial(t, debitProtocol(t, nil), ch.Addr)
	_, err := invoke(t, c, "debit", `{"account": "A-1", "amount": 100}`)
	checkBizException(t, err, 502)

	mapped := dial(t, debitProtocol(t, func(o *dubbo.Options) {
		o.ExceptionStatus = map[string]int{bizException: 409}
	}), ch.Addr)
	_, err = invoke(t, mapped, "debit", `{"account": "A-1", "amount": 100}`)
	checkBizException(t, err, 409)

	// Known exceptions read as before, and the connection survives.
	_, err = invoke(t, c, "fail", `{"id": 7}`)
	if ge := generic.AsError(err); ge.Exception != "org.rpcbridge.test.UserNotFoundException" || ge.Message != "user 7 not found" || ge.Fields != nil {
		t.Fatalf("fail: got exception %q message %q fields %s, want org.rpcbridge.test.UserNotFoundException \"user 7 not found\" and no fields",
			ge.Exception, ge.Message, ge.Fields)
	}
	if got, err := invoke(t, c, "echoLong", `{"v": 5}`); err != nil || got != "5" {
		t.Fatalf("after exceptions: got %s, %v want 5", got, err)
	}
}

// javaProvider answers every Dubbo request on 127.0.0.1 with reply as the
// body of a response, as a Java provider would (heartbeats get their
// empty answer). It runs until the test binary exits: closing a
// connection dubbo-go still holds is a data race inside dubbo-getty (see
// stopped_norace_test.go).
func javaProvider(t *testing.T, reply []byte) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			conn, err := lis.Accept()
			if err != nil {
				return
			}
			go serveDubbo(conn, reply)
		}
	}()
	return lis.Addr().String()
}

// serveDubbo reads requests (16-byte header: magic 0xdabb, flags,
// status, request id, body length; then the body) and writes responses.
func serveDubbo(conn net.Conn, reply []byte) {
	defer conn.Close()
	const (
		flagRequest = 0x80
		flagTwoWay  = 0x40
		flagEvent   = 0x20
		hessian2    = 0x02
		statusOK    = 20
	)
	hdr := make([]byte, 16)
	for {
		if _, err := io.ReadFull(conn, hdr); err != nil {
			return
		}
		if _, err := io.CopyN(io.Discard, conn, int64(binary.BigEndian.Uint32(hdr[12:]))); err != nil {
			return
		}
		flags := hdr[2]
		if flags&flagRequest == 0 || flags&(flagTwoWay|flagEvent) == 0 {
			continue
		}
		body, out := reply, byte(hessian2)
		if flags&flagEvent != 0 {
			body, out = []byte{'N'}, hessian2|flagEvent
		}
		resp := append([]byte{0xda, 0xbb, out, statusOK}, hdr[4:12]...)
		resp = binary.BigEndian.AppendUint32(resp, uint32(len(body)))
		if _, err := conn.Write(append(resp, body...)); err != nil {
			return
		}
	}
}

// The bytes a Java provider (Dubbo 3, hessian-lite) sends when its method
// throws com.example.BizException, as the exception itself and wrapped by
// a generic call's GenericException (see JavaBizExceptionReply), read
// through dubbo-go as the gateway calls.
func TestJavaProviderExceptionBytes(t *testing.T) {
	for _, wrapped := range []bool{false, true} {
		requireUnknownClass(t, bizException)
		addr := javaProvider(t, dubbo.JavaBizExceptionReply(wrapped))
		c := dial(t, debitProtocol(t, func(o *dubbo.Options) {
			o.ExceptionStatus = map[string]int{bizException: 422}
		}), addr)
		_, err := invoke(t, c, "debit", `{"account": "A-1", "amount": 100}`)
		checkBizException(t, err, 422)
	}
}

// dubbo-go's Triple client reads only the call's status and message
// (it has no support for the exception object Java's Triple can send):
// the class and fields cannot come through.
func TestUnknownExceptionOverTripleKeepsOnlyTheMessage(t *testing.T) {
	ch := testprovider.StartChild(t, "tri", false)
	c := dial(t, debitProtocol(t, func(o *dubbo.Options) { o.Protocol = "tri" }), ch.Addr)
	_, err := invoke(t, c, "debit", `{"account": "A-1", "amount": 100}`)
	ge := generic.AsError(err)
	if err == nil || ge.Code != generic.CodeBackendException || ge.Message != "insufficient balance" ||
		ge.Exception != "" || ge.Fields != nil || ge.BackendCode != 2 {
		t.Fatalf("got %v (exception %q fields %s backend code %d), want BACKEND_EXCEPTION \"insufficient balance\" with backend code 2 and no class or fields",
			err, ge.Exception, ge.Fields, ge.BackendCode)
	}
}
