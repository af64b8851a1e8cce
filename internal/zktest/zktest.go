// Package zktest starts a real, throwaway ZooKeeper server (the Debian
// package "zookeeper") for tests, and a TCP proxy that can cut a client off
// from it (to make the server expire a session).
package zktest

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"
)

// Jar is the ZooKeeper server jar the Debian package installs.
const Jar = "/usr/share/java/zookeeper.jar"

const slf4jJar = "/usr/share/java/slf4j-simple.jar"

// startTimeout bounds the wait for ruok -> imok (a JVM on a busy 2-core
// machine can take several seconds).
const startTimeout = 60 * time.Second

// TickTime is the server's tickTime. Session timeouts are bounded by
// 2*TickTime and 20*TickTime, so sessions of 1s..10s are accepted.
const TickTime = 500 * time.Millisecond

// Server is one ZooKeeper process. Stop and Restart are for servers Start
// made (they fail the test).
type Server struct {
	tb      testing.TB // nil for Launch
	dir     string
	cfg     string
	logPath string
	port    int

	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
}

// Start starts a ZooKeeper on a free 127.0.0.1 port with a fresh data
// directory and waits until it answers ruok. Cleanup kills it. When the jar
// or java is missing it fails the test (run `make test` or
// `scripts/zookeeper.sh install`).
func Start(tb testing.TB) *Server {
	tb.Helper()
	s, err := Launch(tb.TempDir())
	if s != nil {
		tb.Cleanup(s.kill)
	}
	if err != nil {
		tb.Fatalf("zktest: %v", err)
	}
	s.tb = tb
	return s
}

// Launch is Start outside a test (for the bench tools): the server keeps
// its data in dir and runs until Close.
func Launch(dir string) (*Server, error) {
	if _, err := os.Stat(Jar); err != nil {
		return nil, fmt.Errorf("ZooKeeper jar %s missing (%v): run `make test` or `scripts/zookeeper.sh install`", Jar, err)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return nil, fmt.Errorf("java missing (%v): run `make test` or `scripts/zookeeper.sh install`", err)
	}
	s := &Server{dir: dir, cfg: filepath.Join(dir, "zoo.cfg"), logPath: filepath.Join(dir, "zookeeper.log")}
	if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
		return nil, err
	}
	// A port can be taken between probing and the JVM binding it; retry.
	var lastErr error
	for range 3 {
		port, err := freePort()
		if err != nil {
			return s, fmt.Errorf("free port: %w", err)
		}
		s.port = port
		if err := s.writeConfig(); err != nil {
			return s, err
		}
		if lastErr = s.start(); lastErr == nil {
			return s, nil
		}
		s.kill()
	}
	return s, fmt.Errorf("start ZooKeeper: %w", lastErr)
}

// Close kills a server Launch started.
func (s *Server) Close() { s.kill() }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) writeConfig() error {
	cfg := fmt.Sprintf(`tickTime=%d
initLimit=10
syncLimit=5
dataDir=%s
clientPort=%d
clientPortAddress=127.0.0.1
maxClientCnxns=0
admin.enableServer=false
4lw.commands.whitelist=ruok,srvr,stat,mntr,cons
`, TickTime.Milliseconds(), filepath.Join(s.dir, "data"), s.port)
	return os.WriteFile(s.cfg, []byte(cfg), 0o644)
}

// Addr is the client address, 127.0.0.1:port.
func (s *Server) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(s.port)) }

// Servers is Addr as a one-element list, the shape clients take.
func (s *Server) Servers() []string { return []string{s.Addr()} }

func (s *Server) start() error {
	logf, err := os.OpenFile(s.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("java",
		"-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
		"-Dzookeeper.admin.enableServer=false",
		"-cp", Jar+":"+slf4jJar,
		"org.apache.zookeeper.server.quorum.QuorumPeerMain", s.cfg)
	cmd.Dir = s.dir
	cmd.Stdout = logf
	cmd.Stderr = logf
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("run java: %w", err)
	}
	exited := make(chan struct{})
	go func() {
		_ = cmd.Wait()
		logf.Close()
		close(exited)
	}()
	s.mu.Lock()
	s.cmd, s.exited = cmd, exited
	s.mu.Unlock()

	deadline := time.Now().Add(startTimeout)
	for {
		// ruok answers a moment before sessions are accepted; some clients
		// (dubbo-go's registry) do not retry their first session, so wait
		// until a session serves a read.
		if ok, _ := s.ruok(); ok && s.sessionWorks() {
			return nil
		}
		select {
		case <-exited:
			return fmt.Errorf("ZooKeeper exited during start-up; log:\n%s", s.logTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("ZooKeeper did not answer ruok within %v; log:\n%s", startTimeout, s.logTail())
		}
	}
}

// sessionWorks opens a session and reads "/".
func (s *Server) sessionWorks() bool {
	conn, _, err := zk.Connect([]string{s.Addr()}, 2*time.Second, zk.WithLogInfo(false), zk.WithLogger(quietLogger{}))
	if err != nil {
		return false
	}
	defer conn.Close()
	done := make(chan error, 1)
	go func() { _, _, err := conn.Exists("/"); done <- err }()
	select {
	case err := <-done:
		return err == nil
	case <-time.After(2 * time.Second):
		return false
	}
}

type quietLogger struct{}

func (quietLogger) Printf(string, ...any) {}

// ruok sends the four-letter command and reports whether imok came back.
func (s *Server) ruok() (bool, error) {
	c, err := net.DialTimeout("tcp", s.Addr(), time.Second)
	if err != nil {
		return false, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("ruok")); err != nil {
		return false, err
	}
	line, _ := bufio.NewReader(c).ReadString('\n')
	return strings.HasPrefix(line, "imok"), nil
}

func (s *Server) logTail() string {
	b, _ := os.ReadFile(s.logPath)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(b)
}

func (s *Server) kill() {
	s.mu.Lock()
	cmd, exited := s.cmd, s.exited
	s.cmd = nil
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	_ = cmd.Process.Kill()
	<-exited
}

// Stop kills the server (as a crash would); the data directory stays.
func (s *Server) Stop() {
	s.tb.Helper()
	s.kill()
}

// Restart stops the server if it runs and starts it again on the same port
// with the same data directory, so that sessions can resume.
func (s *Server) Restart() {
	s.tb.Helper()
	s.kill()
	var err error
	// The port may be briefly unavailable after the kill.
	for range 3 {
		if err = s.start(); err == nil {
			return
		}
		s.kill()
	}
	s.tb.Fatalf("zktest: restart ZooKeeper: %v", err)
}
