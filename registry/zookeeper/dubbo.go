package zookeeper

import (
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/registry"
)

// ParseDubboURL parses one Dubbo provider URL, plain
// (dubbo://10.0.0.5:20880/org.example.UserService?group=g&version=1.0.0&methods=a,b&weight=100&timeout=3000&side=provider)
// or URL-encoded as ZooKeeper node names under /dubbo/<iface>/providers
// are. The scheme becomes Protocol ("dubbo", or "tri" for tri:// and
// triple://); weight (default 100) becomes Weight; group, version, timeout,
// methods, interface, application and a few more become Metadata; methods
// become APIs; version becomes Version; dubbo.tag becomes Tags; zone becomes
// Zone; enabled=false or disabled=true makes the instance offline.
func ParseDubboURL(s string) (*registry.Instance, error) {
	raw := s
	if !strings.Contains(s, "://") {
		u, err := url.QueryUnescape(s)
		if err != nil {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: want a URL-encoded provider URL, got %q: %w", short(s), err)
		}
		raw = u
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: want dubbo://host:port/interface?..., got %q: %w", short(raw), err)
	}
	var protocol string
	switch strings.ToLower(u.Scheme) {
	case "dubbo":
		protocol = "dubbo"
	case "tri", "triple":
		protocol = "tri"
	default:
		return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: scheme: want dubbo or tri, got %q", u.Scheme)
	}
	host, port, err := net.SplitHostPort(u.Host)
	if err != nil || host == "" {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: address: want host:port, got %q", u.Host)
	}
	if p, err := strconv.Atoi(port); err != nil || p <= 0 || p > 65535 {
		return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: port: want 1..65535, got %q", port)
	}
	q := u.Query()
	in := &registry.Instance{
		Service:  strings.TrimPrefix(u.Path, "/"),
		Address:  net.JoinHostPort(host, port),
		Protocol: protocol,
		Weight:   registry.DefaultWeight,
		Zone:     q.Get("zone"),
		Version:  q.Get("version"),
		Online:   q.Get("enabled") != "false" && q.Get("disabled") != "true",
	}
	if iface := q.Get("interface"); iface != "" {
		in.Service = iface
	}
	if w := q.Get("weight"); w != "" {
		n, err := strconv.Atoi(w)
		if err != nil || n < 0 {
			return nil, generic.Errorf(generic.CodeInvalidArgument, "dubbo url: weight: want a non-negative integer, got %q", w)
		}
		in.Weight = n
	}
	// The URL parameters copied into Metadata.
	for _, k := range [...]string{
		"group", "version", "timeout", "methods", "interface", "application",
		"side", "serialization", "retries", "release", "dubbo", "token",
	} {
		if v := q.Get(k); v != "" {
			if in.Metadata == nil {
				in.Metadata = make(map[string]string)
			}
			in.Metadata[k] = v
		}
	}
	if tag := q.Get("dubbo.tag"); tag != "" {
		in.Tags = []string{tag}
	}
	for m := range strings.SplitSeq(q.Get("methods"), ",") {
		if m = strings.TrimSpace(m); m != "" {
			in.APIs = append(in.APIs, registry.API{Name: m})
		}
	}
	return in, nil
}

func short(s string) string {
	if len(s) > 120 {
		return s[:120] + "..."
	}
	return s
}
