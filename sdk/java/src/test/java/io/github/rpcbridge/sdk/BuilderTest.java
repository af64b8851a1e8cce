package io.github.rpcbridge.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

class BuilderTest {
    /** A complete description; each case breaks one thing. */
    private static RpcBridge.Builder valid() {
        return RpcBridge.builder().zookeeper("127.0.0.1:2181").service("users").protocol("dubbo").address("10.0.0.5:20880");
    }

    @Test
    void buildsTheInstanceWithDefaults() {
        assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.5:20880\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":true}",
                valid().instance().toJson());
    }

    @Test
    void buildsTheInstanceFromEverySetter() {
        Map<String, String> more = new LinkedHashMap<>();
        more.put("b", "2");
        String got = valid().weight(7).zone("z1").tags("canary").tags("blue").version("1.4.2").metadata("a", "1").metadata(more)
                .api(Api.of("getUser").paramTypes("java.lang.Long")).apis(List.of(Api.of("count"))).apis(Api.of("ping"))
                .offline(true).instance().toJson();
        assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.5:20880\",\"protocol\":\"dubbo\",\"weight\":7,\"zone\":\"z1\","
                + "\"tags\":[\"canary\",\"blue\"],\"online\":false,\"version\":\"1.4.2\",\"metadata\":{\"a\":\"1\",\"b\":\"2\"},"
                + "\"apis\":[{\"name\":\"getUser\",\"param_types\":[\"java.lang.Long\"]},{\"name\":\"count\"},{\"name\":\"ping\"}]}", got);
    }

    @Test
    void addressFromHostAndPort() {
        assertEquals("{\"service\":\"users\",\"address\":\"[::1]:8080\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":true}",
                valid().address("::1", 8080).instance().toJson());
        assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.6:80\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":true}",
                valid().address("10.0.0.6", 80).instance().toJson());
    }

    private static void assertRejected(String want, UnaryOperator<RpcBridge.Builder> breakIt) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> breakIt.apply(valid()).register());
        assertEquals(want, e.getMessage());
    }

    @Test
    void rejectsBadInputInTheGoSDKsOrder() {
        // Everything missing: the first check (ZooKeeper) speaks.
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> RpcBridge.builder().register());
        assertEquals("rpcbridge: zookeeper: want at least one host:port, got none", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RpcBridge.builder().zookeeper("h:1").register());
        assertEquals("rpcbridge: service: want a service name, got \"\"", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RpcBridge.builder().zookeeper("h:1").service("s").register());
        assertEquals("rpcbridge: protocol: want grpc, dubbo, tri, thrift, tars or http, got \"\"", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RpcBridge.builder().zookeeper("h:1").service("s").protocol("http").weight(-1).register());
        assertEquals("rpcbridge: weight: want 0 (default 100) or more, got -1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> RpcBridge.builder().zookeeper("h:1").service("s").protocol("http").register());
        assertEquals("rpcbridge: address: want the bound host:port gateways can dial, got \"\"", e.getMessage());
    }

    @Test
    void rejectsBadAddresses() {
        for (String a : new String[] {"", "host", ":8080", "host:", "host:0", "::1:80", "[::1]80", "[::1", "a:b:80", "h[:80"}) {
            assertRejected("rpcbridge: address: want the bound host:port gateways can dial, got \"" + a + "\"", b -> b.address(a));
        }
        for (String a : new String[] {"0.0.0.0:8080", "[::]:8080"}) {
            assertRejected("rpcbridge: address: want a dialable host, got the wildcard \"" + a + "\"", b -> b.address(a));
        }
        assertRejected("rpcbridge: address: want a non-empty name without '/', got \"a/b:80\"", b -> b.address("a/b:80"));
        for (String a : new String[] {"[::1]:80", "localhost:1", "10.0.0.5:20880", "host:http"}) {
            RpcBridge.Builder.checkAddress(a);
        }
    }

    @Test
    void rejectsBadZooKeeperRootAndNames() {
        assertRejected("rpcbridge: zookeeper[1]: want host:port, got \"\"", b -> b.zookeeper(""));
        assertRejected("rpcbridge: zookeeper[1]: want host:port, got \"zk:2181/chroot\"", b -> b.zookeeper("zk:2181/chroot"));
        assertRejected("rpcbridge: zookeeper[2]: want host:port, got \"zk:x\"", b -> b.zookeeper("zk:1,zk:x"));
        assertRejected("rpcbridge: zookeeper[1]: want host:port, got \"zk:70000\"", b -> b.zookeeper("zk:70000"));
        assertRejected("rpcbridge: root: want an absolute path like /rpcbridge, got \"rpcbridge\"", b -> b.root("rpcbridge"));
        assertRejected("rpcbridge: root: want an absolute path like /rpcbridge, got \"/rb/\"", b -> b.root("/rb/"));
        assertRejected("rpcbridge: root: want an absolute path like /rpcbridge, got \"/a//b\"", b -> b.root("/a//b"));
        assertRejected("rpcbridge: service: want a non-empty name without '/', got \"a/b\"", b -> b.service("a/b"));
        assertRejected("rpcbridge: service: want a non-empty name without '/', got \"..\"", b -> b.service(".."));
        assertRejected("rpcbridge: sessionTimeout: want a positive duration, got PT0S", b -> b.sessionTimeout(Duration.ZERO));
        assertRejected("rpcbridge: registerTimeout: want a positive duration, got null", b -> b.registerTimeout(null));
        assertRejected("rpcbridge: drain: want 0 or more, got PT-1S", b -> b.drain(Duration.ofSeconds(-1)));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> valid().api(null));
        assertEquals("rpcbridge: api: want an Api, got null", e.getMessage());
    }

    @Test
    void unreachableZooKeeperFailsAfterTheTimeout() {
        long t0 = System.nanoTime();
        RegistrationException e = assertThrows(RegistrationException.class,
                () -> RpcBridge.builder().zookeeper("127.0.0.1:1").service("users").protocol("dubbo").address("10.0.0.5:20880")
                        .registerTimeout(Duration.ofMillis(800)).register());
        Duration took = Duration.ofNanos(System.nanoTime() - t0);
        assertEquals("rpcbridge: register users 10.0.0.5:20880: no ZooKeeper session with 127.0.0.1:1 within 800ms"
                + " (is ZooKeeper running and reachable there?)", e.getMessage());
        assertNull(e.getCause());
        assertTrue(took.compareTo(Duration.ofMillis(800)) >= 0, "failed after " + took + ", want the whole 800ms");
        assertTrue(took.compareTo(Duration.ofSeconds(5)) < 0, "failed after " + took + ", want soon after 800ms");
    }
}
