package zookeeper_test

import (
	"context"
	"maps"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/go-zookeeper/zk"

	"github.com/rpcbridge/rpcbridge/internal/zktest"
	"github.com/rpcbridge/rpcbridge/registry"
	"github.com/rpcbridge/rpcbridge/registry/zookeeper"
)

// Provider URLs in the shapes Java Dubbo 2.7/3.x and dubbo-go write.
const (
	javaDubboURL = "dubbo://192.168.0.103:20880/org.apache.dubbo.demo.DemoService?anyhost=true&application=demo-provider&deprecated=false&dubbo=2.0.2&dynamic=true&generic=false&group=g1&interface=org.apache.dubbo.demo.DemoService&methods=sayHello,sayHelloAsync&pid=12345&release=2.7.8&side=provider&timeout=3000&timestamp=1600000000000&version=1.0.0&weight=50"
	dubboGoURL   = "dubbo://192.168.1.6:20000/com.ikurento.user.UserProvider?anyhost=true&application=BDTService&category=providers&cluster=failover&dubbo=dubbo-provider-golang-2.6.0&environment=dev&group=&interface=com.ikurento.user.UserProvider&ip=192.168.56.1&methods=GetUser%2C&module=dubbogo+user-info+server&name=BDTService&pid=1447&revision=0.0.1&side=provider&timeout=3000&timestamp=1556509797245&version=1.0.0"
	tripleURL    = "tri://10.0.0.1:50052/org.apache.dubbo.demo.GreeterService?application=greeter&interface=org.apache.dubbo.demo.GreeterService&methods=sayHello,sayHelloStream&prefer.serialization=fastjson2,hessian2&release=3.2.0&side=provider&timestamp=1700000000000&dubbo.tag=gray&zone=z2"
	ipv6URL      = "dubbo://[::1]:20880/org.example.UserService?interface=org.example.UserService&methods=getUser&disabled=true"
)

func TestParseDubboURL(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		want registry.Instance
	}{
		{"java plain", javaDubboURL, registry.Instance{
			Service: "org.apache.dubbo.demo.DemoService", Address: "192.168.0.103:20880", Protocol: "dubbo", Weight: 50, Online: true, Version: "1.0.0",
			Metadata: map[string]string{"group": "g1", "version": "1.0.0", "timeout": "3000", "methods": "sayHello,sayHelloAsync",
				"interface": "org.apache.dubbo.demo.DemoService", "application": "demo-provider", "side": "provider", "release": "2.7.8", "dubbo": "2.0.2"},
			APIs: []registry.API{{Name: "sayHello"}, {Name: "sayHelloAsync"}},
		}},
		{"java encoded node name", url.QueryEscape(javaDubboURL), registry.Instance{
			Service: "org.apache.dubbo.demo.DemoService", Address: "192.168.0.103:20880", Protocol: "dubbo", Weight: 50, Online: true, Version: "1.0.0",
			Metadata: map[string]string{"group": "g1", "version": "1.0.0", "timeout": "3000", "methods": "sayHello,sayHelloAsync",
				"interface": "org.apache.dubbo.demo.DemoService", "application": "demo-provider", "side": "provider", "release": "2.7.8", "dubbo": "2.0.2"},
			APIs: []registry.API{{Name: "sayHello"}, {Name: "sayHelloAsync"}},
		}},
		{"dubbo-go encoded node name", url.QueryEscape(dubboGoURL), registry.Instance{
			Service: "com.ikurento.user.UserProvider", Address: "192.168.1.6:20000", Protocol: "dubbo", Weight: 100, Online: true, Version: "1.0.0",
			Metadata: map[string]string{"version": "1.0.0", "timeout": "3000", "methods": "GetUser,",
				"interface": "com.ikurento.user.UserProvider", "application": "BDTService", "side": "provider", "dubbo": "dubbo-provider-golang-2.6.0"},
			APIs: []registry.API{{Name: "GetUser"}},
		}},
		{"triple", tripleURL, registry.Instance{
			Service: "org.apache.dubbo.demo.GreeterService", Address: "10.0.0.1:50052", Protocol: "tri", Weight: 100, Online: true,
			Zone: "z2", Tags: []string{"gray"},
			Metadata: map[string]string{"methods": "sayHello,sayHelloStream", "interface": "org.apache.dubbo.demo.GreeterService",
				"application": "greeter", "side": "provider", "release": "3.2.0"},
			APIs: []registry.API{{Name: "sayHello"}, {Name: "sayHelloStream"}},
		}},
		{"ipv6 disabled", ipv6URL, registry.Instance{
			Service: "org.example.UserService", Address: "[::1]:20880", Protocol: "dubbo", Weight: 100, Online: false,
			Metadata: map[string]string{"methods": "getUser", "interface": "org.example.UserService"},
			APIs:     []registry.API{{Name: "getUser"}},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := zookeeper.ParseDubboURL(tc.in)
			if err != nil {
				t.Fatalf("ParseDubboURL: %v", err)
			}
			if got.Service != tc.want.Service || got.Address != tc.want.Address || got.Protocol != tc.want.Protocol ||
				got.Weight != tc.want.Weight || got.Online != tc.want.Online || got.Version != tc.want.Version ||
				got.Zone != tc.want.Zone || !slices.Equal(got.Tags, tc.want.Tags) {
				t.Fatalf("got %+v\nwant %+v", got, tc.want)
			}
			if !maps.Equal(got.Metadata, tc.want.Metadata) {
				t.Fatalf("metadata: got %v want %v", got.Metadata, tc.want.Metadata)
			}
			if !slices.EqualFunc(got.APIs, tc.want.APIs, func(a, b registry.API) bool { return a.Name == b.Name }) {
				t.Fatalf("apis: got %v want %v", got.APIs, tc.want.APIs)
			}
		})
	}
}

