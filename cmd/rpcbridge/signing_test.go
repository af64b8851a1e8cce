package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// readmeBlock returns the fenced code block that follows marker in the
// README.
func readmeBlock(t *testing.T, marker string) string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), marker)
	if !ok {
		t.Fatalf("README has no %s", marker)
	}
	_, rest, _ = strings.Cut(rest, "```")
	_, rest, _ = strings.Cut(rest, "\n") // the fence's language
	block, _, ok := strings.Cut(rest, "```")
	if !ok {
		t.Fatalf("README: the block after %s does not end", marker)
	}
	return block
}

const signedYAML = `
server:
  auth:
    hmac:
      apps: [{app_key: partner-1, secret_env: PARTNER1_SECRET}]
services:
  - name: orders
    protocol: http
    instances: [{address: %s}]
routes:
  - match: {path: /v1/orders, methods: [POST]}
    service: orders
    method: create
`

// The signing examples the README gives partners are accepted by the
// gateway, as printed (the shell one run by bash with openssl and curl,
// the Go one compiled and run).
func TestTheREADMESigningExamplesAreAccepted(t *testing.T) {
	for _, tool := range []string{"bash", "openssl", "curl"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (make test installs it): %v", tool, err)
		}
	}
	const secret = "partner-1-secret-from-the-readme-test"
	t.Setenv("PARTNER1_SECRET", secret)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"got":%s}`, b)
	}))
	defer backend.Close()
	base, _ := startGatewayOn(t, fmt.Sprintf(signedYAML, strings.TrimPrefix(backend.URL, "http://")))
	waitFor(t, "the gateway", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz-probe")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil
	})

	t.Run("shell", func(t *testing.T) {
		script := strings.ReplaceAll(readmeBlock(t, "<!-- hmac-shell -->"), "https://gateway.example.com", base)
		out, err := exec.Command("bash", "-c", "set -euo pipefail\n"+script).CombinedOutput()
		if err != nil {
			t.Fatalf("the README's shell example: %v\n%s", err, out)
		}
		if got, want := string(out), `{"got":{"sku":"A-1","qty":2}}`; got != want {
			t.Errorf("got %s, want %s", got, want)
		}
	})

	t.Run("go", func(t *testing.T) {
		dir := t.TempDir()
		src := `package main

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"os"
	"sort"
	"strings"
)

` + readmeBlock(t, "<!-- hmac-go -->") + `
func main() { fmt.Print(sign(os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5], []byte(os.Args[6]))) }
`
		if err := os.WriteFile(filepath.Join(dir, "main.go"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		bin := filepath.Join(dir, "sign")
		if out, err := exec.Command("go", "build", "-o", bin, filepath.Join(dir, "main.go")).CombinedOutput(); err != nil {
			t.Fatalf("the README's Go example does not build: %v\n%s", err, out)
		}
		const target, body = "/v1/orders?region=eu&currency=EUR", `{"sku":"B-2","qty":1}`
		for i, q := range []string{target, "/v1/orders"} {
			ts, nonce := strconv.FormatInt(time.Now().Unix(), 10), fmt.Sprintf("readme-go-nonce-%d", i)
			sig, err := exec.Command(bin, secret, "POST", q, ts, nonce, body).Output()
			if err != nil {
				t.Fatal(err)
			}
			req, _ := http.NewRequest("POST", base+q, strings.NewReader(body))
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("X-Rb-App-Key", "partner-1")
			req.Header.Set("X-Rb-Timestamp", ts)
			req.Header.Set("X-Rb-Nonce", nonce)
			req.Header.Set("X-Rb-Signature", string(sig))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != 200 || string(b) != `{"got":`+body+`}` {
				t.Errorf("%s signed by the README's Go example: got %d %s, want 200", q, resp.StatusCode, b)
			}
		}
	})
}
