package testprovider

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	hessian "github.com/apache/dubbo-go-hessian2"
)

// childEnv makes a test binary a provider process (see RunChildIfAsked).
const childEnv = "RPCBRIDGE_DUBBO_CHILD"

// RunChildIfAsked serves a provider and exits when the process was started
// by StartChild; it reports false otherwise. Call it first in TestMain.
func RunChildIfAsked() bool {
	spec := os.Getenv(childEnv)
	if spec == "" {
		return false
	}
	runChild(spec)
	return true
}

// runChild serves a provider, prints its address, and exits when stdin
// closes. spec is "dubbo", "tri", or "dubbo zk=<addr>"; "main" serves
// the exports of MainExports instead of one marked "child".
func runChild(spec string) {
	cfg := Config{Exports: []Export{{Version: "1.0.0", Marker: "child"}}}
	for _, f := range strings.Fields(spec) {
		switch {
		case f == "main":
			cfg.Exports = MainExports()
		case f == "tri":
			cfg.Protocol = "tri"
		case strings.HasPrefix(f, "zk="):
			cfg.Registry = strings.TrimPrefix(f, "zk=")
		}
	}
	// Only provider processes know the provider's own exception class.
	hessian.RegisterPOJO(&BizException{})
	prov, err := Start(cfg)
	if err != nil {
		fmt.Println("ERROR", err)
		os.Exit(1)
	}
	fmt.Println("ADDR", prov.Addr)
	_, _ = io.Copy(io.Discard, os.Stdin)
	os.Exit(0)
}

// MainExports are the services of the adapter tests' main provider:
// version 1.0.0 ("main"), group "other" version 2.0.0 ("other"), version
// 2.0.0 ("v2").
func MainExports() []Export {
	return []Export{
		{Version: "1.0.0", Marker: "main"},
		{Group: "other", Version: "2.0.0", Marker: "other"},
		{Version: "2.0.0", Marker: "v2"},
	}
}

// StartProcess starts a provider process from the test binary, as
// StartChild does, outside any test (from TestMain): it runs until the
// test binary exits. Its standard error goes to this process's.
func StartProcess(spec string) (addr string, err error) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return "", err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return "", err
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	longLived.Lock()
	longLived.stdins = append(longLived.stdins, in)
	longLived.Unlock()
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		l := sc.Text()
		if a, ok := strings.CutPrefix(l, "ADDR "); ok {
			go func() { _, _ = io.Copy(io.Discard, out) }()
			return a, nil
		}
		if strings.HasPrefix(l, "ERROR ") {
			return "", fmt.Errorf("child provider: %s", l)
		}
	}
	_ = cmd.Process.Kill()
	_ = cmd.Wait()
	return "", fmt.Errorf("child provider exited before listening")
}

// longLived holds the stdin pipes of children that run until the test
// binary exits.
var longLived struct {
	sync.Mutex
	stdins []io.WriteCloser
}

// Child is a provider in its own process, stoppable by killing it.
type Child struct {
	cmd  *exec.Cmd
	in   io.WriteCloser
	Addr string
}

// StartChild starts a provider process from the test binary (whose
// TestMain must call RunChildIfAsked first). With stoppable false it lives
// until the test binary exits (its stdin closes then), so that no
// connection of this process to it ever closes.
func StartChild(t testing.TB, spec string, stoppable bool) *Child {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childEnv+"="+spec)
	errLog, err := os.Create(t.TempDir() + "/child.stderr")
	if err != nil {
		t.Fatal(err)
	}
	defer errLog.Close()
	cmd.Stderr = errLog
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &Child{cmd: cmd, in: in}
	if stoppable {
		t.Cleanup(c.Kill)
	} else {
		// The pipe's finalizer would close it (and end the child) once
		// the child value is unreachable.
		longLived.Lock()
		longLived.stdins = append(longLived.stdins, in)
		longLived.Unlock()
	}
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if l := sc.Text(); strings.HasPrefix(l, "ADDR ") || strings.HasPrefix(l, "ERROR ") {
				lines <- l
				break
			}
		}
		_, _ = io.Copy(io.Discard, out)
	}()
	stderrTail := func() []byte {
		b, _ := os.ReadFile(errLog.Name())
		if len(b) > 4000 {
			b = b[len(b)-4000:]
		}
		return b
	}
	select {
	case l := <-lines:
		if !strings.HasPrefix(l, "ADDR ") {
			t.Fatalf("child provider: %s\nstderr:\n%s", l, stderrTail())
		}
		c.Addr = strings.TrimPrefix(l, "ADDR ")
	case <-time.After(60 * time.Second):
		t.Fatalf("child provider did not start within 60s\nstderr:\n%s", stderrTail())
	}
	return c
}

// Kill stops the provider process at once, as a crash would.
func (c *Child) Kill() {
	if c.cmd.Process != nil {
		_ = c.cmd.Process.Kill()
		_ = c.cmd.Wait()
	}
}
