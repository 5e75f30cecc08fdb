package org.hsajava.train.tasks;

import java.util.List;
import java.util.Locale;
import org.hsajava.train.text.Tokenizer;

/** The tasks by name with their usual settings (RULER-like: 7-digit values, passkeys of 5 digits). */
public final class SyntheticTasks {

    public static final List<String> NAMES =
            List.of("passkey", "niah_single", "niah_multikey", "variable_tracking", "associative_recall", "copy");

    private SyntheticTasks() {
    }

    /**
     * {@code passkey} (5 digits), {@code niah_single} (7 digits), {@code niah_multikey} (4 keys, 1
     * queried), {@code variable_tracking} (2 chains, one queried, 4 hops, 5 digits),
     * {@code associative_recall} (8 pairs, 4 queries, 4 digits), {@code copy} (a random string of
     * 16 to 48 letters and digits, a training task for long-range induction).
     */
    public static SyntheticTask create(String name, Tokenizer tokenizer, Filler filler, LossMask lossMask) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "passkey" -> new PasskeyTask(tokenizer, filler, lossMask, 5);
            case "niah_single" -> new SingleNeedleTask(tokenizer, filler, lossMask, 7);
            case "niah_multikey" -> new MultiKeyNeedleTask(tokenizer, filler, lossMask, 4, 1, 7);
            case "variable_tracking" -> new VariableTrackingTask(tokenizer, filler, lossMask, 2, 4, 5);
            case "associative_recall" -> new AssociativeRecallTask(tokenizer, filler, lossMask, 8, 4, 4);
            case "copy" -> new CopyTask(tokenizer, filler, lossMask, 16, 48);
            default -> throw new IllegalArgumentException(
                    "unknown task '" + name + "'; choices: " + String.join(", ", NAMES));
        };
    }
}
