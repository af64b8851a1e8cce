package dubbo_test

import (
	"io"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"github.com/rpcbridge/rpcbridge/gateway"
	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/mapping"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
)

// exposed are the attachment names the tests expose: some the provider
// sets (in other cases too), some it sets with values a header cannot
// take, one it does not set; not x-secret, which it sets.
var exposed = []string{"x-trace-id", "x-mixed-case", "X-Count", "x-big", "x-ok", "x-ratio", "x-list", "x-bad", "x-absent"}

// wantExposed are their values as the tagged method sets them.
var wantExposed = map[string]string{
	"x-trace-id": "abc-123", "x-mixed-case": "M", "X-Count": "42", "x-big": "1152921504606846976",
	"x-ok": "true", "x-ratio": "1.5",
}

// A dubbo-go provider's reply attachments named in ExposeAttachments
// (and only those) reach Result.Meta under the configured names, with
// their values as text; on an exception reply they are on the error.
// The package's client and dubbo-go's (the differential tests'
// reference) both pass.
func TestReplyAttachmentsAreExposed(t *testing.T) {
	for _, e := range []string{ours, dubboGo} {
		t.Run(e, func(t *testing.T) { testReplyAttachmentsAreExposed(t, e) })
	}
}

func testReplyAttachmentsAreExposed(t *testing.T, e string) {
	c := dial(t, newProtocol(t, func(o *dubbo.Options) {
		o.ExposeAttachments = exposed
		useClient(o, e)
	}), mainAddr)
	ctx := t.Context()
	res, err := c.Invoke(ctx, &generic.Call{Method: "tagged", Body: []byte(`{"fail": false}`)})
	if err != nil || string(res.Body) != `"tagged"` {
		t.Fatalf("got %v, %v, want \"tagged\"", res, err)
	}
	if !reflect.DeepEqual(res.Meta, wantExposed) {
		t.Errorf("got meta %v, want %v", res.Meta, wantExposed)
	}
	_, err = c.Invoke(ctx, &generic.Call{Method: "tagged", Body: []byte(`{"fail": true}`)})
	ge := generic.AsError(err)
	if ge.Code != generic.CodeBackendException || ge.Exception != "org.rpcbridge.test.TaggedException" || ge.Message != "tagged and failed" {
		t.Fatalf("got %v, want BACKEND_EXCEPTION org.rpcbridge.test.TaggedException", err)
	}
	if !reflect.DeepEqual(ge.Meta, wantExposed) {
		t.Errorf("exception: got meta %v, want %v", ge.Meta, wantExposed)
	}
	// A reply without attachments of interest exposes none; a client that
	// exposes none reads none.
	res, err = c.Invoke(ctx, &generic.Call{Method: "echoLong", Body: []byte(`{"v": 7}`)})
	if err != nil || res.Meta != nil {
		t.Errorf("echoLong: got %v, %v, want no meta", res, err)
	}
	res, err = mainClient(t).Invoke(ctx, &generic.Call{Method: "tagged", Body: []byte(`{"fail": false}`)})
	if err != nil || res.Meta != nil {
		t.Errorf("without expose: got %v, %v, want no meta", res, err)
	}
}

// New refuses names that cannot be header names, and Triple.
func TestExposeAttachmentsOptions(t *testing.T) {
	for _, o := range []dubbo.Options{
		{Interface: "x.Y", ExposeAttachments: []string{"bad name"}},
		{Interface: "x.Y", ExposeAttachments: []string{""}},
		{Interface: "x.Y", Protocol: "tri", ExposeAttachments: []string{"x-a"}},
	} {
		if _, err := dubbo.New(o); err == nil {
			t.Errorf("%+v: New accepted it", o)
		}
	}
}

// Through the gateway, dubbo.expose_attachments turns the attachments of
// a reply into response headers.
func TestExposedAttachmentsAreResponseHeaders(t *testing.T) {
	yaml := `
services:
  - name: types
    protocol: dubbo
    dubbo:
      interface: org.rpcbridge.test.TypesService
      version: 1.0.0
      expose_attachments: [` + strings.Join(exposed, ", ") + `]
      methods:
        tagged: {params: [{name: fail, type: boolean}]}
    instances: [{address: "` + mainAddr + `"}]
`
	cfg, err := mapping.Parse([]byte(yaml), mapping.Plugins{"dubbo": dubbo.Plugin{}})
	if err != nil {
		t.Fatal(err)
	}
	g, err := gateway.New(cfg, []byte(yaml), gateway.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { g.Close() })
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)
	resp, err := http.Post(srv.URL+"/types/tagged", "application/json", strings.NewReader(`{"fail": false}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || string(body) != `"tagged"` {
		t.Fatalf("got %d %s, want 200 \"tagged\"", resp.StatusCode, body)
	}
	for name, want := range wantExposed {
		if got := resp.Header.Values(name); len(got) != 1 || got[0] != want {
			t.Errorf("header %s: got %q, want %q", name, got, want)
		}
	}
	for _, name := range []string{"x-secret", "x-list", "x-bad", "x-absent", "path", "dubbo"} {
		if got := resp.Header.Values(name); len(got) != 0 {
			t.Errorf("header %s: got %q, want none", name, got)
		}
	}
}
