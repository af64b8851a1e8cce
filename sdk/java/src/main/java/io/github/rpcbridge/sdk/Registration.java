package io.github.rpcbridge.sdk;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CountDownLatch;

/**
 * A backend instance registered in ZooKeeper, from
 * {@link RpcBridge.Builder#register()}: an ephemeral node at
 * {@code <root>/services/<service>/instances/<host:port>} holding the
 * instance's JSON, re-created after a session expiry until
 * {@link #deregister()} or {@link #close()}. Safe for concurrent use.
 *
 * <p>Graceful stop: {@link #close()} deregisters, waits the drain (so that
 * the gateways see the removal and finish what they sent), then ends the
 * session; stop the server after it returns. Or let
 * {@link #registerShutdownHook(Duration, Runnable)} do it on SIGTERM.
 */
public final class Registration implements AutoCloseable {
    /** How long {@link #close()} waits after deregistering unless the builder's drain says otherwise. */
    public static final Duration DEFAULT_DRAIN = Duration.ofSeconds(2);

    private final ZkSession session;
    private final String path;
    private final Duration timeout;
    private final Duration drain;

    private final Object lock = new Object();
    // Guarded by lock.
    private Instance instance;
    private boolean registered;
    private boolean closed;
    private Thread closer;
    private Thread hook;
    /** Counted down once close has ended the session. */
    private final CountDownLatch closedLatch = new CountDownLatch(1);

    Registration(ZkSession session, String path, Instance instance, Duration timeout, Duration drain) {
        this.session = session;
        this.path = path;
        this.instance = instance;
        this.timeout = timeout;
        this.drain = drain;
    }

    private String what(String verb) {
        return verb + " " + instance.service() + " " + instance.address();
    }

    ZkSession session() {
        return session;
    }

    /**
     * Creates the node (again): {@link RpcBridge.Builder#register()} calls it;
     * call it after {@link #deregister()} to come back. Returns once the node
     * exists.
     *
     * @throws RegistrationException when ZooKeeper does not take it within the builder's registerTimeout
     * @throws IllegalStateException after close
     */
    public void register() {
        synchronized (lock) {
            checkOpen();
            session.register(what("register"), path, data(instance), timeout);
            registered = true;
            ZkSession.LOG.log(Level.INFO, "rpcbridge: registered {0} {1} at {2}", instance.service(), instance.address(), path);
        }
    }

    private static byte[] data(Instance in) {
        return in.toJson().getBytes(StandardCharsets.UTF_8);
    }

    /**
     * Changes the instance's online flag in ZooKeeper: false takes it out of
     * the gateways' traffic without deregistering; true brings it back.
     * Returns once ZooKeeper has the change. After {@link #deregister()} it
     * only changes what a later registration would write.
     *
     * @param online whether gateways may send traffic to the instance
     * @throws RegistrationException when ZooKeeper does not take the change within the builder's registerTimeout
     * @throws IllegalStateException after close
     */
    public void setOnline(boolean online) {
        synchronized (lock) {
            checkOpen();
            Instance next = instance.withOnline(online);
            if (registered) {
                session.register(what("set online=" + online + " for"), path, data(next), timeout);
            }
            instance = next;
            ZkSession.LOG.log(Level.INFO, "rpcbridge: {0} {1} online={2}", instance.service(), instance.address(), online);
        }
    }

    /** @return the online flag last written (or to be written) */
    public boolean isOnline() {
        synchronized (lock) {
            return instance.online();
        }
    }

    /** @return the ZooKeeper node path, {@code <root>/services/<service>/instances/<host:port>} */
    public String path() {
        return path;
    }

    /** @return the node's data: the instance as JSON, as the gateways read it */
    public String json() {
        synchronized (lock) {
            return instance.toJson();
        }
    }

    /** @return whether the ZooKeeper session is up at the moment */
    public boolean isConnected() {
        return session.isConnected();
    }

