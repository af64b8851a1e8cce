package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// reloadFixture is a config file whose single route can be rewritten.
type reloadFixture struct {
	t       *testing.T
	cfg     string
	backend string
}

func newReloadFixture(t *testing.T) *reloadFixture {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, `{"path": %q}`, r.URL.Path)
	}))
	t.Cleanup(backend.Close)
	return &reloadFixture{t: t, cfg: filepath.Join(t.TempDir(), "gateway.yaml"), backend: strings.TrimPrefix(backend.URL, "http://")}
}

func (f *reloadFixture) write(route string) {
	f.t.Helper()
	y := fmt.Sprintf(`
services:
  - name: b
    protocol: http
    instances: [{address: %q}]
routes:
  - match: {path: %s}
    service: b
    method: M
`, f.backend, route)
	if err := os.WriteFile(f.cfg, []byte(y), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

func (f *reloadFixture) serve(watch string) (base, admin string) {
	listen, adm := freeAddr(f.t), freeAddr(f.t)
	runInBackground(f.t, "serve", "-c", f.cfg, "-listen", listen, "-admin", adm, "-log-level", "error", "-watch", watch)
	return "http://" + listen, "http://" + adm
}

func serves(url string) func() bool {
	return func() bool { c, _ := get(url); return c == 200 }
}

func TestServeAppliesAnEditedConfigFileWithinASecond(t *testing.T) {
	f := newReloadFixture(t)
	f.write("/one")
	base, _ := f.serve("100ms")
	waitFor(t, "/one", 10*time.Second, serves(base+"/one"))
	start := time.Now()
	f.write("/two")
	waitFor(t, "the edited file to take effect", 3*time.Second, serves(base+"/two"))
	t.Logf("edit -> new table in force: %s", time.Since(start))
	if c, _ := get(base + "/one"); c != 404 {
		t.Fatalf("old route after the edit: got %d want 404", c)
	}
}

func TestSIGHUPAndAdminReloadKeepTheOldConfigOnErrors(t *testing.T) {
	f := newReloadFixture(t)
	f.write("/one")
	base, admin := f.serve("0") // no file watch: only SIGHUP and the admin API reload
	waitFor(t, "/one", 10*time.Second, serves(base+"/one"))

	f.write("/two")
	if err := syscall.Kill(os.Getpid(), syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "SIGHUP to apply /two", 3*time.Second, serves(base+"/two"))

	// An invalid file is refused with its reasons; the old table stays.
	os.WriteFile(f.cfg, []byte("services: [{name: broken, protocol: nope}]\n"), 0o644)
	r, err := httpPost(admin+"/admin/reload", "")
	if err != nil || r.status != 400 || !strings.Contains(r.body, "old one stays in force") || !strings.Contains(r.body, "nope") {
		t.Fatalf("admin reload of an invalid file: got %v %v", r, err)
	}
	if c, _ := get(base + "/two"); c != 200 {
		t.Fatalf("after a refused reload the old route answers %d, want 200", c)
	}
	f.write("/three")
	r, err = httpPost(admin+"/admin/reload", "")
	if err != nil || r.status != 200 || !strings.Contains(r.body, `"version"`) {
		t.Fatalf("admin reload: got %v %v", r, err)
	}
	if c, _ := get(base + "/three"); c != 200 {
		t.Fatalf("after admin reload: got %d", c)
	}
}
