package io.github.rpcbridge.sdk;

import java.lang.annotation.Documented;
import java.lang.annotation.ElementType;
import java.lang.annotation.Retention;
import java.lang.annotation.RetentionPolicy;
import java.lang.annotation.Target;

/**
 * Reports a method to the gateways when {@link Apis#scan} scans its class:
 * for backends that are neither Spring MVC controllers nor Dubbo services
 * (gRPC, Thrift, Tars, plain HTTP), or to add to or override what the Spring
 * and Dubbo scans find for a method (a path for a Dubbo method, a name,
 * parameter names). Attributes left empty keep what the scan found, or are
 * left out.
 *
 * <pre>{@code
 * @RpcBridgeApi(path = "/v1/users/{id}", httpMethod = "GET")
 * public User getUser(long id) { ... }
 * }</pre>
 */
@Documented
@Retention(RetentionPolicy.RUNTIME)
@Target(ElementType.METHOD)
public @interface RpcBridgeApi {
    /**
     * @return the method name the gateway calls; "" is the Java method's name
     */
    String name() default "";

    /**
     * @return an HTTP path that should route to the method, like /v1/users/{id}
     */
    String path() default "";

    /**
     * @return the HTTP method that goes with the path (GET, POST, ...); "" for any
     */
    String httpMethod() default "";

    /**
     * @return the argument names by position; empty: the scan's (the Java
     *     names when compiled with -parameters), or none
     */
    String[] paramNames() default {};

    /**
     * @return the argument types by position; empty: the scan's (the Java
     *     types for Dubbo services), or none
     */
    String[] paramTypes() default {};
}
