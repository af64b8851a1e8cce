package io.github.rpcbridge.sdk;

import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

/**
 * One ZooKeeper session that keeps ephemeral nodes registered: the Java
 * counterpart of the Go registry's registration side. Every ZooKeeper
 * request runs on one thread, in order, so that a stale write never
 * overwrites a newer one. After a session expiry a new session is opened
 * and the registered nodes are re-created; after a plain reconnection they
 * are checked (they usually still exist).
 */
final class ZkSession {
    static final System.Logger LOG = System.getLogger("io.github.rpcbridge.sdk");

    private final String connect;
    private final int sessionTimeoutMs;
    /** Runs every ZooKeeper request, session renewal and re-registration, one at a time. */
    private final ScheduledExecutorService exec;

    private final Object lock = new Object();
    // Guarded by lock.
    private ZooKeeper zk;
    /** The watcher of zk: events of handles that were replaced are ignored. */
    private Watcher current;
    private boolean connected;
    private long sessions;
    private boolean closed;
    /** Node path to data, re-created after a session expiry. */
    private final Map<String, byte[]> registered = new HashMap<>();

    // Used on the exec thread only.
    private final Map<String, String> failed = new HashMap<>();
    private boolean retryScheduled;

    private final class HandleWatcher implements Watcher {
        @Override
        public void process(WatchedEvent event) {
            onEvent(this, event);
        }
    }

