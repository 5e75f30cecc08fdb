package org.hsajava.compute;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Loads OpenCL C sources from the classpath and expands {@code #include "x.h"} lines against the
 * same folder (so a kernel file can pull in {@code common.h} without the driver needing a path).
 */
public final class KernelSources {
    private static final Pattern INCLUDE = Pattern.compile("^\\s*#include\\s+\"([^\"]+)\"\\s*$", Pattern.MULTILINE);
    private static final Map<String, String> CACHE = new ConcurrentHashMap<>();

    private KernelSources() {}

    /** The expanded source text of a resource such as {@code kernels/matmul.cl}. */
    public static String load(String resource) {
        return CACHE.computeIfAbsent(resource, r -> expand(r, 0));
    }

    private static String expand(String resource, int depth) {
        if (depth > 8) throw new IllegalStateException("#include nesting too deep at " + resource);
        String text = read(resource);
        String dir = resource.contains("/") ? resource.substring(0, resource.lastIndexOf('/') + 1) : "";
        Matcher m = INCLUDE.matcher(text);
        StringBuilder sb = new StringBuilder();
        while (m.find()) m.appendReplacement(sb, Matcher.quoteReplacement(expand(dir + m.group(1), depth + 1)));
        m.appendTail(sb);
        return sb.toString();
    }

    private static String read(String resource) {
        try (InputStream in = KernelSources.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) throw new IllegalArgumentException("kernel source '" + resource + "' not found on the classpath");
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("reading kernel source " + resource, e);
        }
    }
}
