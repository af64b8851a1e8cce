package zktest

import (
	"net"
	"testing"
	"time"
)

func TestStartAnswersRuokAndRestartKeepsPort(t *testing.T) {
	t0 := time.Now()
	s := Start(t)
	t.Logf("ZooKeeper up at %s in %v", s.Addr(), time.Since(t0))
	if ok, err := s.ruok(); !ok {
		t.Fatalf("ruok: got %v (%v), want imok", ok, err)
	}
	addr := s.Addr()
	s.Stop()
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatalf("dial after Stop: got a connection, want refused")
	}
	s.Restart()
	if got := s.Addr(); got != addr {
		t.Fatalf("address after Restart: got %s want %s", got, addr)
	}
	if ok, err := s.ruok(); !ok {
		t.Fatalf("ruok after Restart: got %v (%v), want imok", ok, err)
	}
}

func TestProxyCutRefusesAndRestoreForwards(t *testing.T) {
	s := Start(t)
	p := NewProxy(t, s.Addr())
	ruok := func() string {
		c, err := net.DialTimeout("tcp", p.Addr(), time.Second)
		if err != nil {
			return err.Error()
		}
		defer c.Close()
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ruok")); err != nil {
			return err.Error()
		}
		b := make([]byte, 4)
		n, _ := c.Read(b)
		return string(b[:n])
	}
	if got := ruok(); got != "imok" {
		t.Fatalf("through proxy: got %q want imok", got)
	}
	p.Cut()
	if got := ruok(); got == "imok" {
		t.Fatalf("through cut proxy: got imok, want no answer")
	}
	p.Restore()
	if got := ruok(); got != "imok" {
		t.Fatalf("through restored proxy: got %q want imok", got)
	}
}
