package org.hsajava.train.text;

import java.util.List;
import java.util.Locale;

/** Tokenizers by name, as configs and the command line give them. */
public final class Tokenizers {

    /** Names {@link #create} accepts. */
    public static final List<String> NAMES = List.of("byte", "gpt2");

    private Tokenizers() {
    }

    /** {@code "byte"} → {@link ByteTokenizer}; {@code "gpt2"} (alias {@code "r50k_base"}) → {@link Gpt2Tokenizer}. */
    public static Tokenizer create(String name) {
        if (name == null) {
            throw new IllegalArgumentException("tokenizer name is missing; choices: " + String.join(", ", NAMES));
        }
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "byte", "bytes" -> new ByteTokenizer();
            case "gpt2", "gpt-2", "r50k_base" -> new Gpt2Tokenizer();
            default -> throw new IllegalArgumentException(
                    "unknown tokenizer '" + name + "'; choices: " + String.join(", ", NAMES));
        };
    }
}
