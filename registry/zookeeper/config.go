package zookeeper

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
)

// StoredConfig is a gateway config kept in ZooKeeper at
// <root>/config/<group>, shared by every gateway replica of the group.
type StoredConfig struct {
	// Version is derived from the YAML (the first 12 hex digits of its
	// SHA-256), so replicas and `config get` agree on it.
	Version string `json:"version"`
	// PushedAt is when it was pushed (RFC 3339, UTC).
	PushedAt string `json:"pushed_at"`
	// YAML is the config file's text.
	YAML string `json:"yaml"`
}

// ConfigVersion is the version of a config text.
func ConfigVersion(yaml []byte) string {
	sum := sha256.Sum256(yaml)
	return hex.EncodeToString(sum[:6])
}

// ConfigPath is the node holding group's config.
func (r *Registry) ConfigPath(group string) string {
	return r.root + "/config/" + group
}

// PushConfig stores yaml as group's config (a persistent node) and returns
// its version. The caller validates the config first.
func (r *Registry) PushConfig(ctx context.Context, group string, yaml []byte) (string, error) {
	if err := validName("group", group); err != nil {
		return "", err
	}
	sc := StoredConfig{Version: ConfigVersion(yaml), PushedAt: time.Now().UTC().Format(time.RFC3339), YAML: string(yaml)}
	data, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	if len(data) > 1000*1024 {
		return "", generic.Errorf(generic.CodeInvalidArgument, "config is %d bytes encoded; ZooKeeper nodes hold about 1 MB", len(data))
	}
	path := r.ConfigPath(group)
	if err := r.writeNode(ctx, path, data); err != nil {
		return "", err
	}
	if err := r.recordHistory(ctx, group, HistoryEntry{Action: "push", StoredConfig: sc}); err != nil {
		r.log.Warn("config history not recorded", "group", group, "err", err)
	}
	return sc.Version, nil
}

// writeNode sets path to data, creating it (and its parents, with the
// registry's ACL) when missing; it waits for a session while ctx lasts.
func (r *Registry) writeNode(ctx context.Context, path string, data []byte) error {
	err := r.call(ctx, func() error {
		for {
			if !r.Connected() {
				select {
				case <-r.session():
				case <-ctx.Done():
					return ctx.Err()
				case <-r.done:
					return errors.New("registry closed")
				}
				continue
			}
			_, err := r.conn.Set(path, data, -1)
			err = r.refused("change", path, err)
			if errors.Is(err, zk.ErrNoNode) {
				if err := r.createParents(path); err != nil {
					return err
				}
				_, err = r.conn.Create(path, data, 0, r.acl)
				if errors.Is(err, zk.ErrNodeExists) {
					continue
				}
				err = r.refused("create", path, err)
			}
			if err != nil && isConnErr(err) {
				continue
			}
			return err
		}
	})
	if generic.CodeOf(err) == generic.CodePermissionDenied {
		return err // names the node and the principal
	}
	if err != nil {
		return generic.Errorf(generic.CodeUnavailable, "zookeeper: writing %s: %w", path, err)
	}
	return nil
}

// GetConfig reads group's config; NOT_FOUND when none was pushed.
func (r *Registry) GetConfig(ctx context.Context, group string) (*StoredConfig, error) {
	sc, _, err := r.getConfig(ctx, group, false)
	return sc, err
}

func (r *Registry) getConfig(ctx context.Context, group string, watch bool) (*StoredConfig, <-chan zk.Event, error) {
	path := r.ConfigPath(group)
	if err := r.ready(ctx); err != nil {
		if ctx.Err() != nil {
			return nil, nil, generic.Errorf(generic.CodeUnavailable, "zookeeper: not connected while reading %s", path)
		}
		return nil, nil, err
	}
	for {
		if !r.Connected() {
			select {
			case <-r.session():
			case <-time.After(200 * time.Millisecond):
			case <-ctx.Done():
				return nil, nil, generic.Errorf(generic.CodeUnavailable, "zookeeper: not connected while reading %s", path)
			}
			continue
		}
		var data []byte
		var ch <-chan zk.Event
		var err error
		cerr := r.call(ctx, func() error {
			if watch {
				var ok bool
				ok, _, ch, err = r.conn.ExistsW(path)
				if err == nil && !ok {
					err = zk.ErrNoNode
					return nil
				}
				if err != nil {
					return nil
				}
				data, _, ch, err = r.conn.GetW(path)
				return nil
			}
			data, _, err = r.conn.Get(path)
			return nil
		})
		if cerr != nil {
			return nil, nil, generic.Errorf(generic.CodeUnavailable, "zookeeper: reading %s: %w", path, cerr)
		}
		switch {
		case errors.Is(err, zk.ErrNoNode):
			return nil, ch, generic.Errorf(generic.CodeNotFound, "no config at %s; push one with `rpcbridge config push`", path)
		case err != nil && isConnErr(err):
			continue
		case errors.Is(err, zk.ErrNoAuth):
			return nil, nil, r.refused("read", path, err)
		case err != nil:
			return nil, nil, generic.Errorf(generic.CodeUnavailable, "zookeeper: reading %s: %w", path, err)
		}
		var sc StoredConfig
		if err := json.Unmarshal(data, &sc); err != nil {
			return nil, ch, generic.Errorf(generic.CodeInvalidArgument, "config node %s does not hold rpcbridge's JSON: %v", path, err)
		}
		return &sc, ch, nil
	}
}

// WatchConfig calls apply with group's config each time a new version is
// stored (and once at the start when one exists), until ctx ends. Watches
// are re-armed after every event and after reconnects; a node that is
// missing or unreadable (a principal its ACL does not let read it) is
// logged, once per distinct problem, and read again every second.
func (r *Registry) WatchConfig(ctx context.Context, group string, apply func(*StoredConfig)) {
	r.watchConfig(ctx, group, apply, false)
}

// WatchStaged calls apply with the config staged for node of group each
// time it changes: a version, or one with an empty YAML when the node
// follows the group again. A node never staged is not an error.
func (r *Registry) WatchStaged(ctx context.Context, group, node string, apply func(*StoredConfig)) {
	r.watchConfig(ctx, StagedGroup(group, node), apply, true)
}

func (r *Registry) watchConfig(ctx context.Context, group string, apply func(*StoredConfig), quietMissing bool) {
	last, lastErr := "", ""
	for ctx.Err() == nil {
		sc, ch, err := r.getConfig(ctx, group, true)
		switch {
		case err != nil && quietMissing && generic.CodeOf(err) == generic.CodeNotFound:
		case err != nil && ctx.Err() == nil && err.Error() != lastErr:
			lastErr = err.Error()
			r.log.Warn("config watch: the config in force stays", "group", group, "path", r.ConfigPath(group), "principal", r.Principal(), "err", err)
		case err == nil:
			lastErr = ""
		}
		if sc != nil && sc.Version != last {
			last = sc.Version
			apply(sc)
		}
		if ch == nil {
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		r.awaitConfigChange(ctx, group, ch, last)
	}
}

// awaitConfigChange returns when the armed watch ch fires, a new session
// starts, or a re-read without a watch (every RecheckInterval) finds the
// node changed or unreadable: ZooKeeper drops, silently and for good, the
// watch events of a node this principal may no longer read.
func (r *Registry) awaitConfigChange(ctx context.Context, group string, ch <-chan zk.Event, version string) {
	t := time.NewTicker(r.recheck)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ch:
			return
		case <-r.session():
			return
		case <-t.C:
			sc, _, err := r.getConfig(ctx, group, false)
			if err != nil || sc.Version != version {
				return
			}
		}
	}
}