    /**
     * Deletes the node: gateways stop sending once they see it. The session
     * stays open ({@link #register()} brings the instance back);
     * {@link #close()} ends it.
     *
     * @throws RegistrationException when ZooKeeper does not take the deletion within the builder's registerTimeout
     */
    public void deregister() {
        synchronized (lock) {
            registered = false;
            session.deregister(what("deregister"), path, timeout);
            ZkSession.LOG.log(Level.INFO, "rpcbridge: deregistered {0} {1}", instance.service(), instance.address());
        }
    }

    /**
     * Deregisters, waits the builder's drain (default 2s) so that the
     * gateways see the removal and their requests in flight finish, then
     * ends the ZooKeeper session. Stop the server after it returns.
     * Idempotent; a second call returns once the first is done.
     *
     * @throws RegistrationException when the deregistration failed (after the drain and the
     *     session's end, which removes the node anyway)
     */
    @Override
    public void close() {
        close(drain);
    }

    /**
     * {@link #close()} with another drain.
     *
     * @param drain how long to wait between deregistering and ending the session; zero: no wait
     */
    public void close(Duration drain) {
        shutdown(drain, null);
    }

    private void shutdown(Duration drain, Runnable stop) {
        checkDrain(drain);
        RegistrationException failed = null;
        synchronized (lock) {
            if (closed) {
                if (Thread.currentThread() != closer) {
                    awaitClosed();
                }
                return;
            }
            closed = true;
            closer = Thread.currentThread();
            if (hook != null && closer != hook) {
                try {
                    Runtime.getRuntime().removeShutdownHook(hook);
                } catch (IllegalStateException e) {
                    // the JVM is shutting down already
                }
            }
            registered = false;
            try {
                session.deregister(what("deregister"), path, timeout);
                ZkSession.LOG.log(Level.INFO, "rpcbridge: deregistered {0} {1}; draining {2}", instance.service(), instance.address(), ZkSession.human(drain));
            } catch (RegistrationException e) {
                failed = e;
                ZkSession.LOG.log(Level.WARNING, "rpcbridge: deregister failed during shutdown; the session's end removes the node: " + e.getMessage());
            }
        }
        // The drain, the server's stop and the session's end happen outside
        // the lock: the registration can still be read meanwhile.
        try {
            if (!drain.isZero()) {
                Thread.sleep(drain.toMillis());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            try {
                if (stop != null) {
                    stop.run();
                }
            } finally {
                session.close();
                closedLatch.countDown();
            }
        }
        if (failed != null) {
            throw failed;
        }
    }

    private void awaitClosed() {
        try {
            closedLatch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Adds a JVM shutdown hook (SIGTERM, SIGINT, System.exit) that
     * deregisters, waits drain, then ends the session, while the server
     * keeps serving. Calling it again replaces the hook; {@link #close()}
     * removes it.
     *
     * @param drain how long gateways get to see the removal and finish their requests
     * @return this
     */
    public Registration registerShutdownHook(Duration drain) {
        return registerShutdownHook(drain, null);
    }

    /**
     * {@link #registerShutdownHook(Duration)} that also stops the server
     * after the drain, before the session ends (like the Go SDK's
     * NotifyShutdown): for servers that other shutdown hooks do not stop.
     *
     * @param drain how long gateways get to see the removal and finish their requests
     * @param stop stops the server (may be null)
     * @return this
     */
    public Registration registerShutdownHook(Duration drain, Runnable stop) {
        checkDrain(drain);
        synchronized (lock) {
            checkOpen();
            Thread t = new Thread(() -> {
                try {
                    shutdown(drain, stop);
                } catch (RuntimeException e) {
                    // logged by shutdown
                }
            }, "rpcbridge-shutdown");
            if (hook != null) {
                Runtime.getRuntime().removeShutdownHook(hook);
            }
            Runtime.getRuntime().addShutdownHook(t);
            hook = t;
        }
        return this;
    }

    private static void checkDrain(Duration drain) {
        Objects.requireNonNull(drain, "rpcbridge: drain: want a duration, got null");
        if (drain.isNegative()) {
            throw new IllegalArgumentException("rpcbridge: drain: want 0 or more, got " + drain);
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("rpcbridge: " + instance.service() + " " + instance.address() + ": registration closed");
        }
    }

    @Override
    public String toString() {
        return "Registration[" + path + "]";
    }
}
