package main

import (
	"bytes"
	"context"
	"github.com/rpcbridge/rpcbridge/protocols/tars"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/mapping"
)

// demoCurlLines starts `rpcbridge demo` with args until the test ends and
// returns the curl lines it prints.
func demoCurlLines(t *testing.T, args ...string) (lines []string, out, errOut *syncBuffer) {
	t.Helper()
	out, errOut = runCommandProcess(t, append([]string{"demo"}, args...)...)
	waitFor(t, "the demo's banner", 60*time.Second, func() bool {
		return strings.Contains(out.String(), "Press Ctrl-C") || strings.Contains(errOut.String(), "rpcbridge:")
	})
	if !strings.Contains(out.String(), "Press Ctrl-C") {
		t.Fatalf("demo %v did not start: %s", args, errOut.String())
	}
	for _, l := range strings.Split(out.String(), "\n") {
		if l = strings.TrimSpace(l); strings.HasPrefix(l, "curl ") {
			lines = append(lines, l)
		}
	}
	return lines, out, errOut
}

func TestDemoPrintsCurlLinesThatWork(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		t.Fatalf("curl is needed to run the demo's printed lines: %v", err)
	}
	listen, admin := freeAddr(t), freeAddr(t)
	lines, out, errOut := demoCurlLines(t, "-listen", listen, "-admin", admin)
	// What some lines must answer, by the end of the line: every protocol
	// has at least one, so the demo cannot drop one unnoticed.
	want := map[string][]string{
		"/v1/people/1":         {`"id":"1"`},
		"/v1/quotes/600000":    {`"code":"600000"`},
		"/v1/orders/1":         {`"id":1,`, `"customer":"ada"`},
		"/v1/orders/99":        {`"exception":"OrderNotFound"`, `"message":"order 99 not found"`},
		"/v1/users/1":          {`"id":1,`, `"name":"ada"`, `"email":"ada@example.org"`, `"tags":["admin"]`},
		"/users/createUser":    {`"name":"grace"`, `"tags":["ops"]`, `"id":`},
		"/v1/users/404":        {"HTTP/1.1 404", `"exception":"org.rpcbridge.demo.UserNotFoundException"`, "user 404 not found"},
		"/v1/items/A-1":        {`"sku":"A-1"`, `"priceCents":450`},
		"/catalog/searchItems": {`"sku":"A-1"`},
		"/v1/items/Z-9":        {"HTTP/1.1 404", `"code":"NOT_FOUND"`, `no item \"Z-9\"`},
		"/v1/people/404":       {"HTTP/1.1 404"},
		"/metrics | grep rpcbridge_requests_total": {"rpcbridge_requests_total"},
	}
	seen := map[string]bool{}
	for _, l := range lines {
		cmd := exec.Command("sh", "-c", l)
		b, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s\n(stderr of the demo: %s)", l, err, b, errOut.String())
		}
		s := string(b)
		errorExpected := strings.Contains(l, "-i ") // the lines that show errors print the status line
		switch {
		case errorExpected && !strings.Contains(s, `{"error":{"code":`):
			t.Errorf("%s: got %s, want a JSON error", l, s)
		case !errorExpected && (strings.Contains(s, `"error"`) || len(strings.TrimSpace(s)) == 0):
			t.Errorf("%s: got %q, want a successful reply", l, s)
		}
		for suffix, subs := range want {
			if !strings.HasSuffix(strings.Trim(l, `'`), suffix) {
				continue
			}
			seen[suffix] = true
			for _, sub := range subs {
				if !strings.Contains(s, sub) {
					t.Errorf("%s: got %s, want it to contain %s", l, s, sub)
				}
			}
		}
	}
	for suffix := range want {
		if !seen[suffix] {
			t.Errorf("no printed curl line ends in %s; got:\n%s", suffix, out.String())
		}
	}
}

func TestDemoOnAWildcardAddressPrintsLoopbackURLs(t *testing.T) {
	for _, listen := range []string{"0.0.0.0:0", ":0"} {
		t.Run(listen, func(t *testing.T) {
			// (A control plane on a wildcard address needs an admin token.)
			lines, out, _ := demoCurlLines(t, "-listen", listen, "-admin", "127.0.0.1:0")
			if len(lines) == 0 {
				t.Fatalf("got no curl lines:\n%s", out.String())
			}
			for _, l := range lines {
				if !strings.Contains(l, "http://127.0.0.1:") || strings.Contains(l, "0.0.0.0") || strings.Contains(l, "[::]") {
					t.Errorf("got %q, want a URL on 127.0.0.1", l)
				}
			}
			// The first line is a plain GET: call it.
			url := strings.Fields(lines[0])[2]
			if code, body := get(url); code != 200 || !strings.Contains(body, `"id":"1"`) {
				t.Fatalf("GET %s: got %d %s, want 200 with person 1", url, code, body)
			}
		})
	}
}

