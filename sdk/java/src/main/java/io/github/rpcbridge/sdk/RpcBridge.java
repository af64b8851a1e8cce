package io.github.rpcbridge.sdk;

import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The rpcbridge Java SDK: a backend registers itself in ZooKeeper for the
 * rpcbridge gateways to find, and reports its APIs. The ZooKeeper layout
 * and node data are the Go SDK's ({@code sdk.New} + {@code Register}).
 *
 * <pre>{@code
 * Registration r = RpcBridge.builder()
 *     .zookeeper("127.0.0.1:2181").root("/rpcbridge")
 *     .service("users").protocol("dubbo").address("10.0.0.5:20880")
 *     .apis(Apis.scan(UserServiceImpl.class))
 *     .register();                 // after the server is listening
 * r.registerShutdownHook(Duration.ofSeconds(2));
 * }</pre>
 */
public final class RpcBridge {
    /** The registry root unless {@link Builder#root} says otherwise; the gateway's default too. */
    public static final String DEFAULT_ROOT = "/rpcbridge";
    /** The ZooKeeper session timeout unless {@link Builder#sessionTimeout} says otherwise. */
    public static final Duration DEFAULT_SESSION_TIMEOUT = Duration.ofSeconds(10);
    /** How long {@link Builder#register()} waits for ZooKeeper unless {@link Builder#registerTimeout} says otherwise. */
    public static final Duration DEFAULT_REGISTER_TIMEOUT = Duration.ofSeconds(10);
    /** The weight of an instance registered with weight 0. */
    public static final int DEFAULT_WEIGHT = 100;

    private RpcBridge() {
    }

    /** @return a new builder */
    public static Builder builder() {
        return new Builder();
    }

    /**
     * Describes the instance and where to register it. Nothing is checked
     * or connected until {@link #register()}. Not safe for concurrent use.
     */
    public static final class Builder {
        private final List<String> zookeeper = new ArrayList<>();
        private String root = DEFAULT_ROOT;
        private String service = "";
        private String protocol = "";
        private String address = "";
        private int weight;
        private String zone = "";
        private final List<String> tags = new ArrayList<>();
        private String version = "";
        private final Map<String, String> metadata = new LinkedHashMap<>();
        private final List<Api> apis = new ArrayList<>();
        private boolean offline;
        private Duration sessionTimeout = DEFAULT_SESSION_TIMEOUT;
        private Duration registerTimeout = DEFAULT_REGISTER_TIMEOUT;
        private Duration drain = Registration.DEFAULT_DRAIN;

        private Builder() {
        }

        /**
         * @param servers the ZooKeeper servers, host:port each (or comma-separated lists of them). Required.
         * @return this
         */
        public Builder zookeeper(String... servers) {
            for (String s : servers) {
                if (s == null) {
                    zookeeper.add("");
                    continue;
                }
                for (String one : s.split(",", -1)) {
                    zookeeper.add(one.trim());
                }
            }
            return this;
        }

        /**
         * @param root the registry root; default /rpcbridge (must match the gateway's registries[].zookeeper.root)
         * @return this
         */
        public Builder root(String root) {
            this.root = orEmpty(root);
            return this;
        }

        /**
         * @param service the service name the gateway knows. Required.
         * @return this
         */
        public Builder service(String service) {
            this.service = orEmpty(service);
            return this;
        }

        /**
         * @param protocol grpc, dubbo, tri, thrift, tars or http. Required.
         * @return this
         */
        public Builder protocol(String protocol) {
            this.protocol = orEmpty(protocol);
            return this;
        }

        /**
         * @param address the host:port gateways dial: the bound listener's
         *     address, not 0.0.0.0 or ":port". Required.
         * @return this
         */
        public Builder address(String address) {
            this.address = orEmpty(address);
            return this;
        }

        /**
         * @param host the host gateways dial
         * @param port the port the server listens on
         * @return this
         */
        public Builder address(String host, int port) {
            String h = orEmpty(host);
            this.address = (h.indexOf(':') >= 0 ? "[" + h + "]" : h) + ":" + port;
            return this;
        }

