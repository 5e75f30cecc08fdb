package org.hsajava.train.text;

import com.knuddels.jtokkit.Encodings;
import com.knuddels.jtokkit.api.Encoding;
import com.knuddels.jtokkit.api.EncodingType;
import com.knuddels.jtokkit.api.IntArrayList;
import java.nio.charset.StandardCharsets;
import java.util.Map;

/**
 * GPT-2's byte-level BPE (r50k_base, 50 257 ids) through JTokkit. Its only special token is
 * {@code <|endoftext|>} (50256), which GPT-2 uses as document separator; it serves as eos, bos and
 * pad here (GPT-2 has no separate ones).
 */
public final class Gpt2Tokenizer implements Tokenizer {

    public static final int END_OF_TEXT = 50256;
    public static final int VOCAB_SIZE = 50257;
    private static final String END_OF_TEXT_NAME = "<|endoftext|>";

    /** The encoding's tables are large and immutable: load them once per JVM. */
    private static final class Holder {
        static final Encoding R50K = Encodings.newLazyEncodingRegistry().getEncoding(EncodingType.R50K_BASE);
    }

    @Override
    public String name() {
        return "gpt2";
    }

    @Override
    public int vocabSize() {
        return VOCAB_SIZE;
    }

    @Override
    public int[] encode(String text) {
        return Holder.R50K.encodeOrdinary(text).toArray();
    }

    @Override
    public String decode(int[] ids) {
        return decode(ids, 0, ids.length);
    }

    /**
     * Decodes runs of ordinary ids to bytes first and only then to text, so a character split over
     * two tokens comes out whole; bytes that stay invalid become U+FFFD.
     */
    @Override
    public String decode(int[] ids, int from, int to) {
        StringBuilder text = new StringBuilder();
        IntArrayList run = new IntArrayList();
        for (int i = from; i < to; i++) {
            int id = ids[i];
            if (id < 0 || id >= VOCAB_SIZE) {
                throw new IllegalArgumentException("token id " + id + " at position " + i
                        + " is outside the GPT-2 vocabulary [0, " + VOCAB_SIZE + ")");
            }
            if (id == END_OF_TEXT) {
                flush(run, text);
                text.append(END_OF_TEXT_NAME);
            } else {
                run.add(id);
            }
        }
        flush(run, text);
        return text.toString();
    }

    private static void flush(IntArrayList run, StringBuilder text) {
        if (!run.isEmpty()) {
            text.append(new String(Holder.R50K.decodeBytes(run), StandardCharsets.UTF_8));
            run.clear();
        }
    }

    @Override
    public Map<String, Integer> specialTokens() {
        return Map.of("endoftext", END_OF_TEXT);
    }

    @Override
    public int eos() {
        return END_OF_TEXT;
    }

    @Override
    public int bos() {
        return END_OF_TEXT;
    }

    @Override
    public int pad() {
        return END_OF_TEXT;
    }

    @Override
    public String toString() {
        return name();
    }
}
