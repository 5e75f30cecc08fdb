package org.hsajava.train.tasks;

import java.io.IOException;
import java.text.BreakIterator;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.hsajava.train.data.Corpus;
import org.hsajava.train.data.Document;
import org.hsajava.train.data.DocumentReader;
import org.hsajava.train.text.Tokenizer;

/**
 * A bounded pool of tokenized sentences. {@link #fill} starts at a random sentence and takes
 * sentences in order, wrapping around, until it has the tokens it needs (the last sentence cut).
 * Each sentence is encoded on its own with a leading space, so a needle inserted between two
 * sentences tokenizes the same as running text would.
 */
public final class SentencePool implements Filler {

    /** The repeated filler of the passkey papers (Mohtashami and Jaggi 2023). */
    public static final List<String> PASSKEY_SENTENCES = List.of(
            "The grass is green.", "The sky is blue.", "The sun is yellow.", "Here we go.", "There and back again.");

    private final int[] tokens;
    private final int[] starts;  // sentence i is tokens[starts[i], starts[i + 1])
    private final int longest;

    private SentencePool(int[] tokens, int[] starts) {
        if (starts.length < 2) {
            throw new IllegalArgumentException("a filler needs at least one non-empty sentence");
        }
        this.tokens = tokens;
        this.starts = starts;
        int max = 0;
        for (int i = 0; i + 1 < starts.length; i++) {
            max = Math.max(max, starts[i + 1] - starts[i]);
        }
        this.longest = max;
    }

    /** The passkey papers' five sentences, repeated. */
    public static SentencePool repeated(Tokenizer tokenizer) {
        return of(tokenizer, PASSKEY_SENTENCES);
    }

    public static SentencePool of(Tokenizer tokenizer, List<String> sentences) {
        Builder builder = new Builder(tokenizer, Integer.MAX_VALUE);
        sentences.forEach(builder::add);
        return builder.build();
    }

    /**
     * Sentences of real text: the corpus's documents in order, whitespace runs collapsed, cut into
     * sentences by {@link BreakIterator}, until {@code maxTokens} tokens are pooled (so a large
     * corpus is read only as far as needed).
     */
    public static SentencePool fromCorpus(Corpus corpus, Tokenizer tokenizer, int maxTokens) throws IOException {
        Builder builder = new Builder(tokenizer, maxTokens);
        BreakIterator sentences = BreakIterator.getSentenceInstance(Locale.ENGLISH);
        try (DocumentReader reader = corpus.open()) {
            Document d;
            while (!builder.full() && (d = reader.next()) != null) {
                String text = d.text().replaceAll("\\s+", " ").trim();
                sentences.setText(text);
                int start = sentences.first();
                for (int end = sentences.next(); end != BreakIterator.DONE && !builder.full();
                     start = end, end = sentences.next()) {
                    builder.add(text.substring(start, end).trim());
                }
            }
        }
        return builder.build();
    }

    public int sentences() {
        return starts.length - 1;
    }

    public int pooledTokens() {
        return tokens.length;
    }

    @Override
    public int longestSentence() {
        return longest;
    }

    @Override
    public FillerText fill(int count, SplittableRandom rng) {
        if (count < 0) {
            throw new IllegalArgumentException("filler length must not be negative, got " + count);
        }
        int[] out = new int[count];
        int[] outStarts = new int[Math.max(1, count)];
        int sentenceCount = 0;
        int sentence = rng.nextInt(sentences());
        int filled = 0;
        while (filled < count) {
            int from = starts[sentence];
            int n = Math.min(starts[sentence + 1] - from, count - filled);
            if (sentenceCount == outStarts.length) {
                outStarts = Arrays.copyOf(outStarts, outStarts.length * 2);
            }
            outStarts[sentenceCount++] = filled;
            System.arraycopy(tokens, from, out, filled, n);
            filled += n;
            sentence = (sentence + 1) % sentences();
        }
        return new FillerText(out, Arrays.copyOf(outStarts, sentenceCount));
    }

    private static final class Builder {
        private final Tokenizer tokenizer;
        private final int maxTokens;
        private int[] tokens = new int[1024];
        private final List<Integer> starts = new ArrayList<>(List.of(0));
        private int size;

        Builder(Tokenizer tokenizer, int maxTokens) {
            this.tokenizer = tokenizer;
            this.maxTokens = maxTokens;
        }

        boolean full() {
            return size >= maxTokens;
        }

        void add(String sentence) {
            if (sentence.isEmpty()) {
                return;
            }
            int[] ids = tokenizer.encode(" " + sentence);
            if (size + ids.length > tokens.length) {
                tokens = Arrays.copyOf(tokens, Math.max(tokens.length * 2, size + ids.length));
            }
            System.arraycopy(ids, 0, tokens, size, ids.length);
            size += ids.length;
            starts.add(size);
        }

        SentencePool build() {
            return new SentencePool(Arrays.copyOf(tokens, size), starts.stream().mapToInt(Integer::intValue).toArray());
        }
    }
}
