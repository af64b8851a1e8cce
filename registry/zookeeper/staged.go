package zookeeper

// Staged configs and the config history.
//
// A version staged for some gateway nodes is stored, per node, at
// <root>/config/<group>~<node> (a StoredConfig; with an empty YAML once the
// node follows the group again). Every version the group takes (push,
// stage, promote, rollback) is kept, newest last, as a sequential node
// under <root>/config-history/<group>/ (at most HistoryKeep).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/generic"
)

// HistoryKeep is how many versions a group's history keeps.
const HistoryKeep = 20

// HistoryEntry is one version a group (or some of its nodes) took.
type HistoryEntry struct {
	// Action: push, stage, promote or rollback.
	Action string `json:"action"`
	// Nodes are the gateway nodes a stage applied to.
	Nodes []string `json:"nodes,omitempty"`
	StoredConfig
}

// StagedGroup is the config group a version staged for node is kept as.
func StagedGroup(group, node string) string { return group + "~" + node }

func (r *Registry) historyPath(group string) string { return r.root + "/config-history/" + group }

// StageConfig stores yaml for the named gateway nodes of group only; the
// others keep the group's config. It returns the version.
func (r *Registry) StageConfig(ctx context.Context, group string, nodes []string, yaml []byte) (string, error) {
	if err := validName("group", group); err != nil {
		return "", err
	}
	if len(nodes) == 0 {
		return "", generic.Errorf(generic.CodeInvalidArgument, "stage: name at least one node")
	}
	sc := StoredConfig{Version: ConfigVersion(yaml), PushedAt: time.Now().UTC().Format(time.RFC3339), YAML: string(yaml)}
	data, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	for _, n := range nodes {
		if err := validName("node", n); err != nil {
			return "", err
		}
		if err := r.writeNode(ctx, r.ConfigPath(StagedGroup(group, n)), data); err != nil {
			return "", err
		}
	}
	if err := r.recordHistory(ctx, group, HistoryEntry{Action: "stage", Nodes: nodes, StoredConfig: sc}); err != nil {
		r.log.Warn("config history not recorded", "group", group, "err", err)
	}
	return sc.Version, nil
}

// StagedConfigs returns the versions staged for group's nodes, by node.
func (r *Registry) StagedConfigs(ctx context.Context, group string) (map[string]*StoredConfig, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	var names []string
	err := r.call(ctx, func() error {
		var err error
		names, _, err = r.conn.Children(r.root + "/config")
		if errors.Is(err, zk.ErrNoNode) {
			names, err = nil, nil
		}
		return r.refused("list", r.root+"/config", err)
	})
	if err != nil {
		return nil, err
	}
	out := map[string]*StoredConfig{}
	for _, name := range names {
		node, ok := strings.CutPrefix(name, group+"~")
		if !ok {
			continue
		}
		sc, err := r.GetConfig(ctx, name)
		if err != nil {
			return nil, err
		}
		if sc.YAML != "" {
			out[node] = sc
		}
	}
	return out, nil
}

// unstage makes every node of group follow the group's config again.
func (r *Registry) unstage(ctx context.Context, group string) error {
	staged, err := r.StagedConfigs(ctx, group)
	if err != nil {
		return err
	}
	follow, _ := json.Marshal(StoredConfig{PushedAt: time.Now().UTC().Format(time.RFC3339)})
	for node := range staged {
		if err := r.writeNode(ctx, r.ConfigPath(StagedGroup(group, node)), follow); err != nil {
			return err
		}
	}
	return nil
}

// PromoteConfig makes the version staged for group's nodes the group's
// config, for every node. The staged nodes must agree on one version.
func (r *Registry) PromoteConfig(ctx context.Context, group string) (string, error) {
	staged, err := r.StagedConfigs(ctx, group)
	if err != nil {
		return "", err
	}
	var sc *StoredConfig
	var seen []string
	for node, s := range staged {
		seen = append(seen, node+"="+s.Version)
		if sc != nil && sc.Version != s.Version {
			sort.Strings(seen)
			return "", generic.Errorf(generic.CodeFailedPrecondition, "nodes of %s run different staged versions (%s); stage one version first", group, strings.Join(seen, ", "))
		}
		sc = s
	}
	if sc == nil {
		return "", generic.Errorf(generic.CodeFailedPrecondition, "no version is staged for %s; stage one with `config push -nodes`", group)
	}
	return r.setGroup(ctx, group, *sc, "promote")
}

