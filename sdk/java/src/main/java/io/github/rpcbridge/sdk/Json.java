package io.github.rpcbridge.sdk;

import java.util.Comparator;
import java.util.List;
import java.util.Map;

/**
 * A small JSON writer: strings escaped per RFC 8259, and written byte for
 * byte as Go's encoding/json writes them (the gateway and the Go SDK), so
 * that both SDKs produce the same node data: {@code "} and {@code \} and the
 * control characters escaped ({@code \b \f \n \r \t} short, the others as
 * {@code \}{@code u00XX} in lower-case hex), {@code < > &} and U+2028/U+2029
 * as {@code \}{@code uXXXX}, everything else (DEL and non-ASCII included)
 * as is, and a lone surrogate, which no UTF-8 can carry, as U+FFFD.
 */
final class Json {
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    /** Orders strings as Go orders map keys: by UTF-8 bytes, that is by code point. */
    static final Comparator<String> CODE_POINT_ORDER = (a, b) -> {
        int i = 0;
        int j = 0;
        while (i < a.length() && j < b.length()) {
            int ca = a.codePointAt(i);
            int cb = b.codePointAt(j);
            if (ca != cb) {
                return Integer.compare(ca, cb);
            }
            i += Character.charCount(ca);
            j += Character.charCount(cb);
        }
        return Boolean.compare(i < a.length(), j < b.length());
    };

    private final StringBuilder out = new StringBuilder();
    /** Whether the value being written is not the first of its object or array. */
    private boolean comma;

    static String quote(String s) {
        StringBuilder b = new StringBuilder(s.length() + 2);
        appendQuoted(b, s);
        return b.toString();
    }

    static void appendQuoted(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '<', '>', '&', '\u2028', '\u2029' -> unicodeEscape(b, c);
                default -> {
                    if (c < 0x20) {
                        unicodeEscape(b, c);
                    } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                        b.append(c).append(s.charAt(++i));
                    } else if (Character.isSurrogate(c)) {
                        unicodeEscape(b, '\ufffd');
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    private static void unicodeEscape(StringBuilder b, char c) {
        b.append("\\u").append(HEX[c >> 12 & 0xf]).append(HEX[c >> 8 & 0xf]).append(HEX[c >> 4 & 0xf]).append(HEX[c & 0xf]);
    }

    Json beginObject() {
        separate();
        out.append('{');
        comma = false;
        return this;
    }

    Json endObject() {
        out.append('}');
        comma = true;
        return this;
    }

    Json beginArray() {
        separate();
        out.append('[');
        comma = false;
        return this;
    }

    Json endArray() {
        out.append(']');
        comma = true;
        return this;
    }

    /** Writes a member name; its value follows. */
    Json name(String name) {
        separate();
        appendQuoted(out, name);
        out.append(':');
        comma = false;
        return this;
    }

    Json value(String s) {
        separate();
        appendQuoted(out, s);
        comma = true;
        return this;
    }

    Json value(long n) {
        separate();
        out.append(n);
        comma = true;
        return this;
    }

    Json value(boolean v) {
        separate();
        out.append(v);
        comma = true;
        return this;
    }

    Json value(List<String> list) {
        beginArray();
        for (String s : list) {
            value(s);
        }
        return endArray();
    }

    /** An object of string values, its keys in Go's order. */
    Json value(Map<String, String> map) {
        beginObject();
        map.entrySet().stream()
                .sorted(Map.Entry.comparingByKey(CODE_POINT_ORDER))
                .forEach(e -> name(e.getKey()).value(e.getValue()));
        return endObject();
    }

    private void separate() {
        if (comma) {
            out.append(',');
        }
    }

    @Override
    public String toString() {
        return out.toString();
    }
}
