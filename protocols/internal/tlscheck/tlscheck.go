// Package tlscheck holds what the protocols' TLS tests assert about a
// failed handshake with a backend.
package tlscheck

import (
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/generic"
)

// Failure wants err to be a prompt BACKEND_ERROR (HTTP 502) whose message
// names the TLS failure and contains want; took is how long the call ran,
// timeout its limit.
func Failure(t testing.TB, err error, took, timeout time.Duration, want string) {
	t.Helper()
	if err == nil {
		t.Fatal("call succeeded, want a TLS failure")
	}
	ge := generic.AsError(err)
	if ge.Code != generic.CodeBackendError || generic.HTTPStatus(ge.Code) != 502 {
		t.Fatalf("got code %s (%v), want BACKEND_ERROR", ge.Code, err)
	}
	if !strings.Contains(ge.Message, "TLS") || !strings.Contains(ge.Message, want) {
		t.Fatalf("message %q does not name the TLS failure (%q)", ge.Message, want)
	}
	if took >= timeout {
		t.Fatalf("failed after %s, not before the call's %s timeout", took, timeout)
	}
	t.Logf("%s after %s", ge.Message, took.Round(time.Millisecond))
}
