package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// update rewrites the expected sections of testdata/config/*.txt from what
// `rpcbridge validate` prints now:
//
//	go test -run TestValidateGolden ./cmd/rpcbridge/ -update
var update = flag.Bool("update", false, "rewrite the expected output of testdata/config/*.txt golden cases")

// Golden case files (testdata/config/<name>.txt) hold, in order:
//
//   - the YAML config, from the file's first line (so the line numbers of
//     YAML errors are the case file's own);
//   - optionally, extra files written next to it, each after a line
//     "----- file <name>" (an IDL with a syntax error, say);
//   - the expected result, from the line "----- validate: exit <code>"
//     to the end: the header names the first stream with output, and a
//     "----- stderr" line starts stderr when stdout has output too.
//
// In the config and the extra files {{testdata}} stands for the repo's
// testdata folder. In the expected output the config's path reads CONFIG,
// its folder {{dir}} and the testdata folder {{testdata}}.
const (
	goldenResult = "----- validate:"
	goldenFile   = "----- file "
)

// Environment variables the cases name in key_env and admin_token_env.
var goldenEnv = map[string]string{
	"RPCBRIDGE_GOLDEN_KEY":   "golden-api-key",
	"RPCBRIDGE_GOLDEN_TOKEN": "golden-admin-token",
	"RPCBRIDGE_GOLDEN_UNSET": "",
}

type goldenCase struct {
	config   string
	files    map[string]string
	input    string // everything before the result section, as read
	expected string // the result section, header included
}

func parseGolden(text string) (goldenCase, error) {
	c := goldenCase{files: map[string]string{}}
	at := -1
	if strings.HasPrefix(text, goldenResult) {
		at = 0
	} else if i := strings.Index(text, "\n"+goldenResult); i >= 0 {
		at = i + 1
	}
	if at < 0 {
		return c, fmt.Errorf("no %q line", goldenResult)
	}
	c.input, c.expected = text[:at], text[at:]
	parts := strings.Split("\n"+c.input, "\n"+goldenFile)
	c.config = strings.TrimPrefix(parts[0], "\n")
	for _, p := range parts[1:] {
		name, body, ok := strings.Cut(p, "\n")
		name = strings.TrimSpace(name)
		if !ok || name == "" || strings.ContainsAny(name, `/\`) {
			return c, fmt.Errorf("bad %q line: %q", goldenFile, goldenFile+name)
		}
		c.files[name] = body
	}
	return c, nil
}

func renderGolden(code int, stdout, stderr string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s exit %d", goldenResult, code)
	streams := 0
	for _, s := range []struct{ name, text string }{{"stdout", stdout}, {"stderr", stderr}} {
		if s.text == "" {
			continue
		}
		if streams == 0 {
			fmt.Fprintf(&b, ", %s\n", s.name)
		} else {
			fmt.Fprintf(&b, "----- %s\n", s.name)
		}
		b.WriteString(s.text)
		if !strings.HasSuffix(s.text, "\n") {
			b.WriteString("\n")
		}
		streams++
	}
	if streams == 0 {
		b.WriteString("\n")
	}
	return b.String()
}

func TestValidateGolden(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join("..", "..", "testdata", "config", "*.txt"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(paths)
	if len(paths) < 25 {
		t.Fatalf("got %d golden cases in testdata/config, want at least 25", len(paths))
	}
	testdata, err := filepath.Abs(filepath.Join("..", "..", "testdata"))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range goldenEnv {
		t.Setenv(k, v)
	}
	for _, path := range paths {
		name := strings.TrimSuffix(filepath.Base(path), ".txt")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			c, err := parseGolden(string(raw))
			if err != nil {
				t.Fatalf("%s: %v", path, err)
			}
			dir := t.TempDir()
			cfg := filepath.Join(dir, "gateway.yaml")
			expand := func(s string) string { return strings.ReplaceAll(s, "{{testdata}}", testdata) }
			if err := os.WriteFile(cfg, []byte(expand(c.config)), 0o644); err != nil {
				t.Fatal(err)
			}
			for n, body := range c.files {
				if err := os.WriteFile(filepath.Join(dir, n), []byte(expand(body)), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"validate", "-c", cfg}, &stdout, &stderr)
			normalise := strings.NewReplacer(cfg, "CONFIG", dir, "{{dir}}", testdata, "{{testdata}}").Replace
			got := renderGolden(code, normalise(stdout.String()), normalise(stderr.String()))
			if got == c.expected {
				return
			}
			if *update {
				if err := os.WriteFile(path, []byte(c.input+got), 0o644); err != nil {
					t.Fatal(err)
				}
				t.Logf("%s: expected output rewritten", path)
				return
			}
			t.Errorf("%s: rpcbridge validate output differs\ngot:\n%s\nwant:\n%s\n(if the new output is right: go test -run TestValidateGolden ./cmd/rpcbridge/ -update rewrites the expected section; then read the diff)", path, got, c.expected)
		})
	}
}
