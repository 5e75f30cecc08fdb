package org.hsajava.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;

/**
 * Typed, validating reads of one JSON object's fields. Every read records the field as known, so
 * {@link #rejectUnknown()} can refuse typos instead of silently ignoring them (a misspelt
 * "chunk_topk" would otherwise train a model with the default K). Every error names the field.
 */
final class JsonFields {
    private final ObjectNode node;
    private final String prefix;
    private final Set<String> known = new LinkedHashSet<>();

    JsonFields(JsonNode node, String section) {
        if (node == null || !node.isObject()) {
            throw new ConfigException(section.isEmpty() ? "(root)" : section, "must be a JSON object");
        }
        this.node = (ObjectNode) node;
        this.prefix = section.isEmpty() ? "" : section + ".";
    }

    String path(String name) { return prefix + name; }

    boolean has(String name) {
        known.add(name);
        JsonNode v = node.get(name);
        return v != null && !v.isNull();
    }

    /** Marks a field as allowed without reading it (its owner reads it some other way). */
    void allow(String name) { known.add(name); }

    JsonNode raw(String name) {
        known.add(name);
        return node.get(name);
    }

    private JsonNode required(String name) {
        known.add(name);
        JsonNode v = node.get(name);
        if (v == null || v.isNull()) throw new ConfigException(path(name), "is required");
        return v;
    }

    int intIn(String name, int min, int max) {
        return checkInt(name, intValue(name, required(name)), min, max);
    }

    int intIn(String name, int min, int max, int dflt) {
        return has(name) ? intIn(name, min, max) : dflt;
    }

    long longIn(String name, long min, long max) {
        JsonNode v = required(name);
        if (!v.isIntegralNumber() || !v.canConvertToLong()) {
            throw new ConfigException(path(name), "must be an integer, got " + v);
        }
        long x = v.longValue();
        if (x < min || x > max) {
            String range = max == Long.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]";
            throw new ConfigException(path(name), "must be " + range + ", got " + x);
        }
        return x;
    }

    long longIn(String name, long min, long max, long dflt) {
        return has(name) ? longIn(name, min, max) : dflt;
    }

    int oneOfInts(String name, int... allowed) {
        int x = intValue(name, required(name));
        for (int a : allowed) if (a == x) return x;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < allowed.length; i++) sb.append(i == 0 ? "" : ", ").append(allowed[i]);
        throw new ConfigException(path(name), "must be one of " + sb + ", got " + x);
    }

    private int intValue(String name, JsonNode v) {
        if (!v.isIntegralNumber() || !v.canConvertToInt()) {
            throw new ConfigException(path(name), "must be an integer, got " + v);
        }
        return v.intValue();
    }

    private int checkInt(String name, int x, int min, int max) {
        if (x < min || x > max) {
            String range = max == Integer.MAX_VALUE ? ">= " + min : "in [" + min + ", " + max + "]";
            throw new ConfigException(path(name), "must be " + range + ", got " + x);
        }
        return x;
    }

    /** A finite number in the open-or-closed interval described by the flags. */
    double number(String name, double min, boolean minOpen, double max, boolean maxOpen) {
        JsonNode v = required(name);
        if (!v.isNumber()) throw new ConfigException(path(name), "must be a number, got " + v);
        return checkNumber(path(name), v.doubleValue(), min, minOpen, max, maxOpen);
    }

    double number(String name, double min, boolean minOpen, double max, boolean maxOpen, double dflt) {
        return has(name) ? number(name, min, minOpen, max, maxOpen) : dflt;
    }

    static double checkNumber(String field, double x, double min, boolean minOpen, double max, boolean maxOpen) {
        boolean ok = Double.isFinite(x)
                && (minOpen ? x > min : x >= min)
                && (maxOpen ? x < max : x <= max);
        if (!ok) {
            String lo = (minOpen ? "(" : "[") + fmt(min);
            String hi = (max == Double.POSITIVE_INFINITY ? "inf" : fmt(max)) + (maxOpen ? ")" : "]");
            throw new ConfigException(field, "must be a finite number in " + lo + ", " + hi + ", got " + x);
        }
        return x;
    }

    private static String fmt(double d) {
        return d == Math.rint(d) && Math.abs(d) < 1e15 ? Long.toString((long) d) : Double.toString(d);
    }

    boolean bool(String name) {
        JsonNode v = required(name);
        if (!v.isBoolean()) throw new ConfigException(path(name), "must be true or false, got " + v);
        return v.booleanValue();
    }

    boolean bool(String name, boolean dflt) { return has(name) ? bool(name) : dflt; }

    String text(String name) {
        JsonNode v = required(name);
        if (!v.isTextual()) throw new ConfigException(path(name), "must be a string, got " + v);
        return v.textValue();
    }

    String text(String name, String dflt) { return has(name) ? text(name) : dflt; }

    /** A string that must be one of the given choices (the error lists them). */
    String choice(String name, List<String> choices) {
        String s = text(name);
        if (!choices.contains(s)) {
            throw new ConfigException(path(name), "must be one of " + String.join(", ", choices) + ", got \"" + s + "\"");
        }
        return s;
    }

    String choice(String name, List<String> choices, String dflt) {
        return has(name) ? choice(name, choices) : dflt;
    }

    double[] numbers(String name, int count) {
        JsonNode v = required(name);
        if (!v.isArray() || v.size() != count) {
            throw new ConfigException(path(name), "must be an array of " + count + " numbers, got " + v);
        }
        double[] out = new double[count];
        for (int i = 0; i < count; i++) {
            if (!v.get(i).isNumber()) {
                throw new ConfigException(path(name) + "[" + i + "]", "must be a number, got " + v.get(i));
            }
            out[i] = v.get(i).doubleValue();
        }
        return out;
    }

    /** Refuses any field that no read asked for, listing the fields this section accepts. */
    void rejectUnknown() {
        List<String> unknown = new ArrayList<>();
        node.fieldNames().forEachRemaining(n -> { if (!known.contains(n)) unknown.add(n); });
        if (!unknown.isEmpty()) {
            throw new ConfigException(path(unknown.get(0)),
                    "unknown field; allowed fields here: " + String.join(", ", new TreeSet<>(known)));
        }
    }

    static List<String> list(String... s) { return Arrays.asList(s); }
}