// RollbackConfig makes group's config the version before the one in force,
// or version to, for every node.
func (r *Registry) RollbackConfig(ctx context.Context, group, to string) (string, error) {
	hist, err := r.ConfigHistory(ctx, group)
	if err != nil {
		return "", err
	}
	cur, err := r.GetConfig(ctx, group)
	if err != nil {
		return "", err
	}
	for i := len(hist) - 1; i >= 0; i-- {
		h := hist[i]
		if h.Action == "stage" {
			continue
		}
		if (to == "" && h.Version != cur.Version) || (to != "" && h.Version == to) {
			return r.setGroup(ctx, group, h.StoredConfig, "rollback")
		}
	}
	if to != "" {
		return "", generic.Errorf(generic.CodeNotFound, "version %s is not in the history of %s (`config history`)", to, group)
	}
	return "", generic.Errorf(generic.CodeFailedPrecondition, "the history of %s holds no version before %s", group, cur.Version)
}

// setGroup stores sc as group's config for every node and records why.
func (r *Registry) setGroup(ctx context.Context, group string, sc StoredConfig, action string) (string, error) {
	sc.PushedAt = time.Now().UTC().Format(time.RFC3339)
	data, err := json.Marshal(sc)
	if err != nil {
		return "", err
	}
	if err := r.writeNode(ctx, r.ConfigPath(group), data); err != nil {
		return "", err
	}
	if err := r.unstage(ctx, group); err != nil {
		return "", err
	}
	if err := r.recordHistory(ctx, group, HistoryEntry{Action: action, StoredConfig: sc}); err != nil {
		r.log.Warn("config history not recorded", "group", group, "err", err)
	}
	return sc.Version, nil
}

// ConfigHistory returns group's history, oldest first.
func (r *Registry) ConfigHistory(ctx context.Context, group string) ([]HistoryEntry, error) {
	if err := r.ready(ctx); err != nil {
		return nil, err
	}
	dir := r.historyPath(group)
	var out []HistoryEntry
	err := r.call(ctx, func() error {
		names, _, err := r.conn.Children(dir)
		if errors.Is(err, zk.ErrNoNode) {
			return nil
		}
		if err != nil {
			return r.refused("list", dir, err)
		}
		sort.Strings(names)
		for _, name := range names {
			data, _, err := r.conn.Get(dir + "/" + name)
			if errors.Is(err, zk.ErrNoNode) {
				continue
			}
			if err != nil {
				return r.refused("read", dir+"/"+name, err)
			}
			var h HistoryEntry
			if json.Unmarshal(data, &h) == nil {
				out = append(out, h)
			}
		}
		return nil
	})
	return out, err
}

// recordHistory appends h to group's history and drops the oldest beyond
// HistoryKeep.
func (r *Registry) recordHistory(ctx context.Context, group string, h HistoryEntry) error {
	if strings.Contains(group, "~") {
		return nil // a staged node's own group: its stage is recorded on the group
	}
	data, err := json.Marshal(h)
	if err != nil {
		return err
	}
	dir := r.historyPath(group)
	return r.call(ctx, func() error {
		if err := r.createParents(dir + "/e-"); err != nil {
			return err
		}
		if _, err := r.conn.Create(dir+"/e-", data, zk.FlagSequence, r.acl); err != nil {
			return r.refused("create", dir+"/e-", err)
		}
		names, _, err := r.conn.Children(dir)
		if err != nil {
			return r.refused("list", dir, err)
		}
		sort.Strings(names)
		for len(names) > HistoryKeep {
			if err := r.conn.Delete(dir+"/"+names[0], -1); err != nil && !errors.Is(err, zk.ErrNoNode) {
				return fmt.Errorf("trimming %s: %w", dir, r.refused("delete", dir+"/"+names[0], err))
			}
			names = names[1:]
		}
		return nil
	})
}