        /**
         * @param weight the relative share of traffic; 0 means 100
         * @return this
         */
        public Builder weight(int weight) {
            this.weight = weight;
            return this;
        }

        /**
         * @param zone the availability zone, for same-zone preference
         * @return this
         */
        public Builder zone(String zone) {
            this.zone = orEmpty(zone);
            return this;
        }

        /**
         * @param tags tags that select this instance for tag (gray/canary) routing; added to earlier ones
         * @return this
         */
        public Builder tags(String... tags) {
            for (String t : tags) {
                this.tags.add(orEmpty(t));
            }
            return this;
        }

        /**
         * @param version the backend's own version string
         * @return this
         */
        public Builder version(String version) {
            this.version = orEmpty(version);
            return this;
        }

        /**
         * @param key a free-form metadata key passed to the gateway's adapter
         * @param value its value
         * @return this
         */
        public Builder metadata(String key, String value) {
            metadata.put(orEmpty(key), orEmpty(value));
            return this;
        }

        /**
         * @param metadata entries added to the metadata
         * @return this
         */
        public Builder metadata(Map<String, String> metadata) {
            metadata.forEach(this::metadata);
            return this;
        }

        /**
         * @param api one API to report; added to earlier ones
         * @return this
         */
        public Builder api(Api api) {
            if (api == null) {
                throw new IllegalArgumentException("rpcbridge: api: want an Api, got null");
            }
            apis.add(api);
            return this;
        }

        /**
         * @param apis APIs to report, like {@link Apis#scan}'s; added to earlier ones
         * @return this
         */
        public Builder apis(Collection<Api> apis) {
            apis.forEach(this::api);
            return this;
        }

        /**
         * @param apis APIs to report; added to earlier ones
         * @return this
         */
        public Builder apis(Api... apis) {
            return apis(Arrays.asList(apis));
        }

        /**
         * @param offline true registers the instance with online=false: no traffic until
         *     {@link Registration#setOnline}(true)
         * @return this
         */
        public Builder offline(boolean offline) {
            this.offline = offline;
            return this;
        }

        /**
         * @param timeout the ZooKeeper session timeout: how long after a crash the instance
         *     disappears (the server clamps it to its bounds). Default 10s.
         * @return this
         */
        public Builder sessionTimeout(Duration timeout) {
            this.sessionTimeout = timeout;
            return this;
        }

        /**
         * @param timeout how long {@link #register()}, {@link Registration#setOnline} and
         *     deregistration wait for ZooKeeper before failing. Default 10s.
         * @return this
         */
        public Builder registerTimeout(Duration timeout) {
            this.registerTimeout = timeout;
            return this;
        }

        /**
         * @param drain how long {@link Registration#close()} waits between deregistering and
         *     ending the session. Default 2s; zero: no wait.
         * @return this
         */
        public Builder drain(Duration drain) {
            this.drain = drain;
            return this;
        }

        /**
         * Checks the description, connects to ZooKeeper and creates the
         * instance's ephemeral node; returns once it exists. Call it after
         * the server is listening.
         *
         * @return the registration
         * @throws IllegalArgumentException when the description is incomplete or malformed
         * @throws RegistrationException when ZooKeeper is unreachable until the registerTimeout,
         *     or refuses the node
         */
        public Registration register() {
            Instance in = instance();
            String base = root.equals("/") ? "" : root;
            String path = base + "/services/" + service + "/instances/" + address;
            ZkSession session;
            try {
                session = new ZkSession(String.join(",", zookeeper), sessionTimeout);
            } catch (IOException | RuntimeException e) {
                throw new RegistrationException("rpcbridge: register " + service + " " + address + ": start the ZooKeeper client for " + zookeeper + ": " + e, e);
            }
            Registration r = new Registration(session, path, in, registerTimeout, drain);
            try {
                r.register();
            } catch (RuntimeException e) {
                session.close();
                throw e;
            }
            return r;
        }

