package org.hsajava.train.text;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * UTF-8 bytes as tokens: ids 0–255 are the byte values, then four specials: 256 {@code pad},
 * 257 {@code bos}, 258 {@code eos}, 259 {@code sep}. Vocabulary size 260. Digits are one token
 * each, which makes the synthetic retrieval tasks' answers easy to score per character.
 */
public final class ByteTokenizer implements Tokenizer {

    public static final int PAD = 256;
    public static final int BOS = 257;
    public static final int EOS = 258;
    public static final int SEP = 259;
    public static final int VOCAB_SIZE = 260;

    private static final String[] SPECIAL_NAMES = {"pad", "bos", "eos", "sep"};
    private static final Map<String, Integer> SPECIALS;

    static {
        Map<String, Integer> specials = new LinkedHashMap<>();
        for (int i = 0; i < SPECIAL_NAMES.length; i++) {
            specials.put(SPECIAL_NAMES[i], 256 + i);
        }
        SPECIALS = Collections.unmodifiableMap(specials);
    }

    @Override
    public String name() {
        return "byte";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        byte[] bytes = text.getBytes(StandardCharsets.UTF_8);
        int[] ids = new int[bytes.length];
        for (int i = 0; i < bytes.length; i++) {
            ids[i] = bytes[i] & 0xff;
        }
        return ids;
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    @Override
    public String decode(int[] ids, int from, int to) {
        StringBuilder text = new StringBuilder();
        ByteArrayOutputStream pending = new ByteArrayOutputStream();
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id >= 0 && id < 256) {
                pending.write(id);
            } else if (id >= 256 && id < VOCAB_SIZE) {
                flush(pending, text);
                text.append("<|").append(SPECIAL_NAMES[id - 256]).append("|>");
            } else {
                throw new IllegalArgumentException("token id " + id + " at position " + i
                        + " is outside the byte vocabulary [0, " + VOCAB_SIZE + ")");
            }
        }
        flush(pending, text);
        return text.toString();
    }

    /** new String(bytes, UTF_8) replaces malformed input with U+FFFD instead of throwing. */
    private static void flush(ByteArrayOutputStream pending, StringBuilder text) {
        if (pending.size() > 0) {
            text.append(pending.toString(StandardCharsets.UTF_8));
            pending.reset();
        }
    }

    @Override
    public Map<String, Integer> specialTokens() {
        return SPECIALS;
    }

    @Override
    public int eos() {
        return EOS;
    }

    @Override
    public int bos() {
        return BOS;
    }

    @Override
    public int pad() {
        return PAD;
    }

    @Override
    public String toString() {
        return name();
    }
}
