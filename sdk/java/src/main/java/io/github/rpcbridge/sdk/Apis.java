package io.github.rpcbridge.sdk;

import java.lang.annotation.Annotation;
import java.lang.reflect.GenericArrayType;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Parameter;
import java.lang.reflect.ParameterizedType;
import java.lang.reflect.Type;
import java.lang.reflect.TypeVariable;
import java.lang.reflect.WildcardType;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Deque;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Finds the APIs a class serves from its annotations, read by reflection
 * and recognised by their class names, so that neither Spring nor Dubbo is
 * needed to compile or run the SDK:
 *
 * <ul>
 * <li>Spring MVC: {@code @RequestMapping}, {@code @GetMapping},
 * {@code @PostMapping}, {@code @PutMapping}, {@code @DeleteMapping} and
 * {@code @PatchMapping} (package {@code org.springframework.web.bind.annotation})
 * on a public method, combined with a {@code @RequestMapping} on its class:
 * one API per path and HTTP method, named after the Java method.
 * A path variable's pattern is dropped ({@code {id:\d+}} becomes {@code {id}}).
 * <li>Dubbo: a class annotated {@code @DubboService} or {@code @Service}
 * ({@code org.apache.dubbo.config.annotation}, or Alibaba's
 * {@code com.alibaba.dubbo.config.annotation.Service}) serves its interface
 * ({@code interfaceClass}, {@code interfaceName}, or the first interface it
 * implements): one API per interface method, overloads included, with the
 * parameters' Java types ({@code java.lang.Long}, {@code long},
 * {@code int[]}, {@code java.util.List<java.lang.Long>}) as
 * {@code param_types}: what the gateway's Dubbo generic invocation sends.
 * Spring's own {@code @Service} is not Dubbo's and is ignored.
 * <li>{@link RpcBridgeApi} on a method, for anything else, and to override
 * what the two scans found for that method.
 * </ul>
 *
 * Parameter names are reported when the class was compiled with
 * {@code -parameters} (Spring Boot's build plugins do that). The result is
 * in a stable order: by method name, then parameter types.
 */
public final class Apis {
    private static final String SPRING = "org.springframework.web.bind.annotation.";
    private static final String REQUEST_MAPPING = SPRING + "RequestMapping";
    /** The composed Spring mapping annotations and the HTTP method each stands for. */
    private static final Map<String, String> SPRING_SHORTCUTS = Map.of(
            SPRING + "GetMapping", "GET",
            SPRING + "PostMapping", "POST",
            SPRING + "PutMapping", "PUT",
            SPRING + "DeleteMapping", "DELETE",
            SPRING + "PatchMapping", "PATCH");
    private static final Set<String> DUBBO_SERVICES = Set.of(
            "org.apache.dubbo.config.annotation.DubboService",
            "org.apache.dubbo.config.annotation.Service",
            "com.alibaba.dubbo.config.annotation.Service");
    private static final String RPCBRIDGE_API = RpcBridgeApi.class.getName();

    private static final Comparator<Method> METHOD_ORDER = Comparator.comparing(Method::getName)
            .thenComparing(m -> Arrays.toString(m.getParameterTypes()));

    private Apis() {
    }

    /**
     * Scans classes: their Spring MVC mappings, the interface of a Dubbo
     * service, and methods annotated {@link RpcBridgeApi}.
     *
     * @param classes the controllers, service implementations and other classes to scan
     * @return the APIs found, without duplicates
     * @throws IllegalArgumentException when a Dubbo service names an interface it does not implement
     *     or has none, or a {@link RpcBridgeApi} is malformed
     */
    public static List<Api> scan(Class<?>... classes) {
        Set<Api> out = new LinkedHashSet<>();
        for (Class<?> c : classes) {
            Objects.requireNonNull(c, "rpcbridge: scan: want a class, got null");
            out.addAll(scanClass(c));
        }
        return List.copyOf(out);
    }

    private static List<Api> scanClass(Class<?> type) {
        List<Api> out = new ArrayList<>();
        Annotation dubbo = findOnType(type, DUBBO_SERVICES);
        Class<?> iface = dubbo == null ? null : dubboInterface(type, dubbo);
        Set<Method> done = new LinkedHashSet<>();
        if (iface != null) {
            List<Method> ms = new ArrayList<>(Arrays.asList(iface.getMethods()));
            ms.sort(METHOD_ORDER);
            for (Method im : ms) {
                if (Modifier.isStatic(im.getModifiers()) || im.isSynthetic()) {
                    continue;
                }
                Method impl = implementation(type, im);
                Api base = new Api(im.getName(), "", "", paramNames(impl, im), paramTypes(im));
                out.addAll(override(List.of(base), rpcbridgeApi(impl, im)));
                if (impl != null) {
                    done.add(impl);
                }
            }
        }
        List<String> classPaths = List.of("");
        List<String> classMethods = List.of();
        Annotation typeMapping = findOnType(type, Set.of(REQUEST_MAPPING));
        if (typeMapping != null) {
            classPaths = paths(typeMapping);
            classMethods = enumNames(attribute(typeMapping, "method"));
        }
        List<Method> ms = new ArrayList<>(Arrays.asList(type.getMethods()));
        ms.sort(METHOD_ORDER);
        for (Method m : ms) {
            if (Modifier.isStatic(m.getModifiers()) || m.isBridge() || m.isSynthetic() || m.getDeclaringClass() == Object.class
                    || done.contains(m)) {
                continue;
            }
            List<Api> spring = springApis(m, classPaths, classMethods);
            Annotation own = rpcbridgeApi(m, null);
            if (spring.isEmpty() && own == null) {
                continue;
            }
            if (spring.isEmpty()) {
                spring = List.of(new Api(m.getName(), "", "", paramNames(m, null), List.of()));
            }
            out.addAll(override(spring, own));
        }
        return out;
    }

    // ---- Spring MVC ----

    private static List<Api> springApis(Method m, List<String> classPaths, List<String> classMethods) {
        Annotation mapping = null;
        String shortcut = null;
        for (Method candidate : hierarchy(m)) {
            for (Annotation a : candidate.getAnnotations()) {
                String n = a.annotationType().getName();
                if (n.equals(REQUEST_MAPPING) || SPRING_SHORTCUTS.containsKey(n)) {
                    mapping = a;
                    shortcut = SPRING_SHORTCUTS.get(n);
                    break;
                }
            }
            if (mapping != null) {
                break;
            }
        }
        if (mapping == null) {
            return List.of();
        }
        Set<String> httpMethods = new LinkedHashSet<>(classMethods);
        if (shortcut != null) {
            httpMethods.add(shortcut);
        } else {
            httpMethods.addAll(enumNames(attribute(mapping, "method")));
        }
        if (httpMethods.isEmpty()) {
            httpMethods.add(""); // any
        }
        List<String> names = paramNames(m, null);
        List<Api> out = new ArrayList<>();
        for (String cp : classPaths) {
            for (String mp : paths(mapping)) {
                String path = combine(cp, mp);
                for (String hm : httpMethods) {
                    out.add(new Api(m.getName(), path, hm, names, List.of()));
                }
            }
        }
        return out;
    }

    /** The paths of a mapping annotation: path, or value, or the empty path. */
    private static List<String> paths(Annotation a) {
        List<String> ps = strings(attribute(a, "path"));
        if (ps.isEmpty()) {
            ps = strings(attribute(a, "value"));
        }
        return ps.isEmpty() ? List.of("") : ps;
    }

    /** Joins a class path and a method path as Spring does, with one slash between. */
    static String combine(String classPath, String methodPath) {
        String a = stripPatterns(classPath.trim());
        String b = stripPatterns(methodPath.trim());
        if (!a.isEmpty() && !a.startsWith("/")) {
            a = "/" + a;
        }
        if (!b.isEmpty() && !b.startsWith("/")) {
            b = "/" + b;
        }
        if (a.endsWith("/") && !b.isEmpty()) {
            a = a.substring(0, a.length() - 1);
        }
        String p = a + b;
        return p.isEmpty() ? "/" : p;
    }

    /** Drops the regular expressions of path variables: {id:\d+} is {id}. */
    static String stripPatterns(String p) {
        StringBuilder b = new StringBuilder(p.length());
        int depth = 0;
        boolean skipping = false;
        for (int i = 0; i < p.length(); i++) {
            char c = p.charAt(i);
            if (c == '{') {
                depth++;
                if (depth > 1 && skipping) {
                    continue;
                }
            } else if (c == '}') {
                depth--;
                if (depth > 0 && skipping) {
                    continue;
                }
                skipping = false;
            } else if (c == ':' && depth == 1) {
                skipping = true;
            }
            if (!skipping || c == '}') {
                b.append(c);
            }
        }
        return b.toString();
    }

    // ---- Dubbo ----

    private static Class<?> dubboInterface(Class<?> type, Annotation dubbo) {
        Object ic = attribute(dubbo, "interfaceClass");
        if (ic instanceof Class<?> c && c != void.class && c != Void.class) {
            if (!c.isInterface()) {
                throw new IllegalArgumentException("rpcbridge: scan " + type.getName() + ": @" + dubbo.annotationType().getSimpleName()
                        + " interfaceClass " + c.getName() + " is not an interface");
            }
            return c;
        }
        Object in = attribute(dubbo, "interfaceName");
        if (in instanceof String name && !name.isEmpty()) {
            for (Class<?> c : allInterfaces(type)) {
                if (c.getName().equals(name)) {
                    return c;
                }
            }
            throw new IllegalArgumentException("rpcbridge: scan " + type.getName() + ": @" + dubbo.annotationType().getSimpleName()
                    + " interfaceName " + name + " is not an interface the class implements");
        }
        List<Class<?>> all = allInterfaces(type);
        if (all.isEmpty()) {
            throw new IllegalArgumentException("rpcbridge: scan " + type.getName() + ": @" + dubbo.annotationType().getSimpleName()
                    + " on a class that implements no interface: want the service interface implemented, or interfaceClass");
        }
        return all.get(0);
    }

    /** The interfaces of type and its superclasses, nearest first, in declaration order. */
    private static List<Class<?>> allInterfaces(Class<?> type) {
        Set<Class<?>> out = new LinkedHashSet<>();
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            Deque<Class<?>> q = new ArrayDeque<>(Arrays.asList(c.getInterfaces()));
            while (!q.isEmpty()) {
                Class<?> i = q.removeFirst();
                if (out.add(i)) {
                    q.addAll(Arrays.asList(i.getInterfaces()));
                }
            }
        }
        return new ArrayList<>(out);
    }

    /** The public method of type that implements im, or null (abstract class). */
    private static Method implementation(Class<?> type, Method im) {
        try {
            Method m = type.getMethod(im.getName(), im.getParameterTypes());
            return Modifier.isAbstract(m.getModifiers()) ? null : m;
        } catch (NoSuchMethodException e) {
            return null;
        }
    }

    /** The Java type names of m's parameters, generic arguments kept. */
    static List<String> paramTypes(Method m) {
        List<String> out = new ArrayList<>();
        for (Type t : m.getGenericParameterTypes()) {
            out.add(typeName(t));
        }
        return out;
    }

    /**
     * A type as the gateway reads it: the class name ({@code java.lang.Long},
     * {@code long}, {@code a.b.Outer$Inner}), {@code []} per array
     * dimension, and generic arguments in angle brackets; type variables and
     * wildcards become their bound.
     */
    static String typeName(Type t) {
        if (t instanceof Class<?> c) {
            if (c.isArray()) {
                return typeName(c.getComponentType()) + "[]";
            }
            return c.getName();
        }
        if (t instanceof ParameterizedType p) {
            StringBuilder b = new StringBuilder(typeName(p.getRawType())).append('<');
            Type[] args = p.getActualTypeArguments();
            for (int i = 0; i < args.length; i++) {
                if (i > 0) {
                    b.append(", ");
                }
                b.append(typeName(args[i]));
            }
            return b.append('>').toString();
        }
        if (t instanceof GenericArrayType g) {
            return typeName(g.getGenericComponentType()) + "[]";
        }
        if (t instanceof TypeVariable<?> v) {
            Type[] bounds = v.getBounds();
            return bounds.length == 0 ? "java.lang.Object" : typeName(bounds[0]);
        }
        if (t instanceof WildcardType w) {
            Type[] lower = w.getLowerBounds();
            if (lower.length > 0) {
                return typeName(lower[0]);
            }
            Type[] upper = w.getUpperBounds();
            return upper.length == 0 ? "java.lang.Object" : typeName(upper[0]);
        }
        return t.getTypeName();
    }

    /** The parameter names of the first of the methods compiled with -parameters; none otherwise. */
    private static List<String> paramNames(Method first, Method second) {
        for (Method m : new Method[] {first, second}) {
            if (m == null || m.getParameterCount() == 0) {
                continue;
            }
            Parameter[] ps = m.getParameters();
            if (!ps[0].isNamePresent()) {
                continue;
            }
            List<String> out = new ArrayList<>();
            for (Parameter p : ps) {
                out.add(p.getName());
            }
            return out;
        }
        return List.of();
    }

    // ---- @RpcBridgeApi ----

    /** The @RpcBridgeApi on m (or on what it overrides), or on other; null when none. */
    private static Annotation rpcbridgeApi(Method m, Method other) {
        for (Method x : new Method[] {m, other}) {
            if (x == null) {
                continue;
            }
            for (Method candidate : hierarchy(x)) {
                for (Annotation a : candidate.getAnnotations()) {
                    if (a.annotationType().getName().equals(RPCBRIDGE_API)) {
                        return a;
                    }
                }
            }
        }
        return null;
    }

    /** Applies the non-empty attributes of an @RpcBridgeApi to what the scans found. */
    private static List<Api> override(List<Api> found, Annotation own) {
        if (own == null) {
            return found;
        }
        String name = (String) attribute(own, "name");
        String path = (String) attribute(own, "path");
        String httpMethod = (String) attribute(own, "httpMethod");
        List<String> names = strings(attribute(own, "paramNames"));
        List<String> types = strings(attribute(own, "paramTypes"));
        if (!path.isEmpty()) {
            found = found.subList(0, 1); // one explicit route instead of the mappings'
        }
        List<Api> out = new ArrayList<>();
        for (Api a : found) {
            out.add(new Api(name.isEmpty() ? a.name() : name,
                    path.isEmpty() ? a.path() : path,
                    httpMethod.isEmpty() ? (path.isEmpty() ? a.httpMethod() : "") : httpMethod.toUpperCase(Locale.ROOT),
                    names.isEmpty() ? a.paramNames() : names,
                    types.isEmpty() ? a.paramTypes() : types));
        }
        return out;
    }

    // ---- reflection helpers ----

    /** m, then the methods it overrides or implements, nearest first. */
    private static List<Method> hierarchy(Method m) {
        List<Method> out = new ArrayList<>();
        out.add(m);
        Set<Class<?>> seen = new LinkedHashSet<>();
        Deque<Class<?>> q = new ArrayDeque<>();
        Class<?> d = m.getDeclaringClass();
        if (d.getSuperclass() != null) {
            q.add(d.getSuperclass());
        }
        q.addAll(Arrays.asList(d.getInterfaces()));
        while (!q.isEmpty()) {
            Class<?> c = q.removeFirst();
            if (!seen.add(c) || c == Object.class) {
                continue;
            }
            try {
                out.add(c.getDeclaredMethod(m.getName(), m.getParameterTypes()));
            } catch (NoSuchMethodException e) {
                // not declared here
            }
            if (c.getSuperclass() != null) {
                q.add(c.getSuperclass());
            }
            q.addAll(Arrays.asList(c.getInterfaces()));
        }
        return out;
    }

    /** The first annotation named in names on type, its superclasses or its interfaces. */
    private static Annotation findOnType(Class<?> type, Set<String> names) {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            for (Annotation a : c.getDeclaredAnnotations()) {
                if (names.contains(a.annotationType().getName())) {
                    return a;
                }
            }
        }
        for (Class<?> i : allInterfaces(type)) {
            for (Annotation a : i.getDeclaredAnnotations()) {
                if (names.contains(a.annotationType().getName())) {
                    return a;
                }
            }
        }
        return null;
    }

    /** The value of an annotation attribute, or null when the annotation has no such attribute. */
    private static Object attribute(Annotation a, String name) {
        Method m;
        try {
            m = a.annotationType().getMethod(name);
        } catch (NoSuchMethodException e) {
            return null;
        }
        try {
            m.setAccessible(true);
        } catch (RuntimeException e) {
            // public annotation types need no access override
        }
        try {
            return m.invoke(a);
        } catch (IllegalAccessException | InvocationTargetException e) {
            throw new IllegalArgumentException("rpcbridge: scan: read @" + a.annotationType().getName() + "." + name + ": " + e, e);
        }
    }

    private static List<String> strings(Object v) {
        if (v instanceof String[] a) {
            List<String> out = new ArrayList<>();
            for (String s : a) {
                if (s != null) {
                    out.add(s);
                }
            }
            return out;
        }
        if (v instanceof String s && !s.isEmpty()) {
            return List.of(s);
        }
        return List.of();
    }

    /** The names of an array of enum constants (Spring's RequestMethod[]). */
    private static List<String> enumNames(Object v) {
        List<String> out = new ArrayList<>();
        if (v instanceof Enum<?>[] a) {
            for (Enum<?> e : a) {
                out.add(e.name());
            }
        }
        return out;
    }
}
