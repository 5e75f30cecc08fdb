package org.hsajava.train.text;

import java.util.Map;

/**
 * Text ↔ token ids. {@link #encode} treats its whole input as ordinary text: a string such as
 * {@code "<|endoftext|>"} is encoded as characters, never as the special token, so corpus text can
 * not smuggle control tokens in. Special tokens are placed by id ({@link #eos()}, ...).
 */
public interface Tokenizer {

    /** Name that {@link Tokenizers#create} accepts, e.g. {@code "byte"}. */
    String name();

    /** Number of ids: every id returned by {@link #encode} and every special id is below this. */
    int vocabSize();

    int[] encode(String text);

    /**
     * Text of the ids; special tokens are written as their names (e.g. {@code <|endoftext|>}).
     * Never throws on byte sequences that are not valid UTF-8 (they become U+FFFD); throws
     * {@link IllegalArgumentException} naming the position of an id outside the vocabulary.
     */
    String decode(int[] ids);

    /** Decodes {@code ids[from, to)}. */
    default String decode(int[] ids, int from, int to) {
        return decode(java.util.Arrays.copyOfRange(ids, from, to));
    }

    /** Special tokens by name ({@code "pad"}, {@code "bos"}, {@code "eos"}, ...), in id order. */
    Map<String, Integer> specialTokens();

    /** End of document: separates documents in packed training sequences and starts task samples. */
    int eos();

    int bos();

    int pad();

    /** Id of the special token {@code name}; the error lists the names this tokenizer has. */
    default int special(String name) {
        Integer id = specialTokens().get(name);
        if (id == null) {
            throw new IllegalArgumentException("tokenizer '" + name() + "' has no special token '" + name
                    + "'; it has " + specialTokens().keySet());
        }
        return id;
    }
}
