package dubbo_test

import (
	"context"
	"testing"

	"github.com/rpcbridge/rpcbridge/generic"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo"
	"github.com/rpcbridge/rpcbridge/protocols/dubbo/testprovider"
)

func TestSmoke(t *testing.T) {
	p, err := dubbo.New(dubbo.Options{Interface: testprovider.Interface, Version: "1.0.0",
		Methods: map[string]dubbo.Method{"echoLong": {Params: []dubbo.Param{{Name: "v", Type: "long"}}}}})
	if err != nil {
		t.Fatal(err)
	}
	prov, err := testprovider.Start(testprovider.Config{})
	if err != nil {
		t.Fatal(err)
	}
	c, err := p.Dial(context.Background(), generic.Target{Address: prov.Addr})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []string{"echoLong", "ping", "who", "echoString"} {
		res, err := c.Invoke(context.Background(), &generic.Call{Method: m, Body: []byte(`{"v": 1152921504606846976, "types":["java.lang.String"]}`)})
		t.Logf("%s: %v %v", m, res, err)
		if res != nil {
			t.Logf("%s", res.Body)
		}
	}
}
