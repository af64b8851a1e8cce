package io.github.rpcbridge.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** Registration against a real ZooKeeper server (in this JVM). */
class RegistrationTest {
    private static final String NODE = "/rb/services/users/instances/10.0.0.5:20880";
    private TestZooKeeper zk;
    private ZooKeeper reader;

    @BeforeEach
    void start() throws Exception {
        zk = new TestZooKeeper();
        reader = zk.client();
    }

    @AfterEach
    void stop() throws Exception {
        reader.close();
        zk.close();
    }

    private RpcBridge.Builder builder() {
        return RpcBridge.builder().zookeeper(zk.connect()).root("/rb").service("users").protocol("dubbo").address("10.0.0.5:20880")
                .sessionTimeout(Duration.ofSeconds(2)).registerTimeout(Duration.ofSeconds(10));
    }

    private String data(String path) throws Exception {
        return new String(reader.getData(path, false, null), StandardCharsets.UTF_8);
    }

    private String dataOrNull(String path) {
        try {
            return data(path);
        } catch (KeeperException.NoNodeException e) {
            return null;
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void registerWritesTheEphemeralNodeAndSetOnlineRewritesIt() throws Exception {
        try (Registration r = builder().version("1.4.2").api(Api.of("getUser").paramTypes("java.lang.Long")).drain(Duration.ZERO).register()) {
            assertEquals(NODE, r.path());
            String want = "{\"service\":\"users\",\"address\":\"10.0.0.5:20880\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":true,"
                    + "\"version\":\"1.4.2\",\"apis\":[{\"name\":\"getUser\",\"param_types\":[\"java.lang.Long\"]}]}";
            assertEquals(want, data(NODE));
            assertEquals(want, r.json());
            Stat st = reader.exists(NODE, false);
            assertEquals(r.session().sessionId(), st.getEphemeralOwner());
            // The parents are persistent and empty, as the Go SDK leaves them.
            for (String p : new String[] {"/rb", "/rb/services", "/rb/services/users", "/rb/services/users/instances"}) {
                Stat ps = new Stat();
                assertNull(reader.getData(p, false, ps), p);
                assertEquals(0, ps.getEphemeralOwner(), p);
            }

            r.setOnline(false);
            assertFalse(r.isOnline());
            assertEquals(want.replace("\"online\":true", "\"online\":false"), data(NODE));
            r.setOnline(true);
            assertEquals(want, data(NODE));
        }
        assertNull(reader.exists(NODE, false));
    }

    @Test
    void closeDeregistersThenDrainsThenEndsTheSession() throws Exception {
        Duration drain = Duration.ofMillis(400);
        Registration r = builder().drain(drain).register();
        AtomicLong deletedAt = new AtomicLong();
        CountDownLatch deleted = new CountDownLatch(1);
        reader.exists(NODE, e -> {
            if (e.getType() == Watcher.Event.EventType.NodeDeleted) {
                deletedAt.set(System.nanoTime());
                deleted.countDown();
            }
        });
        long t0 = System.nanoTime();
        r.close();
        long returned = System.nanoTime();
        assertTrue(deleted.await(5, TimeUnit.SECONDS), "the node was never deleted");
        assertTrue(returned - t0 >= drain.toNanos(), "close returned after " + Duration.ofNanos(returned - t0) + ", want at least the drain " + drain);
        assertTrue(deletedAt.get() - t0 < drain.toNanos(), "the node went " + Duration.ofNanos(deletedAt.get() - t0) + " after close began, want before the drain ended");
        assertFalse(r.isConnected());
        r.close(); // idempotent
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> r.setOnline(false));
        assertEquals("rpcbridge: users 10.0.0.5:20880: registration closed", e.getMessage());
        assertThrows(IllegalStateException.class, () -> r.registerShutdownHook(Duration.ZERO));
    }

    @Test
    void aSecondCloseReturnsOnceTheFirstHasEndedTheSession() throws Exception {
        Registration r = builder().drain(Duration.ofMillis(400)).register();
        Thread first = new Thread(r::close, "first close");
        first.start();
        TestZooKeeper.await(Duration.ofSeconds(5), "the first close to deregister", () -> dataOrNull(NODE) == null);
        // The first close is draining: the registration can still be read.
        assertTrue(r.isConnected());
        assertTrue(r.json().contains("\"online\":true"), r.json());
        r.close();
        assertFalse(r.isConnected(), "the second close returned before the first ended the session");
        first.join(5000);
        assertFalse(first.isAlive());
    }

    @Test
    void deregisterKeepsTheSessionAndRegisterBringsTheInstanceBack() throws Exception {
        try (Registration r = builder().drain(Duration.ZERO).register()) {
            r.deregister();
            assertNull(reader.exists(NODE, false));
            assertTrue(r.isConnected());
            // Deregistered: setOnline only changes what the next registration writes.
            r.setOnline(false);
            assertNull(reader.exists(NODE, false));
            assertFalse(r.isOnline());
            r.register();
            assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.5:20880\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":false}",
                    data(NODE));
        }
    }

    @Test
    void reRegistersAfterSessionExpiry() throws Exception {
        try (Registration r = builder().drain(Duration.ZERO).register()) {
            long first = r.session().sessionId();
            // End the session from another client with its id and password:
            // the server expires it, as after a long partition.
            CountDownLatch up = new CountDownLatch(1);
            ZooKeeper thief = new ZooKeeper(zk.connect(), 2000, e -> {
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    up.countDown();
                }
            }, first, r.session().sessionPassword());
            assertTrue(up.await(10, TimeUnit.SECONDS));
            thief.close();
            TestZooKeeper.await(Duration.ofSeconds(20), "re-registration by a new session", () -> {
                try {
                    Stat st = reader.exists(NODE, false);
                    return st != null && st.getEphemeralOwner() != first;
                } catch (Exception e) {
                    throw new AssertionError(e);
                }
            });
            assertNotEquals(first, r.session().sessionId());
            assertEquals(r.json(), data(NODE));
            // The new session keeps working: online changes reach the node.
            r.setOnline(false);
            assertEquals(r.json(), data(NODE));
            assertTrue(r.json().contains("\"online\":false"), r.json());
        }
    }

    @Test
    void replacesANodeLeftByAnotherSession() throws Exception {
        ZooKeeper other = zk.client();
        try {
            reader.create("/rb", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            reader.create("/rb/services", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            reader.create("/rb/services/users", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            reader.create("/rb/services/users/instances", null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            other.create(NODE, "stale".getBytes(StandardCharsets.UTF_8), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            try (Registration r = builder().drain(Duration.ZERO).register()) {
                assertEquals(r.json(), data(NODE));
                assertEquals(r.session().sessionId(), reader.exists(NODE, false).getEphemeralOwner());
            }
        } finally {
            other.close();
        }
    }

    @Test
    void twoInstancesOfOneServiceAndOfflineRegistration() throws Exception {
        try (Registration a = builder().drain(Duration.ZERO).register();
                Registration b = builder().address("10.0.0.6:20880").offline(true).drain(Duration.ZERO).register()) {
            assertEquals(java.util.List.of("10.0.0.5:20880", "10.0.0.6:20880"),
                    reader.getChildren("/rb/services/users/instances", false).stream().sorted().toList());
            assertTrue(dataOrNull(a.path()).contains("\"online\":true"));
            assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.6:20880\",\"protocol\":\"dubbo\",\"weight\":100,\"online\":false}",
                    dataOrNull(b.path()));
        }
    }
}