        /** The instance to register, after the Go SDK's checks, in its order, then the registry's. */
        Instance instance() {
            if (zookeeper.isEmpty()) {
                throw bad("zookeeper: want at least one host:port, got none");
            }
            if (service.isEmpty()) {
                throw bad("service: want a service name, got \"\"");
            }
            if (protocol.isEmpty()) {
                throw bad("protocol: want grpc, dubbo, tri, thrift, tars or http, got \"\"");
            }
            if (weight < 0) {
                throw bad("weight: want 0 (default 100) or more, got " + weight);
            }
            checkAddress(address);
            for (int i = 0; i < zookeeper.size(); i++) {
                checkServer(i, zookeeper.get(i));
            }
            if (!root.startsWith("/") || (root.length() > 1 && root.endsWith("/")) || root.contains("//")) {
                throw bad("root: want an absolute path like /rpcbridge, got " + Json.quote(root));
            }
            checkName("service", service);
            checkName("address", address);
            checkPositive("sessionTimeout", sessionTimeout);
            checkPositive("registerTimeout", registerTimeout);
            if (drain == null || drain.isNegative()) {
                throw bad("drain: want 0 or more, got " + drain);
            }
            return new Instance(service, address, protocol, weight == 0 ? DEFAULT_WEIGHT : weight, zone, tags, !offline,
                    version, metadata, apis);
        }

        private static void checkPositive(String field, Duration d) {
            if (d == null || d.isNegative() || d.isZero()) {
                throw bad(field + ": want a positive duration, got " + d);
            }
        }

        private static void checkServer(int i, String s) {
            boolean ok = !s.isEmpty() && s.indexOf(' ') < 0 && s.indexOf('/') < 0;
            int colon = s.lastIndexOf(':');
            if (ok && colon >= 0 && !s.endsWith("]")) {
                String port = s.substring(colon + 1);
                ok = port.chars().allMatch(c -> c >= '0' && c <= '9') && !port.isEmpty() && port.length() <= 5
                        && Integer.parseInt(port) > 0 && Integer.parseInt(port) <= 65535;
            }
            if (!ok) {
                throw bad("zookeeper[" + i + "]: want host:port, got " + Json.quote(s));
            }
        }

        /** Go's net.SplitHostPort, then the SDK's rules: a host, a port other than 0, no wildcard. */
        static void checkAddress(String addr) {
            String host;
            String port;
            boolean ok = true;
            if (addr.startsWith("[")) {
                int end = addr.indexOf(']');
                ok = end > 0 && addr.length() > end + 1 && addr.charAt(end + 1) == ':';
                host = ok ? addr.substring(1, end) : "";
                port = ok ? addr.substring(end + 2) : "";
                ok = ok && host.indexOf('[') < 0 && host.indexOf(']') < 0;
            } else {
                int colon = addr.lastIndexOf(':');
                ok = colon >= 0;
                host = ok ? addr.substring(0, colon) : "";
                port = ok ? addr.substring(colon + 1) : "";
                ok = ok && host.indexOf(':') < 0 && host.indexOf('[') < 0 && host.indexOf(']') < 0;
            }
            ok = ok && port.indexOf('[') < 0 && port.indexOf(']') < 0;
            if (!ok || host.isEmpty() || port.isEmpty() || port.equals("0")) {
                throw bad("address: want the bound host:port gateways can dial, got " + Json.quote(addr));
            }
            if (host.equals("0.0.0.0") || host.equals("::")) {
                throw bad("address: want a dialable host, got the wildcard " + Json.quote(addr));
            }
        }

        private static void checkName(String field, String s) {
            if (s.isEmpty() || s.equals(".") || s.equals("..") || s.indexOf('/') >= 0 || s.indexOf('\0') >= 0) {
                throw bad(field + ": want a non-empty name without '/', got " + Json.quote(s));
            }
        }

        private static IllegalArgumentException bad(String msg) {
            return new IllegalArgumentException("rpcbridge: " + msg);
        }

        private static String orEmpty(String s) {
            return s == null ? "" : s;
        }
    }
}
