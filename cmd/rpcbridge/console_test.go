package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/rpcbridge/rpcbridge/examples/people"
)

// chromium finds the browser; under CI=true a missing one is a failure.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed (make test installs it: apt-get install chromium)")
	}
	t.Skip("chromium is not installed; make test installs it")
	return ""
}

// The console, in real headless Chromium: it loads without errors, lists
// the services and their instances, and a try-it submission shows the
// backend's reply.
func TestTheConsoleInAHeadlessBrowser(t *testing.T) {
	browser := chromium(t)
	ps, err := people.Start("127.0.0.1:0", true)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ps.Stop)
	base, admin := startGatewayOn(t, fmt.Sprintf(`
services:
  - name: people
    protocol: grpc
    grpc: {service: demo.v1.PeopleService}
    instances: [{address: %q, zone: z1, tags: [stable]}]
routes:
  - {match: {path: "/v1/people/{id}", methods: [GET]}, service: people, method: Get}
`, ps.Addr()))
	waitFor(t, "the control plane", 10*time.Second, func() bool { c, _ := get(admin + "/readyz"); return c == 200 })
	if c, _ := get(base + "/nowhere/M"); c != 404 { // an error for the console's list
		t.Fatalf("a request to no service: got %d, want 404", c)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("headless", true))
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	defer cancelAlloc()
	ctx, cancel := chromedp.NewContext(actx)
	defer cancel()
	ctx, cancelTimeout := context.WithTimeout(ctx, 60*time.Second)
	defer cancelTimeout()

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				problems = append(problems, "console.error")
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	poll := func(expr string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingTimeout(20*time.Second))
	}
	err = chromedp.Do(ctx,
		chromedp.Navigate(admin+"/"),
		chromedp.WaitVisible(chromedp.CSS(`#services table`)),
		poll(`document.querySelector("#services").textContent.includes("healthy")`),
		poll(`document.querySelectorAll("#op option").length > 1`),
		chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector("#op"); for (const o of s.options) { if (o.text.includes("/v1/people/{id}")) { s.value = o.value; } } s.dispatchEvent(new Event("change")); })()`),
		chromedp.SendKeys(chromedp.CSS(`#p-id`), "1"),
		chromedp.Click(chromedp.CSS(`#send`)),
		poll(`document.querySelector("#result").textContent.includes("HTTP ")`),
		poll(`document.querySelector("#errors").textContent.includes("/nowhere/M")`),
	)
	if err != nil {
		t.Fatalf("driving the console: %v", err)
	}
	services, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#services`)))
	if err != nil {
		t.Fatal(err)
	}
	result, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(`#result`)))
	if err != nil {
		t.Fatal(err)
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "console.png"), shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("screenshot: %s (%d bytes)", filepath.Join(dir, "console.png"), len(shot))
	if out := os.Getenv("RPCBRIDGE_CONSOLE_SCREENSHOT"); out != "" {
		os.WriteFile(out, shot, 0o644)
	}
	for _, want := range []string{"people", "grpc", ps.Addr(), "healthy", "z1", "stable"} {
		if !strings.Contains(services, want) {
			t.Errorf("services section: got %q, want it to show %q", services, want)
		}
	}
	if !strings.Contains(result, "HTTP 200") || !strings.Contains(result, "Ada Lovelace") {
		t.Errorf("try-it: got %q, want HTTP 200 with the person's reply", result)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Errorf("the page logged errors: %v", problems)
	}
}