    /**
     * Starts connecting in the background; returns at once.
     *
     * @throws IOException when the ZooKeeper client cannot start
     */
    ZkSession(String connect, Duration sessionTimeout) throws IOException {
        this.connect = connect;
        this.sessionTimeoutMs = (int) Math.min(Integer.MAX_VALUE, sessionTimeout.toMillis());
        this.exec = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "rpcbridge-zookeeper");
            t.setDaemon(true);
            return t;
        });
        HandleWatcher w = new HandleWatcher();
        synchronized (lock) {
            current = w;
        }
        try {
            ZooKeeper z = new ZooKeeper(connect, sessionTimeoutMs, w);
            synchronized (lock) {
                zk = z;
            }
        } catch (IOException | RuntimeException e) {
            exec.shutdownNow();
            throw e;
        }
    }

    String servers() {
        return connect;
    }

    /** The current session's id and password, for tests that end it from another client. */
    long sessionId() {
        synchronized (lock) {
            return zk.getSessionId();
        }
    }

    byte[] sessionPassword() {
        synchronized (lock) {
            return zk.getSessionPasswd();
        }
    }

    boolean isConnected() {
        synchronized (lock) {
            return connected;
        }
    }

    // Runs on the ZooKeeper client's event thread: it must not block.
    private void onEvent(Watcher from, WatchedEvent event) {
        if (event.getType() != Watcher.Event.EventType.None) {
            return;
        }
        synchronized (lock) {
            if (from != current || closed) {
                return;
            }
            switch (event.getState()) {
                case SyncConnected, ConnectedReadOnly -> {
                    connected = true;
                    sessions++;
                    lock.notifyAll();
                    LOG.log(Level.DEBUG, "rpcbridge: ZooKeeper session established with {0}", connect);
                    exec.execute(this::keep);
                }
                case Disconnected -> {
                    connected = false;
                    LOG.log(Level.WARNING, "rpcbridge: disconnected from ZooKeeper {0}", connect);
                }
                case Expired -> {
                    connected = false;
                    LOG.log(Level.WARNING, "rpcbridge: ZooKeeper session expired; a new session will re-create the registered nodes");
                    exec.execute(this::renew);
                }
                case Closed -> connected = false;
                default -> {
                }
            }
        }
    }

    /** Replaces an expired handle with a new session. */
    private void renew() {
        ZooKeeper old;
        HandleWatcher w = new HandleWatcher();
        synchronized (lock) {
            if (closed) {
                return;
            }
            old = zk;
            current = w;
        }
        closeQuietly(old, 1000);
        try {
            ZooKeeper z = new ZooKeeper(connect, sessionTimeoutMs, w);
            synchronized (lock) {
                if (closed) {
                    closeQuietly(z, 1000);
                    return;
                }
                zk = z;
            }
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.WARNING, "rpcbridge: opening a new ZooKeeper session failed; will retry: " + e);
            schedule(this::renew);
        }
    }

    private void schedule(Runnable r) {
        try {
            exec.schedule(r, 1, TimeUnit.SECONDS);
        } catch (RejectedExecutionException e) {
            // closed
        }
    }

    /** Re-creates every registered node that is missing (after an expiry) or stale. */
    private void keep() {
        List<String> paths;
        synchronized (lock) {
            if (closed || !connected) {
                return; // the next session's event runs keep again
            }
            paths = new ArrayList<>(registered.keySet());
        }
        boolean retry = false;
        for (String p : paths) {
            try {
                ensureRegistered(p);
                if (failed.remove(p) != null) {
                    LOG.log(Level.INFO, "rpcbridge: re-registered " + p);
                }
            } catch (KeeperException | RuntimeException e) {
                // A refusal stays until the ACL changes: said once, retried quietly.
                String msg = e.toString();
                if (!msg.equals(failed.put(p, msg))) {
                    LOG.log(Level.WARNING, "rpcbridge: re-registering " + p + " failed; will retry: " + msg);
                }
                retry = true;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
        if (retry && !retryScheduled) {
            retryScheduled = true;
            schedule(() -> {
                retryScheduled = false;
                keep();
            });
        }
    }

    private void ensureRegistered(String path) throws KeeperException, InterruptedException {
        byte[] data;
        ZooKeeper z;
        synchronized (lock) {
            data = registered.get(path);
            z = zk;
        }
        if (data != null) {
            ensure(z, path, data);
        }
    }

    /**
     * Makes path an ephemeral node of z's session holding data. A node left
     * at path by another (stale) session is replaced.
     */
    private static void ensure(ZooKeeper z, String path, byte[] data) throws KeeperException, InterruptedException {
        for (int i = 0; i < 5; i++) {
            try {
                z.create(path, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
                return;
            } catch (KeeperException.NoNodeException e) {
                createParents(z, path);
                continue;
            } catch (KeeperException.NodeExistsException e) {
                // read it below
            }
            Stat stat = new Stat();
            byte[] got;
            try {
                got = z.getData(path, false, stat);
            } catch (KeeperException.NoNodeException e) {
                continue;
            }
            if (stat.getEphemeralOwner() == z.getSessionId()) {
                if (Arrays.equals(got, data)) {
                    return;
                }
                try {
                    z.setData(path, data, stat.getVersion());
                } catch (KeeperException.BadVersionException e) {
                    // changed meanwhile: look again
                }
                continue;
            }
            LOG.log(Level.WARNING, "rpcbridge: replacing a node left by another session: {0} (owner 0x{1})", path, Long.toHexString(stat.getEphemeralOwner()));
            try {
                z.delete(path, stat.getVersion());
            } catch (KeeperException.NoNodeException | KeeperException.BadVersionException e) {
                // gone or changed meanwhile: look again
            }
        }
        throw new IllegalStateException("node " + path + " kept changing while being registered");
    }

    /**
     * Creates the missing persistent ancestors of path. An ancestor this
     * principal may not create is fine when it exists.
     */
    private static void createParents(ZooKeeper z, String path) throws KeeperException, InterruptedException {
        for (int i = 1; i < path.length(); i++) {
            if (path.charAt(i) != '/') {
                continue;
            }
            String p = path.substring(0, i);
            try {
                z.create(p, null, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) {
                // fine
            } catch (KeeperException.NoAuthException e) {
                if (z.exists(p, false) == null) {
                    throw e;
                }
            }
        }
    }

    /** A request to run on the ZooKeeper thread. */
    private interface Op {
        void run(ZooKeeper z) throws KeeperException, InterruptedException;
    }

    /**
     * Runs op once a session is up, waiting until deadline (System.nanoTime)
     * at most; op then finishes in the background.
     */
    private void call(long deadline, Op op) throws KeeperException, InterruptedException, TimeoutException, NoSessionException {
        synchronized (lock) {
            while (!connected) {
                if (closed) {
                    throw new IllegalStateException("rpcbridge: registration closed");
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new NoSessionException();
                }
                TimeUnit.NANOSECONDS.timedWait(lock, left);
            }
        }
        Future<?> f;
        try {
            f = exec.submit(() -> {
                ZooKeeper z;
                synchronized (lock) {
                    z = zk;
                }
                op.run(z);
                return null;
            });
        } catch (RejectedExecutionException e) {
            throw new IllegalStateException("rpcbridge: registration closed", e);
        }
        try {
            f.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
        } catch (ExecutionException e) {
            Throwable c = e.getCause();
            if (c instanceof KeeperException ke) {
                throw ke;
            }
            if (c instanceof InterruptedException) {
                throw new IllegalStateException("rpcbridge: registration closed", c);
            }
            if (c instanceof RuntimeException re) {
                throw re;
            }
            throw new IllegalStateException(c);
        }
    }

    /** No session could be established before the deadline. */
    private static final class NoSessionException extends Exception {
        private static final long serialVersionUID = 1L;
    }

    /** Errors that mean "ZooKeeper is not reachable right now", worth retrying. */
    private static boolean isConnectionError(KeeperException e) {
        return switch (e.code()) {
            case CONNECTIONLOSS, SESSIONEXPIRED, SESSIONMOVED, OPERATIONTIMEOUT -> true;
            default -> false;
        };
    }

    /**
     * Creates (or updates) the ephemeral node path holding data and returns
     * once it exists; retries while ZooKeeper is unreachable, until the
     * timeout. The node is re-created after a session expiry until
     * deregister or close.
     *
     * @param what names the request in errors, like "register users 10.0.0.5:20880"
     */
    void register(String what, String path, byte[] data, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        byte[] old;
        boolean had;
        synchronized (lock) {
            if (closed) {
                throw new IllegalStateException("rpcbridge: " + what + ": registration closed");
            }
            had = registered.containsKey(path);
            old = registered.put(path, data);
        }
        long backoff = TimeUnit.MILLISECONDS.toNanos(50);
        while (true) {
            long seen;
            synchronized (lock) {
                seen = sessions;
            }
            try {
                call(deadline, z -> ensureRegistered(path));
                return;
            } catch (KeeperException e) {
                if (!isConnectionError(e) || System.nanoTime() >= deadline) {
                    restore(path, data, had, old);
                    throw failure(what, timeout, e);
                }
            } catch (TimeoutException | NoSessionException | InterruptedException | RuntimeException e) {
                restore(path, data, had, old);
                if (e instanceof InterruptedException) {
                    Thread.currentThread().interrupt();
                }
                throw failure(what, timeout, e);
            }
            // Unreachable for now: try again after the backoff or at the next session.
            synchronized (lock) {
                long wait = Math.min(backoff, deadline - System.nanoTime());
                long until = System.nanoTime() + wait;
                try {
                    while (sessions == seen && !closed && wait > 0) {
                        TimeUnit.NANOSECONDS.timedWait(lock, wait);
                        wait = until - System.nanoTime();
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    restore(path, data, had, old);
                    throw failure(what, timeout, e);
                }
            }
            backoff = Math.min(2 * backoff, TimeUnit.SECONDS.toNanos(1));
        }
    }

    private void restore(String path, byte[] data, boolean had, byte[] old) {
        synchronized (lock) {
            if (registered.get(path) == data) {
                if (had) {
                    registered.put(path, old);
                } else {
                    registered.remove(path);
                }
            }
        }
    }

    /**
     * Deletes path (when this session owns it or it is persistent) and
     * stops re-creating it.
     */
    void deregister(String what, String path, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lock) {
            registered.remove(path);
            if (closed) {
                return; // the session's end removed the node
            }
        }
        try {
            call(deadline, z -> {
                Stat stat = z.exists(path, false);
                if (stat == null) {
                    return;
                }
                if (stat.getEphemeralOwner() != 0 && stat.getEphemeralOwner() != z.getSessionId()) {
                    return; // another process's node: not ours to delete
                }
                try {
                    z.delete(path, -1);
                } catch (KeeperException.NoNodeException e) {
                    // already gone
                }
            });
        } catch (KeeperException | TimeoutException | NoSessionException | InterruptedException | RuntimeException e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw failure(what, timeout, e);
        }
    }

    private RegistrationException failure(String what, Duration timeout, Exception e) {
        String msg;
        if (e instanceof NoSessionException) {
            msg = "no ZooKeeper session with " + connect + " within " + human(timeout) + " (is ZooKeeper running and reachable there?)";
        } else if (e instanceof TimeoutException) {
            msg = "ZooKeeper " + connect + " did not complete the request within " + human(timeout);
        } else if (e instanceof KeeperException ke && isConnectionError(ke)) {
            msg = "ZooKeeper " + connect + " stayed unreachable for " + human(timeout) + ": " + ke.getMessage();
        } else if (e instanceof KeeperException ke) {
            msg = "ZooKeeper " + connect + " refused: " + ke.getMessage();
        } else if (e instanceof InterruptedException) {
            msg = "interrupted";
        } else {
            msg = e.getMessage();
            return new RegistrationException(msg != null && msg.startsWith("rpcbridge: ") ? msg : "rpcbridge: " + what + ": " + msg, e);
        }
        return new RegistrationException("rpcbridge: " + what + ": " + msg, e instanceof NoSessionException ? null : e);
    }

    static String human(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 == 0) {
            return ms / 1000 + "s";
        }
        return ms + "ms";
    }

    /** Ends the session: ZooKeeper removes its ephemeral nodes at once. Idempotent. */
    void close() {
        ZooKeeper z;
        synchronized (lock) {
            if (closed) {
                return;
            }
            closed = true;
            connected = false;
            lock.notifyAll();
            z = zk;
        }
        exec.shutdownNow();
        closeQuietly(z, 2000);
    }

    private static void closeQuietly(ZooKeeper z, int waitMs) {
        if (z == null) {
            return;
        }
        try {
            z.close(waitMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            LOG.log(Level.DEBUG, "rpcbridge: closing a ZooKeeper handle: " + e);
        }
    }
}
