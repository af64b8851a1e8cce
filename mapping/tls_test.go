package mapping_test

import (
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/testcerts"
	"github.com/rpcbridge/rpcbridge/mapping"
)

// A backend client certificate replaced on disk is used by new
// connections without rebuilding the configuration.
func TestARotatedClientCertificateReachesNewConnections(t *testing.T) {
	serverCA, clientCA, otherCA := testcerts.NewCA(t), testcerts.NewCA(t), testcerts.NewCA(t)
	l, err := tls.Listen("tcp", "127.0.0.1:0", testcerts.ServerConfig(serverCA.Server(t, "127.0.0.1"), clientCA))
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				if tc, ok := c.(*tls.Conn); ok && tc.Handshake() == nil {
					c.Write([]byte("ok"))
				}
			}()
		}
	}()
	cert, key := testcerts.Files(t, otherCA.Client(t, "gateway")) // not trusted by the backend yet
	cfg, err := (&mapping.ClientTLS{CA: serverCA.File(t), Cert: cert, Key: key}).Config()
	if err != nil {
		t.Fatal(err)
	}
	accepted := func() bool {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 5 * time.Second}, "tcp", l.Addr().String(), cfg)
		if err != nil {
			return false
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(5 * time.Second))
		b := make([]byte, 2)
		_, err = c.Read(b)
		return err == nil && string(b) == "ok"
	}
	if accepted() {
		t.Fatal("a certificate of an untrusted CA: got accepted, want refused")
	}
	good, goodKey := testcerts.Files(t, clientCA.Client(t, "gateway"))
	testcerts.Replace(t, good, cert)
	testcerts.Replace(t, goodKey, key)
	deadline := time.Now().Add(5 * time.Second)
	for !accepted() {
		if time.Now().After(deadline) {
			t.Fatal("the rotated client certificate: got refused for 5 s, want accepted")
		}
		time.Sleep(50 * time.Millisecond)
	}
}
