package java_test

// End to end tests of the Java SDK (sdk/java): Java backends register with
// it in a real ZooKeeper and a gateway, built in-process on the same
// packages the rpcbridge command uses, routes to them. The Java side is
// testdata/e2e/Backend.java, compiled against the jar `make jar` builds.
// The Java unit tests run with `make -C sdk/java test` (make test runs it).
//
// java, javac, jar, make and the Debian jars (libzookeeper-java,
// libslf4j-java) are required: when missing the tests fail, never skip
// (`make deps` installs them).

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/internal/syncbuf"
	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/mapping"
	phttp "github.com/rpcbridge/rpcbridge/protocols/http"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
	"github.com/rpcbridge/rpcbridge/sdk"
)

// ---- the Makefile's dependency list and pom.xml ----

// dep is one entry of the Makefile's COMPILE_DEPS or TEST_DEPS.
type dep struct {
	coord string // group:artifact:version:scope
	jar   string
}

// makefile reads sdk/java/Makefile: its variables (continuation lines
// joined) and the dependency lists.
func makefile(t *testing.T) (vars map[string]string, deps []dep) {
	t.Helper()
	b, err := os.ReadFile("Makefile")
	if err != nil {
		t.Fatal(err)
	}
	text := strings.ReplaceAll(string(b), "\\\n", " ")
	vars = map[string]string{}
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(line, "#") || strings.HasPrefix(line, "\t") {
			continue
		}
		for _, op := range []string{"?=", ":="} {
			name, val, ok := strings.Cut(line, op)
			if name = strings.TrimSpace(name); ok && name != "" && !strings.ContainsAny(name, " \t$():") {
				vars[name] = strings.TrimSpace(val)
				break
			}
		}
	}
	for _, list := range []struct{ name, scope string }{{"COMPILE_DEPS", "compile"}, {"TEST_DEPS", "test"}} {
		val, ok := vars[list.name]
		if !ok {
			t.Fatalf("Makefile: %s not found", list.name)
		}
		for _, f := range strings.Fields(val) {
			coord, jar, ok := strings.Cut(f, "=")
			if !ok || strings.Count(coord, ":") != 2 {
				t.Fatalf("Makefile: %s: got %q, want group:artifact:version=jar", list.name, f)
			}
			jar = strings.ReplaceAll(jar, "$(JAVA_LIB)", vars["JAVA_LIB"])
			deps = append(deps, dep{coord: coord + ":" + list.scope, jar: jar})
		}
	}
	return vars, deps
}

func TestPomListsTheMakefileDependencies(t *testing.T) {
	vars, deps := makefile(t)
	var want []string
	for _, d := range deps {
		want = append(want, d.coord)
	}
	b, err := os.ReadFile("pom.xml")
	if err != nil {
		t.Fatal(err)
	}
	var pom struct {
		GroupID      string `xml:"groupId"`
		ArtifactID   string `xml:"artifactId"`
		Version      string `xml:"version"`
		Dependencies []struct {
			GroupID    string `xml:"groupId"`
			ArtifactID string `xml:"artifactId"`
			Version    string `xml:"version"`
			Scope      string `xml:"scope"`
		} `xml:"dependencies>dependency"`
	}
	if err := xml.Unmarshal(b, &pom); err != nil {
		t.Fatalf("pom.xml: %v", err)
	}
	var got []string
	for _, d := range pom.Dependencies {
		scope := d.Scope
		if scope == "" {
			scope = "compile"
		}
		got = append(got, d.GroupID+":"+d.ArtifactID+":"+d.Version+":"+scope)
	}
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Fatalf("pom.xml dependencies:\n got %q\nwant %q (the Makefile's COMPILE_DEPS and TEST_DEPS)", got, want)
	}
	if got, want := pom.GroupID+":"+pom.ArtifactID+":"+pom.Version, "io.github.rpcbridge:rpcbridge-sdk:"+vars["VERSION"]; got != want {
		t.Fatalf("pom.xml coordinates: got %s want %s (the Makefile's VERSION)", got, want)
	}
}

// ---- building the SDK and the Java test backend ----