func TestDemoYAMLQuotesEveryValue(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "it's a dir")
	vars := map[string]string{
		"listen": "[::]:8080", "admin": ":9901",
		"people": "127.0.0.1:1", "stock": "127.0.0.1:2", "orders": "127.0.0.1:3", "users": "127.0.0.1:4", "catalog": "127.0.0.1:5",
		"stockidl": filepath.Join(dir, "Stock.tars"), "ordersidl": filepath.Join(dir, "order.thrift"),
	}
	cfg, err := mapping.Decode([]byte(demoYAML(vars)), plugins())
	if err != nil {
		t.Fatalf("demoYAML with [::]:8080 and a quote in a path: %v", err)
	}
	if cfg.Server.Listen != "[::]:8080" || cfg.Server.Admin != ":9901" {
		t.Errorf("got listen %q admin %q, want [::]:8080 and :9901", cfg.Server.Listen, cfg.Server.Admin)
	}
	if s := cfg.Service("stock"); s == nil || s.Proto.(*tars.Config).IDL != vars["stockidl"] {
		t.Errorf("got stock service %+v, want tars.idl %q", s, vars["stockidl"])
	}
	if s := cfg.Service("users"); s == nil || len(s.Instances) != 1 || s.Instances[0].Address != "127.0.0.1:4" {
		t.Errorf("got users service %+v, want one instance at 127.0.0.1:4", s)
	}
}

func TestClientAddrReplacesWildcardHosts(t *testing.T) {
	for _, c := range []struct {
		addr net.Addr
		want string
	}{
		{&net.TCPAddr{IP: net.IPv4zero, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv6unspecified, Port: 8080}, "127.0.0.1:8080"},
		{&net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}, "127.0.0.1:1"},
		{&net.TCPAddr{IP: net.IPv4(192, 0, 2, 7), Port: 2}, "192.0.2.7:2"},
		{&net.TCPAddr{IP: net.IPv6loopback, Port: 3}, "[::1]:3"},
	} {
		if got := clientAddr(c.addr); got != c.want {
			t.Errorf("clientAddr(%v): got %s want %s", c.addr, got, c.want)
		}
	}
}

func TestDemoErrorsComeBackAsErrorsNotPanics(t *testing.T) {
	// A -dir that cannot be a directory: the very first step fails.
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	d, err := startDemoBackends(filepath.Join(file, "sub"))
	if err == nil || d != nil || !strings.Contains(err.Error(), "-dir") {
		t.Fatalf("-dir under a file: got %v, %v, want a nil result and an error naming -dir", d, err)
	}

	// An IDL file that cannot be written, after four backends started:
	// they are stopped, and what was in the directory stays.
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, ordersIDLName), 0o755); err != nil {
		t.Fatal(err)
	}
	d, err = startDemoBackends(dir)
	if err == nil || d != nil || !strings.Contains(err.Error(), ordersIDLName) {
		t.Fatalf("unwritable %s: got %v, %v, want a nil result and an error naming it", ordersIDLName, d, err)
	}
	if st, err := os.Stat(filepath.Join(dir, ordersIDLName)); err != nil || !st.IsDir() {
		t.Errorf("the directory in the way: got %v, %v, want it left alone", st, err)
	}
	if _, err := os.Stat(filepath.Join(dir, stockIDLName)); !os.IsNotExist(err) {
		t.Errorf("%s after the failure: got %v, want it removed", stockIDLName, err)
	}

	// Through the command: exit 1, one message, and the listeners closed.
	listen, admin := freeAddr(t), freeAddr(t)
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"demo", "-listen", listen, "-admin", admin, "-dir", filepath.Join(file, "sub")}, &out, &errOut); code != 1 || !strings.Contains(errOut.String(), "rpcbridge: -dir") {
		t.Fatalf("demo with a bad -dir: got exit %d, stderr %q, want 1 and a -dir error", code, errOut.String())
	}
	for _, a := range []string{listen, admin} {
		l, err := net.Listen("tcp", a)
		if err != nil {
			t.Fatalf("%s after the failed demo: got %v, want it free", a, err)
		}
		l.Close()
	}
}
