package idl

import (
	"os"
	"strings"
	"testing"
)

// FuzzParse checks that no input makes Parse or Resolve panic, and that
// every error has the "file:line:col: message" form.
func FuzzParse(f *testing.F) {
	for _, name := range []string{"Test.tars", "Common.tars", "Stock.tars"} {
		if b, err := os.ReadFile("../../../testdata/tars/" + name); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("module M { enum E { A = -2, B, C = A }; struct S { 0 optional E e = E::B; 1 require map<int, vector<S>> m; }; interface I { void f(out S s); }; };"))
	f.Add([]byte("module M { const long L = 0x7fffffffffffffff; const float F = -1.5e3; struct S { 0 optional long l = L; }; key[S, l]; };"))
	f.Add([]byte("/* x */ // y\n#include \"a.tars\""))
	f.Fuzz(func(t *testing.T, src []byte) {
		file, err := Parse("f.tars", src)
		if err == nil {
			_, err = Resolve([]*File{file})
		}
		if err != nil && !strings.HasPrefix(err.Error(), "f.tars:") {
			t.Fatalf("error without position: %v", err)
		}
	})
}
