package io.github.rpcbridge.sdk;

import java.io.File;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Comparator;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.server.ServerCnxnFactory;
import org.apache.zookeeper.server.ZooKeeperServer;

/** A throwaway ZooKeeper server in this JVM, and helpers for tests that read it. */
final class TestZooKeeper implements AutoCloseable {
    private final Path dir;
    private final ZooKeeperServer server;
    private final ServerCnxnFactory factory;

    TestZooKeeper() throws IOException, InterruptedException {
        dir = Files.createTempDirectory("rpcbridge-zk");
        File d = dir.toFile();
        // tickTime 500ms: sessions of 1s..10s are accepted.
        server = new ZooKeeperServer(d, d, 500);
        factory = ServerCnxnFactory.createFactory(new InetSocketAddress("127.0.0.1", 0), 100);
        factory.startup(server);
    }

    String connect() {
        return "127.0.0.1:" + factory.getLocalPort();
    }

    /** A client with a live session. */
    ZooKeeper client() throws IOException, InterruptedException {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper z = new ZooKeeper(connect(), 4000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        if (!up.await(10, TimeUnit.SECONDS)) {
            z.close();
            throw new IOException("no session with the test ZooKeeper within 10s");
        }
        return z;
    }

    /** Polls until ok, failing after timeout. */
    static void await(Duration timeout, String what, BooleanSupplier ok) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!ok.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out after " + timeout + " waiting for " + what);
            }
            Thread.sleep(10);
        }
    }

    @Override
    public void close() throws IOException {
        factory.shutdown();
        server.shutdown();
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        }
    }
}