func TestParseDubboURLRejectsBadInput(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"http://1.2.3.4:80/x", "scheme"},
		{"dubbo://1.2.3.4/x", "address"},
		{"dubbo://1.2.3.4:0/x", "port"},
		{"dubbo://1.2.3.4:99999/x", "port"},
		{"dubbo://1.2.3.4:80/x?weight=-1", "weight"},
		{"dubbo://1.2.3.4:80/x?weight=heavy", "weight"},
		{"%zz", "URL-encoded"},
		{"", "scheme"},
	} {
		_, err := zookeeper.ParseDubboURL(tc.in)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("ParseDubboURL(%q): got %v want an error naming %q", tc.in, err, tc.want)
		}
	}
}

func TestWatchDubboDiscoversAndFiltersProviders(t *testing.T) {
	zs := zktest.Start(t)
	conn := rawConn(t, zs)
	const iface = "org.example.UserService"
	dir := "/dubbo/" + iface + "/providers"
	provider := func(addr, query string) string {
		return url.QueryEscape("dubbo://" + addr + "/" + iface + "?anyhost=true&interface=" + iface + "&methods=getUser,createUser&side=provider&" + query)
	}
	mustCreate(t, conn, dir+"/"+provider("10.0.0.1:20880", "group=g1&version=1.0.0&weight=200&timeout=1500"), nil)
	mustCreate(t, conn, dir+"/"+provider("10.0.0.2:20880", "group=g2&version=1.0.0"), nil)
	mustCreate(t, conn, dir+"/"+provider("10.0.0.3:20880", "version=1.0.0"), nil)
	mustCreate(t, conn, dir+"/"+provider("10.0.0.4:20880", "group=g1&version=2.0.0"), nil)
	mustCreate(t, conn, dir+"/"+url.QueryEscape("tri://10.0.0.5:50051/"+iface+"?interface="+iface+"&methods=getUser&group=g1&version=1.0.0"), nil)
	mustCreate(t, conn, dir+"/not-a-url", nil)

	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	w, err := gw.WatchDubbo(context.Background(), iface, "g1", "1.0.0")
	if err != nil {
		t.Fatalf("WatchDubbo: %v", err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	got := waitSet(t, w, 5*time.Second, "10.0.0.1:20880", "10.0.0.5:50051")
	d := got[0]
	if d.Protocol != "dubbo" || d.Weight != 200 || d.Service != iface || d.Metadata["timeout"] != "1500" ||
		d.Metadata["group"] != "g1" || d.Metadata["version"] != "1.0.0" || len(d.APIs) != 2 || d.APIs[1].Name != "createUser" {
		t.Fatalf("dubbo provider: got %+v", d)
	}
	if got[1].Protocol != "tri" {
		t.Fatalf("tri provider protocol: got %q want tri", got[1].Protocol)
	}

	// Empty group matches providers with no group.
	w2, err := gw.WatchDubbo(context.Background(), iface, "", "1.0.0")
	if err != nil {
		t.Fatalf("WatchDubbo: %v", err)
	}
	t.Cleanup(func() { _ = w2.Stop() })
	waitSet(t, w2, 5*time.Second, "10.0.0.3:20880")

	// A provider leaving (its ephemeral node deleted) and one arriving.
	if err := conn.Delete(dir+"/"+provider("10.0.0.1:20880", "group=g1&version=1.0.0&weight=200&timeout=1500"), -1); err != nil {
		t.Fatalf("delete: %v", err)
	}
	if _, err := conn.Create(dir+"/"+provider("10.0.0.6:20880", "group=g1&version=1.0.0"), nil, zk.FlagEphemeral, zk.WorldACL(zk.PermAll)); err != nil {
		t.Fatalf("create: %v", err)
	}
	waitSet(t, w, 5*time.Second, "10.0.0.5:50051", "10.0.0.6:20880")
}

func TestWatchDubboWaitsForProvidersPath(t *testing.T) {
	zs := zktest.Start(t)
	gw := newRegistry(t, zs.Servers(), zookeeper.Options{})
	w, err := gw.WatchDubbo(context.Background(), "org.example.Late", "", "")
	if err != nil {
		t.Fatalf("WatchDubbo: %v", err)
	}
	t.Cleanup(func() { _ = w.Stop() })
	waitSet(t, w, 5*time.Second)
	conn := rawConn(t, zs)
	mustCreate(t, conn, "/dubbo/org.example.Late/providers/"+url.QueryEscape("dubbo://10.1.1.1:20880/org.example.Late?methods=a"), nil)
	waitSet(t, w, 5*time.Second, "10.1.1.1:20880")
}
