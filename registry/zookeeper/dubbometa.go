package zookeeper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"
)

// DubboMetadataRoot is where Java Dubbo providers configured with a
// ZooKeeper metadata report store each service's definition:
// <root>/<interface>/[<version>/][<group>/]provider/<application>.
const DubboMetadataRoot = "/dubbo/metadata"

// WatchDubboMetadata follows the service definitions a Dubbo metadata
// report stores for iface and calls apply with the raw JSON of each
// definition (a gson FullServiceDefinition) whenever the set changes,
// until ctx ends. Definitions whose path names a version or group are kept
// only when they match version and group; definitions whose path names
// none are kept always. Watches are re-armed after every event; while
// ZooKeeper is unreachable the last set stays in force.
func (r *Registry) WatchDubboMetadata(ctx context.Context, iface, group, version string, apply func(defs [][]byte)) {
	base := DubboMetadataRoot + "/" + iface
	if err := r.ready(ctx); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("dubbo metadata not followed", "interface", iface, "err", err)
		}
		return
	}
	var last [][]byte
	lastErr := ""
	for ctx.Err() == nil {
		if !r.Connected() {
			select {
			case <-ctx.Done():
				return
			case <-r.session():
			case <-time.After(time.Second):
			}
			continue
		}
		wctx, cancel := context.WithCancel(ctx)
		changed := make(chan struct{}, 1)
		watch := func(ch <-chan zk.Event) {
			go func() {
				select {
				case <-ch:
					select {
					case changed <- struct{}{}:
					default:
					}
				case <-wctx.Done():
				}
			}()
		}
		defs, err := r.walkMetadata(base, nil, group, version, watch)
		if err != nil && !errors.Is(err, zk.ErrNoNode) && err.Error() != lastErr {
			r.log.Warn("dubbo metadata watch", "interface", iface, "principal", r.Principal(), "err", err)
		}
		if err != nil {
			lastErr = err.Error()
		} else {
			lastErr = ""
		}
		if err == nil && !sameDefs(defs, last) {
			last = defs
			apply(defs)
		}
		if err != nil {
			// The interface node may not exist yet: watch for it.
			if _, _, ch, err := r.conn.ExistsW(base); err == nil {
				watch(ch)
			}
		}
		select {
		case <-ctx.Done():
		case <-changed:
		case <-r.session():
		case <-time.After(time.Minute):
		}
		cancel()
	}
}

// walkMetadata collects definitions below path (at most five levels deep),
// arming a watch on every node it reads.
func (r *Registry) walkMetadata(path string, segs []string, group, version string, watch func(<-chan zk.Event)) ([][]byte, error) {
	data, _, dch, err := r.conn.GetW(path)
	if err != nil {
		return nil, r.refused("read", path, err)
	}
	watch(dch)
	var out [][]byte
	if len(segs) > 0 && looksLikeDefinition(data) && metadataPathMatches(segs, group, version) {
		out = append(out, data)
	}
	if len(segs) >= 5 {
		return out, nil
	}
	kids, _, kch, err := r.conn.ChildrenW(path)
	if err != nil {
		return out, r.refused("list", path, err)
	}
	watch(kch)
	for _, k := range kids {
		sub, err := r.walkMetadata(path+"/"+k, append(segs[:len(segs):len(segs)], k), group, version, watch)
		if err != nil && !errors.Is(err, zk.ErrNoNode) {
			return nil, err
		}
		out = append(out, sub...)
	}
	return out, nil
}

// looksLikeDefinition reports JSON objects with a "methods" list.
func looksLikeDefinition(b []byte) bool {
	if len(bytes.TrimSpace(b)) == 0 {
		return false
	}
	var probe struct {
		Methods []json.RawMessage `json:"methods"`
	}
	return json.Unmarshal(b, &probe) == nil && probe.Methods != nil
}

// metadataPathMatches checks the segments before "provider" (version,
// then group, each optional) against the service's version and group.
func metadataPathMatches(segs []string, group, version string) bool {
	i := -1
	for j, s := range segs {
		if s == "provider" {
			i = j
		}
	}
	if i < 0 {
		return true
	}
	mid := segs[:i]
	switch len(mid) {
	case 0:
		return true
	case 1:
		return mid[0] == version || mid[0] == group
	default:
		return mid[0] == version && mid[1] == group
	}
}

func sameDefs(a, b [][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}
