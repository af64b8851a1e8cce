package gateway_test

import (
	"testing"

	"go.uber.org/goleak"
)

// TestMain fails the package when a test leaves a goroutine behind: every
// gateway, server and client a test starts must be stopped and joined.
func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}
