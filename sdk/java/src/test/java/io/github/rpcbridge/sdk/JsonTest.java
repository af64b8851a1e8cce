package io.github.rpcbridge.sdk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class JsonTest {
    @Test
    void stringsAreEscapedAsGoEscapesThem() {
        // want: what Go's json.Marshal writes for the same string.
        String in = "a\"\\/\b\f\n\r\t\u0001\u001f\u007f<>&\u2028\u2029\u00e9\ud83d\ude00";
        String want = "\"a\\\"\\\\/\\b\\f\\n\\r\\t\\u0001\\u001f\u007f\\u003c\\u003e\\u0026\\u2028\\u2029\u00e9\ud83d\ude00\"";
        assertEquals(want, Json.quote(in));
    }

    @Test
    void everyControlCharacterIsEscaped() {
        for (char c = 0; c < 0x20; c++) {
            String got = Json.quote(String.valueOf(c));
            String want = switch (c) {
                case '\b' -> "\"\\b\"";
                case '\f' -> "\"\\f\"";
                case '\n' -> "\"\\n\"";
                case '\r' -> "\"\\r\"";
                case '\t' -> "\"\\t\"";
                default -> String.format("\"\\u%04x\"", (int) c);
            };
            assertEquals(want, got, "char " + (int) c);
        }
    }

    @Test
    void loneSurrogatesBecomeTheReplacementCharacter() {
        assertEquals("\"\\ufffdx\"", Json.quote("\ud800x"));
        assertEquals("\"x\\ufffd\"", Json.quote("x\udc00"));
        assertEquals("\"\\ufffd\\ufffd\"", Json.quote("\udc00\ud800"));
        assertEquals("\"\\ufffd\"", Json.quote("\ud800"));
    }

    @Test
    void writerSeparatesMembersAndElements() {
        Json j = new Json().beginObject().name("a").value(1).name("b").value(List.of("x", "y")).name("c").beginArray()
                .beginObject().endObject().beginObject().name("d").value(false).endObject().endArray()
                .name("e").value(List.of()).name("f").value(-7).endObject();
        assertEquals("{\"a\":1,\"b\":[\"x\",\"y\"],\"c\":[{},{\"d\":false}],\"e\":[],\"f\":-7}", j.toString());
    }

    @Test
    void mapKeysAreInGoOrderByCodePoint() {
        Map<String, String> m = new LinkedHashMap<>();
        // UTF-16 order would put U+1F600 (a surrogate pair, D83D...) before U+FF61.
        m.put("\ud83d\ude00", "5");
        m.put("\uff61", "4");
        m.put("\u00e9", "3");
        m.put("a", "2");
        m.put("B", "1");
        m.put("", "0");
        assertEquals("{\"\":\"0\",\"B\":\"1\",\"a\":\"2\",\"\u00e9\":\"3\",\"\uff61\":\"4\",\"\ud83d\ude00\":\"5\"}",
                new Json().value(m).toString());
    }

    @Test
    void apiLeavesOutEmptyMembers() {
        assertEquals("{\"name\":\"Get\"}", Api.of("Get").toString());
        assertEquals("{\"name\":\"Get\",\"path\":\"/v1/users/{id}\",\"http_method\":\"GET\",\"param_names\":[\"id\"],\"param_types\":[\"java.lang.Long\"]}",
                Api.of("Get").path("/v1/users/{id}").httpMethod("GET").paramNames("id").paramTypes("java.lang.Long").toString());
        assertEquals("{\"name\":\"Get\",\"param_types\":[\"long\"]}", Api.of("Get").paramTypes("long").toString());
    }

    @Test
    void apiChecksItsName() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Api.of(""));
        assertEquals("rpcbridge: api name: want a method name, got \"\"", e.getMessage());
        List<String> withNull = new ArrayList<>();
        withNull.add(null);
        e = assertThrows(IllegalArgumentException.class, () -> new Api("x", null, null, withNull, null));
        assertEquals("rpcbridge: api x: param_names[0]: want a string, got null", e.getMessage());
        Api a = new Api("x", null, null, null, null);
        assertEquals(new Api("x", "", "", List.of(), List.of()), a);
    }

    @Test
    void instanceIsTheGoInstanceJSON() {
        Map<String, String> md = new LinkedHashMap<>();
        md.put("k2", "v<2>");
        md.put("k1", "v1");
        Instance in = new Instance("users", "10.0.0.5:20880", "dubbo", 100, "z1", List.of("canary", "blue"), true, "1.4.2", md,
                List.of(Api.of("getUser").path("/v1/users/{id}").httpMethod("GET").paramTypes("java.lang.Long"), Api.of("count")));
        assertEquals("{\"service\":\"users\",\"address\":\"10.0.0.5:20880\",\"protocol\":\"dubbo\",\"weight\":100,\"zone\":\"z1\","
                + "\"tags\":[\"canary\",\"blue\"],\"online\":true,\"version\":\"1.4.2\",\"metadata\":{\"k1\":\"v1\",\"k2\":\"v\\u003c2\\u003e\"},"
                + "\"apis\":[{\"name\":\"getUser\",\"path\":\"/v1/users/{id}\",\"http_method\":\"GET\",\"param_types\":[\"java.lang.Long\"]},{\"name\":\"count\"}]}",
                in.toJson());
    }

    @Test
    void instanceLeavesOutWhatGoOmits() {
        Instance in = new Instance("users", "h:1", "http", 100, "", List.of(), false, "", Map.of(), List.of());
        assertEquals("{\"service\":\"users\",\"address\":\"h:1\",\"protocol\":\"http\",\"weight\":100,\"online\":false}", in.toJson());
        assertEquals("{\"service\":\"users\",\"address\":\"h:1\",\"protocol\":\"http\",\"weight\":100,\"online\":true}", in.withOnline(true).toJson());
    }
}
