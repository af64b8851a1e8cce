package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
)

// Three gateway nodes of one group: a version staged for one node changes
// only that node; promote changes all; rollback restores the previous
// version everywhere; history lists what happened.
func TestStagedConfigReachesOnlyItsNodesUntilPromoted(t *testing.T) {
	zk := zktest.Start(t)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{}`)
	}))
	t.Cleanup(backend.Close)
	dir := t.TempDir()
	write := func(name, route string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(fmt.Sprintf("services: [{name: b, protocol: http, instances: [{address: %q}]}]\nroutes: [{match: {path: %s}, service: b, method: M}]\n",
			strings.TrimPrefix(backend.URL, "http://"), route)), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	config := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		if code := run(context.Background(), append(append([]string{"config"}, args...), "-zk", zk.Addr(), "-group", "edge"), &out, &errOut); code != 0 {
			t.Fatalf("config %v: exit %d: %s", args, code, errOut.String())
		}
		return out.String()
	}
	v1 := strings.Fields(config("push", "-c", write("v1.yaml", "/one")))[4]
	nodes := map[string][2]string{}
	for _, n := range []string{"gw-1", "gw-2", "gw-3"} {
		l, a := freeAddr(t), freeAddr(t)
		runInBackground(t, "serve", "-config-zk", zk.Addr(), "-group", "edge", "-node", n, "-listen", l, "-admin", a, "-log-level", "error")
		nodes[n] = [2]string{l, a}
	}
	expect := func(what string, want map[string]string) {
		t.Helper()
		for n, v := range want {
			waitFor(t, fmt.Sprintf("%s: %s on version %s", what, n, v), 10*time.Second, func() bool { return configVersion(nodes[n][1]) == v })
		}
	}
	expect("start", map[string]string{"gw-1": v1, "gw-2": v1, "gw-3": v1})

	staged := config("push", "-c", write("v2.yaml", "/two"), "-nodes", "gw-2")
	v2 := strings.Fields(staged)[4]
	expect("staged for gw-2", map[string]string{"gw-2": v2})
	if c, _ := get("http://" + nodes["gw-2"][0] + "/two"); c != 200 {
		t.Errorf("gw-2 after the stage: /two got %d, want 200", c)
	}
	// No event concerns the other nodes (their staged nodes and the group's
	// config did not change): what they run now is what they keep.
	for _, n := range []string{"gw-1", "gw-3"} {
		if got := configVersion(nodes[n][1]); got != v1 {
			t.Errorf("%s after a stage for gw-2: got version %s, want %s", n, got, v1)
		}
	}
	if src := adminSource(nodes["gw-2"][1]); !strings.Contains(src, "staged for node gw-2") {
		t.Errorf("gw-2 /admin/config source: got %q, want it to say the version is staged for gw-2", src)
	}
	if src := adminSource(nodes["gw-1"][1]); !strings.Contains(src, "the group's") {
		t.Errorf("gw-1 /admin/config source: got %q, want the group's", src)
	}

	config("promote")
	expect("promoted", map[string]string{"gw-1": v2, "gw-2": v2, "gw-3": v2})

	config("rollback")
	expect("rolled back", map[string]string{"gw-1": v1, "gw-2": v1, "gw-3": v1})
	if c, _ := get("http://" + nodes["gw-3"][0] + "/one"); c != 200 {
		t.Errorf("gw-3 after the rollback: /one got %d, want 200", c)
	}

	hist := config("history")
	var actions []string
	for _, line := range strings.Split(strings.TrimSpace(hist), "\n") {
		f := strings.Fields(line)
		actions = append(actions, f[1]+" "+strings.Join(f[2:], " "))
	}
	want := []string{v1 + " push", v2 + " stage gw-2", v2 + " promote", v1 + " rollback"}
	if strings.Join(actions, "; ") != strings.Join(want, "; ") {
		t.Errorf("history: got %q, want %q", actions, want)
	}
	// rollback -to names a version of the history.
	config("rollback", "-to", v2)
	expect("rolled to v2", map[string]string{"gw-1": v2, "gw-2": v2, "gw-3": v2})

	// Refusals say why.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"promote"}, "no version is staged for edge"},
		{[]string{"rollback", "-to", "000000000000"}, "version 000000000000 is not in the history of edge"},
	} {
		var out, errOut bytes.Buffer
		code := run(context.Background(), append(append([]string{"config"}, c.args...), "-zk", zk.Addr(), "-group", "edge"), &out, &errOut)
		if code == 0 || !strings.Contains(errOut.String(), c.want) {
			t.Errorf("config %v: got exit %d %q, want a refusal saying %q", c.args, code, errOut.String(), c.want)
		}
	}
	config("push", "-c", write("v3.yaml", "/three"), "-nodes", "gw-1")
	config("push", "-c", write("v4.yaml", "/four"), "-nodes", "gw-3")
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"config", "promote", "-zk", zk.Addr(), "-group", "edge"}, &out, &errOut); code == 0 || !strings.Contains(errOut.String(), "run different staged versions") {
		t.Errorf("promote with two staged versions: got exit %d %q, want a refusal naming them", code, errOut.String())
	}
}

func adminSource(admin string) string {
	_, body := get("http://" + admin + "/admin/config")
	var v struct{ Source string }
	json.Unmarshal([]byte(body), &v)
	return v.Source
}
