package mapping

import (
	"fmt"
	"reflect"
	"time"

	"gopkg.in/yaml.v3"
)

// AccessLog is server.access_log: true (JSON lines to stdout), false, or
// {format, path, sample, buffer, flush}.
type AccessLog struct {
	Enabled bool `yaml:"-"`
	// Format: json.
	Format string `yaml:"format"`
	// Path: stdout (default), stderr or a file (appended to).
	Path string `yaml:"path"`
	// Sample is the share of requests logged, 0 to 1. Default 1.
	Sample float64 `yaml:"sample"`
	// Buffer is the lines waiting for the writer; beyond it lines are
	// dropped and counted, never holding a request. Default 10000.
	Buffer int `yaml:"buffer"`
	// Flush is how long lines may wait so that those of a busy moment
	// are written together: one write per Flush at most, sooner when 64
	// KiB are waiting. Default 20ms; at most 10s.
	Flush time.Duration `yaml:"flush"`
}

// DefaultAccessLogFlush is server.access_log.flush's default.
const DefaultAccessLogFlush = 20 * time.Millisecond

// UnmarshalYAML takes a boolean or a mapping (decoded strictly).
func (a *AccessLog) UnmarshalYAML(n *yaml.Node) error {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool":
		var b bool
		if err := n.Decode(&b); err != nil {
			return err
		}
		*a = AccessLog{Enabled: b}
		return nil
	case n.Kind == yaml.MappingNode:
		type plain AccessLog
		var p plain
		if err := DecodeStrict(n, "server.access_log", &p); err != nil {
			return err
		}
		*a = AccessLog(p)
		a.Enabled = true
		return nil
	}
	return fmt.Errorf("line %d: server.access_log: want true, false or {format, path, sample, buffer, flush}, got %s", n.Line, kindName(n))
}

// checkYAML reports what UnmarshalYAML would refuse, for the strict check.
func (a *AccessLog) checkYAML(s *strictChecker, n *yaml.Node, where string) {
	switch {
	case n.Kind == yaml.ScalarNode && n.ShortTag() == "!!bool":
	case n.Kind == yaml.MappingNode:
		type plain AccessLog
		s.check(n, reflect.TypeOf(plain{}), where)
	default:
		s.add(n, where, "want true, false or {format, path, sample, buffer, flush}, got %s", kindName(n))
	}
}

func (a *AccessLog) applyDefaults() {
	if !a.Enabled {
		return
	}
	if a.Format == "" {
		a.Format = "json"
	}
	if a.Path == "" {
		a.Path = "stdout"
	}
	if a.Sample == 0 {
		a.Sample = 1
	}
	if a.Buffer == 0 {
		a.Buffer = 10000
	}
	if a.Flush == 0 {
		a.Flush = DefaultAccessLogFlush
	}
}

func (a *AccessLog) validate(add func(string, ...any)) {
	if !a.Enabled {
		return
	}
	if a.Format != "json" {
		add("server.access_log.format: want json, got %q", a.Format)
	}
	if a.Sample <= 0 || a.Sample > 1 {
		add("server.access_log.sample: want more than 0 and at most 1, got %v", a.Sample)
	}
	if a.Buffer < 0 {
		add("server.access_log.buffer must not be negative, got %d", a.Buffer)
	}
	if a.Flush < 0 || a.Flush > 10*time.Second {
		add("server.access_log.flush: want more than 0s and at most 10s, got %s", a.Flush)
	}
}

func (a *AccessLog) resolvePaths(dir string) {
	if a.Path != "stdout" && a.Path != "stderr" {
		ResolvePath(dir, &a.Path)
	}
}
