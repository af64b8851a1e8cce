package io.github.rpcbridge.sdk;

/**
 * ZooKeeper did not take a registration, an online change or a
 * deregistration: it was unreachable until the timeout, or it refused the
 * request. Bad input is an {@link IllegalArgumentException} instead.
 */
public class RegistrationException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    /**
     * @param message what failed and why
     * @param cause the ZooKeeper error, or null
     */
    public RegistrationException(String message, Throwable cause) {
        super(message, cause);
    }
}
