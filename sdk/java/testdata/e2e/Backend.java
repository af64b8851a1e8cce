package e2e;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.github.rpcbridge.sdk.Api;
import io.github.rpcbridge.sdk.Apis;
import io.github.rpcbridge.sdk.Registration;
import io.github.rpcbridge.sdk.RpcBridge;
import io.github.rpcbridge.sdk.RpcBridgeApi;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executors;

/**
 * The Java side of sdk/java/java_test.go.
 *
 * <pre>
 * serve zk=HOST:PORT root=/rb service=hello name=A drain=MS session=MS
 *     An HTTP backend (com.sun.net.httpserver) for the gateway's http
 *     protocol: POST /hello?name=N answers {"from":"A","name":"N"}. It
 *     registers with the SDK, its API scanned from @RpcBridgeApi, adds the
 *     SDK's shutdown hook, and prints "READY host:port sessionid".
 *     GET /control/online?v=false calls setOnline(false) (true: back).
 * fixture zk=HOST:PORT root=/java
 *     Registers the registration java_test.go also makes with the Go SDK,
 *     prints "REGISTERED path", and closes when stdin ends.
 * </pre>
 */
public final class Backend {
    private Backend() {
    }

    /** What the backend serves, reported by scanning. */
    public static final class Hello {
        @RpcBridgeApi(path = "/v1/hello/{name}", httpMethod = "GET")
        public String hello(String name) {
            return name;
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new HashMap<>();
        for (int i = 1; i < args.length; i++) {
            String[] kv = args[i].split("=", 2);
            a.put(kv[0], kv.length > 1 ? kv[1] : "");
        }
        switch (args[0]) {
            case "serve" -> serve(a);
            case "fixture" -> fixture(a);
            default -> throw new IllegalArgumentException("mode " + args[0]);
        }
    }

    private static void serve(Map<String, String> a) throws IOException {
        String name = a.get("name");
        HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
        server.setExecutor(Executors.newFixedThreadPool(8));
        Registration[] reg = new Registration[1];
        server.createContext("/hello", ex -> {
            drain(ex);
            String who = query(ex).getOrDefault("name", "");
            reply(ex, 200, "{\"from\":\"" + name + "\",\"name\":\"" + who + "\"}");
        });
        server.createContext("/control/online", ex -> {
            drain(ex);
            try {
                reg[0].setOnline(Boolean.parseBoolean(query(ex).get("v")));
                reply(ex, 200, "{\"online\":" + reg[0].isOnline() + "}");
            } catch (RuntimeException e) {
                reply(ex, 500, e.toString());
            }
        });
        server.start();
        String addr = "127.0.0.1:" + server.getAddress().getPort();
        reg[0] = RpcBridge.builder()
                .zookeeper(a.get("zk")).root(a.get("root")).service(a.get("service")).protocol("http").address(addr)
                .version("java-" + name)
                .sessionTimeout(Duration.ofMillis(Long.parseLong(a.getOrDefault("session", "4000"))))
                .apis(Apis.scan(Hello.class))
                .register();
        // SIGTERM: deregister, drain while still serving, then stop.
        reg[0].registerShutdownHook(Duration.ofMillis(Long.parseLong(a.getOrDefault("drain", "1000"))), () -> {
            System.out.println("STOPPING " + addr);
            System.out.flush();
            server.stop(0);
        });
        System.out.println("READY " + addr);
        System.out.flush();
    }

    /** The registration java_test.go makes with the Go SDK too: every field, and strings that need escaping. */
    private static void fixture(Map<String, String> a) throws IOException {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("k2", "quote \" backslash \\ tab \t");
        md.put("k1", "<html> & \u2028");
        md.put("\u00e9", "\u00fc");
        md.put("\ud83d\ude00", "emoji");
        md.put("\uff61", "halfwidth");
        md.put("ctl", "\u0001\u001f\u007f");
        Registration r = RpcBridge.builder()
                .zookeeper(a.get("zk")).root(a.get("root"))
                .service("same").protocol("dubbo").address("10.0.0.9:20880")
                .weight(7).zone("z-1").tags("canary", "blue <b>").version("1.4.2")
                .metadata(md)
                .api(Api.of("getUser").path("/v1/users/{id}").httpMethod("GET").paramNames("id").paramTypes("java.lang.Long"))
                .api(Api.of("find").paramTypes("java.util.List<java.lang.Long>", "java.util.Map<java.lang.String, java.lang.Long>"))
                .api(Api.of("count"))
                .register();
        System.out.println("REGISTERED " + r.path());
        System.out.flush();
        InputStream in = System.in;
        while (in.read() >= 0) {
            // until stdin ends
        }
        r.close(Duration.ZERO);
    }

    private static Map<String, String> query(HttpExchange ex) {
        Map<String, String> out = new HashMap<>();
        String q = ex.getRequestURI().getRawQuery();
        if (q == null) {
            return out;
        }
        for (String kv : q.split("&")) {
            String[] p = kv.split("=", 2);
            out.put(URLDecoder.decode(p[0], StandardCharsets.UTF_8), p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
        }
        return out;
    }

    private static void drain(HttpExchange ex) throws IOException {
        try (InputStream body = ex.getRequestBody()) {
            body.readAllBytes();
        }
    }

    private static void reply(HttpExchange ex, int status, String body) throws IOException {
        byte[] b = body.getBytes(StandardCharsets.UTF_8);
        ex.getResponseHeaders().set("Content-Type", "application/json");
        ex.sendResponseHeaders(status, b.length);
        try (OutputStream out = ex.getResponseBody()) {
            out.write(b);
        }
    }
}