var (
	buildOnce sync.Once
	buildDir  string
	buildCP   string // the backend's class path
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
	os.Exit(code)
}

// javaClassPath builds the SDK jar with the Makefile (into a temporary
// directory, so that concurrent builds do not meet) and the test backend
// against it, once per test binary, and returns the class path to run the
// backend with.
func javaClassPath(t *testing.T) string {
	t.Helper()
	for _, tool := range []string{"java", "javac", "jar", "make"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s missing (%v): run `make deps` (it installs default-jdk-headless)", tool, err)
		}
	}
	vars, deps := makefile(t)
	var runtime []string // the SDK's dependencies and a silent SLF4J binding
	for _, d := range deps {
		if strings.HasSuffix(d.coord, ":compile") || strings.Contains(d.coord, ":slf4j-nop:") {
			if _, err := os.Stat(d.jar); err != nil {
				t.Fatalf("%s missing (%v): run `make deps` (it installs libzookeeper-java and junit5)", d.jar, err)
			}
			runtime = append(runtime, d.jar)
		}
	}
	buildOnce.Do(func() {
		buildDir, buildErr = os.MkdirTemp("", "rpcbridge-java-sdk-")
		if buildErr != nil {
			return
		}
		out, err := exec.Command("make", "--no-print-directory", "jar", "BUILD="+buildDir).CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("make jar: %v\n%s", err, out)
			return
		}
		jar := filepath.Join(buildDir, "rpcbridge-sdk-"+vars["VERSION"]+".jar")
		classes := filepath.Join(buildDir, "e2e")
		cp := strings.Join(append([]string{jar}, runtime...), ":")
		out, err = exec.Command("javac", "--release", "17", "-Xlint:all,-path", "-Werror", "-proc:none", "-parameters",
			"-cp", cp, "-d", classes, "testdata/e2e/Backend.java").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("javac testdata/e2e/Backend.java: %v\n%s", err, out)
			return
		}
		buildCP = classes + ":" + cp
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildCP
}

// ---- Java processes ----

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer = syncbuf.Buffer

// javaProc is one JVM running e2e.Backend.
type javaProc struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *syncBuffer // stdout and stderr
	first  string      // the first line of stdout after the mode's prefix
	exited chan struct{}
	at     time.Time // when it exited
	err    error     // Wait's
}

// startJava runs e2e.Backend with args and waits for the line starting
// with ready ("READY" or "REGISTERED"); the process is killed when the test
// ends.
func startJava(t *testing.T, ready string, args ...string) *javaProc {
	t.Helper()
	cp := javaClassPath(t)
	cmd := exec.Command("java", append([]string{"-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC", "-Xmx96m", "-cp", cp, "e2e.Backend"}, args...)...)
	p := &javaProc{cmd: cmd, out: &syncBuffer{}, exited: make(chan struct{})}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = p.out
	if p.stdin, err = cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start java: %v", err)
	}
	lines := make(chan string, 16)
	go func() {
		s := bufio.NewScanner(stdout)
		for s.Scan() {
			fmt.Fprintln(p.out, s.Text())
			select {
			case lines <- s.Text():
			default:
			}
		}
		p.err = cmd.Wait()
		p.at = time.Now()
		close(p.exited)
	}()
	t.Cleanup(func() {
		select {
		case <-p.exited:
		default:
			_ = cmd.Process.Kill()
			<-p.exited
		}
		if t.Failed() {
			t.Logf("java %v output:\n%s", args, p.out.String())
		}
	})
	deadline := time.After(60 * time.Second) // a JVM on a busy 2-core machine
	for {
		select {
		case l := <-lines:
			if rest, ok := strings.CutPrefix(l, ready+" "); ok {
				p.first = rest
				return p
			}
		case <-p.exited:
			t.Fatalf("java %v exited before %s (%v):\n%s", args, ready, p.err, p.out.String())
		case <-deadline:
			t.Fatalf("java %v: no %s line within 60s:\n%s", args, ready, p.out.String())
		}
	}
}

// startBackend starts a Java HTTP backend registered as service hello
// under /rb and returns its address.
func startBackend(t *testing.T, zkAddr, name string, extra ...string) (*javaProc, string) {
	t.Helper()
	p := startJava(t, "READY", append([]string{"serve", "zk=" + zkAddr, "root=/rb", "service=hello", "name=" + name}, extra...)...)
	return p, p.first
}

