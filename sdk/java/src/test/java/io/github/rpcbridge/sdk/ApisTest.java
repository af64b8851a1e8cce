package io.github.rpcbridge.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.github.rpcbridge.sdk.fixtures.Greeters;
import io.github.rpcbridge.sdk.fixtures.PlainController;
import io.github.rpcbridge.sdk.fixtures.ThriftHandler;
import io.github.rpcbridge.sdk.fixtures.UserController;
import io.github.rpcbridge.sdk.fixtures.UserServiceImpl;
import java.util.List;
import org.junit.jupiter.api.Test;

// The fixtures are compiled with -parameters (as Spring Boot's build
// plugins compile), so parameter names are reported.
class ApisTest {
    private static Api api(String name, String path, String httpMethod, List<String> names, List<String> types) {
        return new Api(name, path, httpMethod, names, types);
    }

    @Test
    void springMappingsBecomePathsAndHttpMethods() {
        List<Api> want = List.of(
                api("createUser", "/v1/users", "POST", List.of("name"), List.of()),
                api("deleteUser", "/v1/users/{id}", "DELETE", List.of("id"), List.of()),
                api("getUser", "/v1/users/{id}", "GET", List.of("id"), List.of()),
                api("listAll", "/v1/users/all", "GET", List.of(), List.of()),
                api("moved", "/v2/users/{id}", "GET", List.of("id"), List.of()),
                api("rename", "/v1/users/{id}/name", "PATCH", List.of("id", "name"), List.of()),
                api("replaceUser", "/v1/users/{id}", "PUT", List.of("id", "name"), List.of()),
                api("search", "/v1/users/search", "GET", List.of("q"), List.of()),
                api("search", "/v1/users/search", "POST", List.of("q"), List.of()),
                api("search", "/v1/users/find", "GET", List.of("q"), List.of()),
                api("search", "/v1/users/find", "POST", List.of("q"), List.of()));
        assertEquals(want, Apis.scan(UserController.class));
    }

    @Test
    void springMappingsWithoutPrefixAndInherited() {
        assertEquals(List.of(
                api("any", "/any", "", List.of(), List.of()),
                api("health", "/health", "GET", List.of(), List.of()),
                api("root", "/", "", List.of(), List.of())), Apis.scan(PlainController.class));
        // The subclass's @RequestMapping adds its prefix and its method to the inherited mappings.
        assertEquals(List.of(
                api("any", "/admin/any", "POST", List.of(), List.of()),
                api("health", "/admin/health", "POST", List.of(), List.of()),
                api("health", "/admin/health", "GET", List.of(), List.of()),
                api("root", "/admin/", "POST", List.of(), List.of())), Apis.scan(PlainController.Admin.class));
    }

    @Test
    void pathsCombineAsSpringCombinesThem() {
        assertEquals("/a/b", Apis.combine("/a", "/b"));
        assertEquals("/a/b", Apis.combine("/a/", "/b"));
        assertEquals("/a/b", Apis.combine("a", "b"));
        assertEquals("/a", Apis.combine("/a", ""));
        assertEquals("/b", Apis.combine("", "b"));
        assertEquals("/", Apis.combine("", ""));
        assertEquals("/u/{id}/{n}", Apis.combine("/u", "/{id:\\d{1,3}}/{n:[a-z]+}"));
        assertEquals("/x:y/{a}", Apis.stripPatterns("/x:y/{a:.*}"));
    }

    @Test
    void dubboServiceReportsItsInterfaceWithJavaParameterTypes() {
        String user = "io.github.rpcbridge.sdk.fixtures.UserService$User";
        List<Api> want = List.of(
                api("count", "", "", List.of(), List.of()),
                api("find", "", "", List.of("ids", "filters"),
                        List.of("java.util.List<java.lang.Long>", "java.util.Map<java.lang.String, java.util.List<java.lang.Long>>")),
                // Overloads, both; the first with its @RpcBridgeApi route.
                api("getUser", "/v1/users/{id}", "GET", List.of("id"), List.of("java.lang.Long")),
                api("getUser", "", "", List.of("name"), List.of("java.lang.String")),
                api("hello", "", "", List.of(), List.of()),
                api("reshape", "", "", List.of("id", "names", "grid", "addresses"),
                        List.of("long", "java.lang.String[]", "int[][]", user + "$Address[]")),
                api("save", "", "", List.of("user"), List.of(user)),
                // Not in the interface, but annotated.
                api("stats", "", "", List.of("window"), List.of("java.time.Duration")));
        assertEquals(want, Apis.scan(UserServiceImpl.class));
    }

    @Test
    void dubboServiceNamesItsInterface() {
        List<Api> want = List.of(api("greet", "", "", List.of("name", "times"), List.of("java.lang.String", "int")));
        assertEquals(want, Apis.scan(Greeters.ByClass.class), "interfaceClass");
        assertEquals(want, Apis.scan(Greeters.ByName.class), "Alibaba's @Service, interfaceName");
        assertEquals(List.of(), Apis.scan(Greeters.SpringBean.class), "Spring's @Service");
    }

    @Test
    void dubboGenericParametersAreReportedByTheirBounds() {
        assertEquals(List.of(
                api("echo", "", "", List.of("e", "xs", "ys", "zs"), List.of("java.lang.CharSequence", "java.util.List<java.lang.Number>",
                        "java.util.List<java.lang.Integer>", "java.util.List<java.lang.Object>[]")),
                api("save", "", "", List.of("item"), List.of("java.lang.Number"))), Apis.scan(Greeters.LongRepo.class));
    }

    @Test
    void dubboServiceWithoutItsInterfaceIsAnError() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Apis.scan(Greeters.NoInterface.class));
        assertEquals("rpcbridge: scan io.github.rpcbridge.sdk.fixtures.Greeters$NoInterface: @DubboService on a class that implements"
                + " no interface: want the service interface implemented, or interfaceClass", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> Apis.scan(Greeters.WrongName.class));
        assertEquals("rpcbridge: scan io.github.rpcbridge.sdk.fixtures.Greeters$WrongName: @DubboService interfaceName"
                + " org.example.Missing is not an interface the class implements", e.getMessage());
    }

    @Test
    void rpcbridgeApiAlone() {
        assertEquals(List.of(
                api("add", "", "", List.of("a", "b"), List.of("i32", "i32")),
                api("Mul", "", "", List.of("a", "b"), List.of()),
                api("ping", "/v1/ping", "GET", List.of(), List.of())), Apis.scan(ThriftHandler.class));
    }

    @Test
    void scanningSeveralClassesConcatenatesWithoutDuplicates() {
        List<Api> got = Apis.scan(Greeters.ByClass.class, ThriftHandler.class, Greeters.ByName.class);
        assertEquals(List.of(
                api("greet", "", "", List.of("name", "times"), List.of("java.lang.String", "int")),
                api("add", "", "", List.of("a", "b"), List.of("i32", "i32")),
                api("Mul", "", "", List.of("a", "b"), List.of()),
                api("ping", "/v1/ping", "GET", List.of(), List.of())), got);
        assertEquals(List.of(), Apis.scan(Object.class, String.class));
    }
}
