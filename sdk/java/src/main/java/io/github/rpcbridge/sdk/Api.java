package io.github.rpcbridge.sdk;

import java.util.Arrays;
import java.util.List;

/**
 * One method a backend reports to the gateways (the Go SDK's
 * {@code registry.API}): its name, optionally the HTTP path and method that
 * should route to it, and its parameters' names and Java types by position
 * (the types are what the gateway uses for Dubbo generic invocation).
 *
 * <pre>{@code
 * Api.of("getUser").path("/v1/users/{id}").httpMethod("GET").paramTypes("java.lang.Long")
 * }</pre>
 *
 * Instances are immutable: every {@code with}-style method returns a copy.
 * Absent values are empty strings and empty lists, never null.
 *
 * @param name the method name, required
 * @param path an HTTP path routed to the method, or ""
 * @param httpMethod the HTTP method that goes with {@code path} (GET, POST, ...), or "" for any
 * @param paramNames the argument names by position
 * @param paramTypes the argument types by position (Java types for Dubbo)
 */
public record Api(String name, String path, String httpMethod, List<String> paramNames, List<String> paramTypes) {

    /**
     * Checks the name and copies the lists; nulls become "" and empty lists.
     *
     * @throws IllegalArgumentException when name is empty, or a list holds null
     */
    public Api {
        if (name == null || name.isEmpty()) {
            throw new IllegalArgumentException("rpcbridge: api name: want a method name, got \"\"");
        }
        path = path == null ? "" : path;
        httpMethod = httpMethod == null ? "" : httpMethod;
        paramNames = copy("param_names", name, paramNames);
        paramTypes = copy("param_types", name, paramTypes);
    }

    private static List<String> copy(String field, String api, List<String> l) {
        if (l == null) {
            return List.of();
        }
        for (int i = 0; i < l.size(); i++) {
            if (l.get(i) == null) {
                throw new IllegalArgumentException("rpcbridge: api " + api + ": " + field + "[" + i + "]: want a string, got null");
            }
        }
        return List.copyOf(l);
    }

    /**
     * An API with only a name.
     *
     * @param name the method name
     * @return the API
     */
    public static Api of(String name) {
        return new Api(name, "", "", List.of(), List.of());
    }

    /**
     * @param path the HTTP path that routes to the method, like /v1/users/{id}
     * @return a copy with the path
     */
    public Api path(String path) {
        return new Api(name, path, httpMethod, paramNames, paramTypes);
    }

    /**
     * @param httpMethod GET, POST, ... ("" for any)
     * @return a copy with the HTTP method
     */
    public Api httpMethod(String httpMethod) {
        return new Api(name, path, httpMethod, paramNames, paramTypes);
    }

    /**
     * @param names the argument names by position
     * @return a copy with the parameter names
     */
    public Api paramNames(String... names) {
        return new Api(name, path, httpMethod, Arrays.asList(names), paramTypes);
    }

    /**
     * @param types the argument types by position (java.lang.Long, long, int[], java.util.List&lt;java.lang.Long&gt;, ...)
     * @return a copy with the parameter types
     */
    public Api paramTypes(String... types) {
        return new Api(name, path, httpMethod, paramNames, Arrays.asList(types));
    }

    /**
     * @param name the method name
     * @return a copy with another name
     */
    public Api name(String name) {
        return new Api(name, path, httpMethod, paramNames, paramTypes);
    }

    /** Writes the API as the gateway reads it; empty members are left out. */
    void writeTo(Json j) {
        j.beginObject().name("name").value(name);
        if (!path.isEmpty()) {
            j.name("path").value(path);
        }
        if (!httpMethod.isEmpty()) {
            j.name("http_method").value(httpMethod);
        }
        if (!paramNames.isEmpty()) {
            j.name("param_names").value(paramNames);
        }
        if (!paramTypes.isEmpty()) {
            j.name("param_types").value(paramTypes);
        }
        j.endObject();
    }

    /** The API's JSON, as in the registry node's apis list. */
    @Override
    public String toString() {
        Json j = new Json();
        writeTo(j);
        return j.toString();
    }
}