// ---- the gateway ----

const gatewayYAML = `
registries:
  - name: zk
    zookeeper: {servers: ["%s"], root: /rb, session_timeout: 4s}
services:
  - name: hello
    protocol: http
    discovery: {registry: zk}
    timeout: 3s
    retries: 0
routes:
  - match: {path: "/greet/{name}", methods: [GET]}
    service: hello
    method: hello
`

// zkDiscovery is the gateway's discovery over one ZooKeeper registry, as
// the command's (cmd/rpcbridge) is for SDK-registered services.
type zkDiscovery struct{ reg *zookeeper.Registry }

func (d zkDiscovery) Watch(ctx context.Context, svc *mapping.Service, _ *mapping.Registry) (registry.Watcher, error) {
	return d.reg.Watch(ctx, svc.Name)
}

// startGateway serves a gateway for service hello, discovered under /rb.
func startGateway(t *testing.T, zkAddr string) string {
	t.Helper()
	raw := []byte(fmt.Sprintf(gatewayYAML, zkAddr))
	cfg, err := mapping.Parse(raw, mapping.Plugins{"http": phttp.Plugin{}})
	if err != nil {
		t.Fatalf("config: %v", err)
	}
	reg, err := zookeeper.New(zookeeper.Options{Servers: []string{zkAddr}, Root: "/rb", SessionTimeout: 4 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { reg.Close() }) // after the gateway's Close
	g, err := gateway.New(cfg, raw, gateway.Options{Discovery: zkDiscovery{reg}, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	return srv.URL
}

var client = &http.Client{Timeout: 5 * time.Second}

// get returns the status and body; a transport error is status 0.
func get(url string) (int, string) {
	resp, err := client.Get(url)
	if err != nil {
		return 0, err.Error()
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// from is the backend name in a reply, "" when it is not a backend's.
func from(body string) string {
	var r struct {
		From string `json:"from"`
	}
	if json.Unmarshal([]byte(body), &r) != nil {
		return ""
	}
	return r.From
}

// until polls ok until it holds, failing the test after d.
func until(t *testing.T, d time.Duration, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		<-tick.C
	}
}

// zkConn is a plain ZooKeeper client for reading nodes.
func zkConn(t *testing.T, addr string) *zk.Conn {
	t.Helper()
	c, _, err := zk.Connect([]string{addr}, 4*time.Second, zk.WithLogInfo(false), zk.WithLogger(quiet{}))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

type quiet struct{}

func (quiet) Printf(string, ...any) {}

// node reads a node, waiting up to 10s for it to exist.
func node(t *testing.T, c *zk.Conn, path string) ([]byte, *zk.Stat) {
	t.Helper()
	var data []byte
	var st *zk.Stat
	until(t, 10*time.Second, "node "+path, func() bool {
		var err error
		data, st, err = c.Get(path)
		return err == nil
	})
	return data, st
}

// ---- the tests ----

func TestJavaBackendIsRoutedByTheGatewayAndItsReportedRouteWorks(t *testing.T) {
	zs := zktest.Start(t)
	base := startGateway(t, zs.Addr())
	_, addr := startBackend(t, zs.Addr(), "A")

	// The configured route, once the gateway has seen the instance.
	var status int
	var body string
	until(t, 10*time.Second, "the configured route to reach the Java backend", func() bool {
		status, body = get(base + "/greet/ada")
		return status == 200
	})
	if want := `{"from":"A","name":"ada"}`; body != want {
		t.Fatalf("GET /greet/ada: got %d %s want 200 %s", status, body, want)
	}
	// The route the SDK reported (scanned from @RpcBridgeApi).
	until(t, 10*time.Second, "the SDK-reported route", func() bool {
		status, body = get(base + "/v1/hello/grace")
		return status == 200
	})
	if want := `{"from":"A","name":"grace"}`; body != want {
		t.Fatalf("GET /v1/hello/grace: got %d %s want 200 %s", status, body, want)
	}
	// Reported for GET only.
	resp, err := client.Post(base+"/v1/hello/grace", "application/json", strings.NewReader("{}"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 405 {
		t.Fatalf("POST /v1/hello/grace: got %d want 405 (the reported route is GET only)", resp.StatusCode)
	}

	// The node the Java SDK wrote decodes into the Go registry types,
	// every field known, with exactly these values.
	data, st := node(t, zkConn(t, zs.Addr()), "/rb/services/hello/instances/"+addr)
	if st.EphemeralOwner == 0 {
		t.Fatalf("node: got a persistent node, want an ephemeral one")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var got registry.Instance
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("decode %s: %v", data, err)
	}
	want := registry.Instance{Service: "hello", Address: addr, Protocol: "http", Weight: 100, Online: true, Version: "java-A",
		APIs: []registry.API{{Name: "hello", Path: "/v1/hello/{name}", HTTPMethod: "GET", ParamNames: []string{"name"}}}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("node decoded:\n got %+v\nwant %+v", got, want)
	}
	if again, _ := json.Marshal(&got); !bytes.Equal(again, data) {
		t.Fatalf("node data and Go's encoding of it differ:\n java %s\n   go %s", data, again)
	}
}

// counts sends n requests and counts the replies by backend ("" for
// failures).
func counts(base string, n int) map[string]int {
	c := map[string]int{}
	for range n {
		status, body := get(base + "/greet/x")
		if status != 200 {
			c[""]++
			continue
		}
		c[from(body)]++
	}
	return c
}

func TestSetOnlineFalseTakesTheJavaBackendOutOfRotation(t *testing.T) {
	zs := zktest.Start(t)
	base := startGateway(t, zs.Addr())
	_, addrA := startBackend(t, zs.Addr(), "A")
	startBackend(t, zs.Addr(), "B")
	seen := map[string]bool{}
	until(t, 15*time.Second, "traffic to both A and B", func() bool {
		_, body := get(base + "/greet/x")
		seen[from(body)] = true
		return seen["A"] && seen["B"]
	})

	if status, body := get("http://" + addrA + "/control/online?v=false"); status != 200 || body != `{"online":false}` {
		t.Fatalf("setOnline(false): got %d %s want 200 {\"online\":false}", status, body)
	}
	// Once the gateway has seen the change (20 replies in a row from B),
	// A gets nothing.
	streak := 0
	until(t, 10*time.Second, "A to leave the rotation", func() bool {
		_, body := get(base + "/greet/x")
		if from(body) == "B" {
			streak++
		} else {
			streak = 0
		}
		return streak >= 20
	})
	if got, want := counts(base, 100), map[string]int{"B": 100}; !reflect.DeepEqual(got, want) {
		t.Fatalf("replies by backend with A offline: got %v want %v", got, want)
	}

	if status, body := get("http://" + addrA + "/control/online?v=true"); status != 200 || body != `{"online":true}` {
		t.Fatalf("setOnline(true): got %d %s want 200 {\"online\":true}", status, body)
	}
	until(t, 10*time.Second, "A back in the rotation", func() bool {
		_, body := get(base + "/greet/x")
		return from(body) == "A"
	})
}

// load sends GET requests from four goroutines until halted, counting
// replies by backend and failures.
type load struct {
	mu     sync.Mutex
	by     map[string]int
	failed int
	first  string // the first failure
	stop   chan struct{}
	once   sync.Once
	wg     sync.WaitGroup
}

func startLoad(t *testing.T, url string) *load {
	l := &load{by: map[string]int{}, stop: make(chan struct{})}
	t.Cleanup(l.halt)
	for range 4 {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			for {
				select {
				case <-l.stop:
					return
				default:
				}
				status, body := get(url)
				l.mu.Lock()
				if status == 200 {
					l.by[from(body)]++
				} else {
					if l.failed == 0 {
						l.first = fmt.Sprint(status, " ", body)
					}
					l.failed++
				}
				l.mu.Unlock()
			}
		}()
	}
	return l
}

func (l *load) halt() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

func (l *load) count(name string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.by[name]
}

func TestSIGTERMDeregistersBeforeExitAndLosesNoRequestUnderLoad(t *testing.T) {
	zs := zktest.Start(t)
	base := startGateway(t, zs.Addr())
	const drain = 1500 * time.Millisecond
	a, addrA := startBackend(t, zs.Addr(), "A", fmt.Sprintf("drain=%d", drain.Milliseconds()))
	startBackend(t, zs.Addr(), "B")
	seen := map[string]bool{}
	until(t, 15*time.Second, "traffic to both A and B", func() bool {
		_, body := get(base + "/v1/hello/x")
		seen[from(body)] = true
		return seen["A"] && seen["B"]
	})

	conn := zkConn(t, zs.Addr())
	path := "/rb/services/hello/instances/" + addrA
	ok, _, events, err := conn.ExistsW(path)
	if err != nil || !ok {
		t.Fatalf("exists %s: got %v, %v want true", path, ok, err)
	}
	removed := make(chan time.Time, 1)
	go func() {
		for ev := range events {
			if ev.Type == zk.EventNodeDeleted {
				removed <- time.Now()
			}
			return
		}
	}()

	l := startLoad(t, base+"/v1/hello/x")
	until(t, 10*time.Second, "load on A", func() bool { return l.count("A") >= 20 })
	sent := time.Now()
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-a.exited:
	case <-time.After(20 * time.Second):
		t.Fatalf("the JVM did not exit within 20s of SIGTERM")
	}
	var removedAt time.Time
	select {
	case removedAt = <-removed:
	case <-time.After(5 * time.Second):
		t.Fatalf("the node was not deleted (the watch saw no deletion)")
	}
	t.Logf("SIGTERM -> node deleted %v -> JVM exited %v later", removedAt.Sub(sent), a.at.Sub(removedAt))
	// Deregistered at once, then the drain, then the exit.
	if d := removedAt.Sub(sent); d >= drain {
		t.Fatalf("the node was deleted %v after SIGTERM, want before the drain (%v) ended", d, drain)
	}
	if !removedAt.Before(a.at) {
		t.Fatalf("the node was deleted %v after the JVM exited, want before", removedAt.Sub(a.at))
	}
	if d := a.at.Sub(sent); d < drain {
		t.Fatalf("the JVM exited %v after SIGTERM, want after the drain %v", d, drain)
	}
	var exit *exec.ExitError
	if !errors.As(a.err, &exit) || exit.ExitCode() != 143 {
		t.Fatalf("JVM exit: got %v want exit status 143 (SIGTERM, hooks run)", a.err)
	}
	if !strings.Contains(a.out.String(), "STOPPING "+addrA) {
		t.Fatalf("the shutdown hook did not stop the server: output:\n%s", a.out.String())
	}
	// Keep the load on B for a while after A is gone.
	afterA := l.count("B")
	until(t, 10*time.Second, "load on B after A left", func() bool { return l.count("B") >= afterA+50 })
	l.halt()
	t.Logf("requests: %v, failed %d", l.by, l.failed)
	if l.failed != 0 {
		t.Fatalf("failed requests: got %d (first: %s) want 0", l.failed, l.first)
	}
}

func TestJavaSDKReRegistersAfterSessionExpiry(t *testing.T) {
	zs := zktest.Start(t)
	proxy := zktest.NewProxy(t, zs.Addr())
	base := startGateway(t, zs.Addr())
	_, addr := startBackend(t, proxy.Addr(), "A", "session=2000")
	until(t, 10*time.Second, "the backend to be routed", func() bool {
		status, _ := get(base + "/greet/x")
		return status == 200
	})
	conn := zkConn(t, zs.Addr())
	path := "/rb/services/hello/instances/" + addr
	_, st := node(t, conn, path)
	firstOwner := st.EphemeralOwner

	proxy.Cut()
	until(t, 20*time.Second, "the session to expire and the node to go", func() bool {
		ok, _, err := conn.Exists(path)
		return err == nil && !ok
	})
	until(t, 10*time.Second, "the gateway to drop the backend (503)", func() bool {
		status, _ := get(base + "/greet/x")
		return status == 503
	})
	proxy.Restore()
	t0 := time.Now()
	until(t, 20*time.Second, "re-registration by a new session", func() bool {
		ok, st, err := conn.Exists(path)
		return err == nil && ok && st.EphemeralOwner != firstOwner
	})
	t.Logf("re-registered %v after ZooKeeper became reachable again", time.Since(t0))
	var body string
	until(t, 10*time.Second, "the gateway to route to the backend again", func() bool {
		var status int
		status, body = get(base + "/greet/x")
		return status == 200
	})
	if want := `{"from":"A","name":"x"}`; body != want {
		t.Fatalf("after re-registration: got %s want %s", body, want)
	}
}

func TestJavaAndGoSDKWriteTheSameNode(t *testing.T) {
	zs := zktest.Start(t)
	java := startJava(t, "REGISTERED", "fixture", "zk="+zs.Addr(), "root=/java")
	defer java.stdin.Close()

	// The registration Backend.fixture makes, with the Go SDK.
	apis := []registry.API{
		{Name: "getUser", Path: "/v1/users/{id}", HTTPMethod: "GET", ParamNames: []string{"id"}, ParamTypes: []string{"java.lang.Long"}},
		{Name: "find", ParamTypes: []string{"java.util.List<java.lang.Long>", "java.util.Map<java.lang.String, java.lang.Long>"}},
		{Name: "count"},
	}
	md := map[string]string{
		"k2": "quote \" backslash \\ tab \t", "k1": "<html> & \u2028", "é": "ü", "😀": "emoji", "\uff61": "halfwidth",
		"ctl": "\x01\x1f\x7f",
	}
	agent, err := sdk.New(sdk.Options{ZooKeeper: zs.Servers(), Root: "/go", Service: "same", Protocol: "dubbo", Address: "10.0.0.9:20880",
		Weight: 7, Zone: "z-1", Tags: []string{"canary", "blue <b>"}, Version: "1.4.2", Metadata: md, APIs: apis})
	if err != nil {
		t.Fatal(err)
	}
	defer agent.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := agent.Register(ctx); err != nil {
		t.Fatal(err)
	}

	conn := zkConn(t, zs.Addr())
	if want := "/java/services/same/instances/10.0.0.9:20880"; java.first != want {
		t.Fatalf("Java node path: got %s want %s", java.first, want)
	}
	javaData, javaStat := node(t, conn, java.first)
	goData, goStat := node(t, conn, "/go/services/same/instances/10.0.0.9:20880")
	t.Logf("node data: %s", javaData)
	if !bytes.Equal(javaData, goData) {
		t.Fatalf("node data:\njava %s\n  go %s\nwant equal", javaData, goData)
	}
	if javaStat.EphemeralOwner == 0 || goStat.EphemeralOwner == 0 {
		t.Fatalf("ephemeral owners: java %x go %x, want both ephemeral", javaStat.EphemeralOwner, goStat.EphemeralOwner)
	}
	// The parents, persistent and without data in both.
	for _, p := range []string{"/services", "/services/same", "/services/same/instances"} {
		jd, js := node(t, conn, "/java"+p)
		gd, gs := node(t, conn, "/go"+p)
		if len(jd) != 0 || len(gd) != 0 || js.EphemeralOwner != 0 || gs.EphemeralOwner != 0 {
			t.Fatalf("parent %s: java %q owner %x, go %q owner %x; want persistent and empty", p, jd, js.EphemeralOwner, gd, gs.EphemeralOwner)
		}
	}
	var got registry.Instance
	dec := json.NewDecoder(bytes.NewReader(javaData))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	if want := agent.Instance(); !reflect.DeepEqual(&got, want) {
		t.Fatalf("Java node decoded:\n got %+v\nwant %+v", got, *want)
	}

	// Closing stdin closes the Java registration: its node goes.
	java.stdin.Close()
	select {
	case <-java.exited:
	case <-time.After(15 * time.Second):
		t.Fatalf("the fixture did not exit after stdin closed")
	}
	if java.err != nil {
		t.Fatalf("fixture exit: %v", java.err)
	}
	if ok, _, err := conn.Exists(java.first); err != nil || ok {
		t.Fatalf("after close: node exists %v (%v), want gone", ok, err)
	}
}
