package org.hsajava.eval;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Evaluation task names as the command line takes them: the synthetic tasks' full names, their short
 * aliases, and {@code ppl} (perplexity vs context length on held-out text).
 */
public final class TaskNames {
    public static final String PERPLEXITY = "ppl";

    private static final Map<String, String> NAMES = new LinkedHashMap<>();

    static {
        for (String full : List.of("passkey", "niah_single", "niah_multikey", "variable_tracking", "associative_recall")) NAMES.put(full, full);
        NAMES.put("niah", "niah_single");
        NAMES.put("s-niah", "niah_single");
        NAMES.put("mk-niah", "niah_multikey");
        NAMES.put("mq-niah", "niah_multikey");
        NAMES.put("vt", "variable_tracking");
        NAMES.put("ar", "associative_recall");
        NAMES.put(PERPLEXITY, PERPLEXITY);
        NAMES.put("perplexity", PERPLEXITY);
    }

    private TaskNames() {}

    /** The canonical name of {@code name} ({@code _} and {@code -} are interchangeable; case is ignored). */
    public static String canonical(String name) {
        String key = name.trim().toLowerCase(Locale.ROOT);
        String hit = NAMES.get(key);
        if (hit == null) hit = NAMES.get(key.replace('_', '-'));
        if (hit == null) hit = NAMES.get(key.replace('-', '_'));
        if (hit == null) throw new IllegalArgumentException("--tasks: unknown task '" + name + "'; choices: " + String.join(", ", NAMES.keySet()));
        return hit;
    }

    /** Canonical names of {@code names}, in order, each once. */
    public static List<String> canonical(List<String> names) {
        List<String> out = new ArrayList<>();
        for (String n : names) {
            String c = canonical(n);
            if (!out.contains(c)) out.add(c);
        }
        if (out.isEmpty()) throw new IllegalArgumentException("--tasks: no task given");
        return out;
    }
}
