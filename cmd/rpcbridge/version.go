package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/rpcbridge/rpcbridge/gateway"
)

// version may be set at build time with -ldflags "-X main.version=...";
// otherwise it comes from the module's build information (Go stamps the
// VCS version, revision and time into binaries built from a checkout).
var version string

// buildInfo describes this binary.
func buildInfo() gateway.Build {
	b := gateway.Build{Version: version, GoVersion: runtime.Version()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		if b.Version == "" && bi.Main.Version != "(devel)" {
			b.Version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				b.Revision = s.Value
			case "vcs.time":
				b.Time = s.Value
			case "vcs.modified":
				b.Modified = s.Value == "true"
			}
		}
	}
	if b.Version == "" {
		b.Version = "devel"
	}
	return b
}

// versionLine is what `rpcbridge version` prints.
func versionLine(b gateway.Build) string {
	s := "rpcbridge " + b.Version
	if b.Revision != "" {
		s += " (revision " + b.Revision
		if b.Time != "" {
			s += ", " + b.Time
		}
		if b.Modified {
			s += ", modified"
		}
		s += ")"
	}
	return fmt.Sprintf("%s %s %s/%s", s, b.GoVersion, runtime.GOOS, runtime.GOARCH)
}
