package org.hsajava.eval;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.Arrays;
import org.hsajava.train.data.Corpus;
import org.hsajava.train.data.Document;
import org.hsajava.train.data.DocumentReader;
import org.hsajava.train.text.Tokenizer;

/**
 * Held-out text for perplexity, as one token stream (each document's tokens then eos, as training
 * packs text), of which the last {@code keep} tokens are kept. Perplexity windows are anchored at the
 * END of the stream, so the tokens scored are the same text at every context length: window j
 * (j = 0, 1, …) ends where the stream ends minus j·span tokens, and a longer context only reaches
 * further back.
 */
public final class HeldOutText {
    private final String description;
    private final int[] tail;
    private final long streamTokens;

    /** {@code tail}: the last tokens of a stream of {@code streamTokens} tokens in all. */
    public HeldOutText(String description, int[] tail, long streamTokens) {
        if (tail.length == 0) throw new IllegalArgumentException("held-out text " + description + " has no tokens");
        this.description = description;
        this.tail = tail.clone();
        this.streamTokens = streamTokens;
    }

    /** Reads all of {@code corpus} once, keeping its last {@code keep} tokens (a ring buffer: memory is O(keep)). */
    public static HeldOutText read(Corpus corpus, String description, Tokenizer tokenizer, int keep) {
        if (keep < 1) throw new IllegalArgumentException("keep must be >= 1, got " + keep);
        int[] ring = new int[keep];
        long total = 0;
        try (DocumentReader r = corpus.open()) {
            for (Document d = r.next(); d != null; d = r.next()) {
                for (int t : tokenizer.encode(d.text())) ring[(int) (total++ % keep)] = t;
                ring[(int) (total++ % keep)] = tokenizer.eos();
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read held-out text " + description + ": " + e.getMessage(), e);
        }
        if (total == 0) throw new IllegalArgumentException("held-out text " + description + " has no documents");
        int n = (int) Math.min(total, keep);
        int[] tail = new int[n];
        for (int i = 0; i < n; i++) tail[i] = ring[(int) ((total - n + i) % keep)];
        return new HeldOutText(description, tail, total);
    }

    public String description() { return description; }

    /** Tokens of the whole stream (only the last {@link #available()} are kept). */
    public long streamTokens() { return streamTokens; }

    /** Tokens kept: the longest window possible. */
    public int available() { return tail.length; }

    /** How many of {@code wanted} windows of {@code length} tokens, spaced {@code span} apart, fit in the kept text. */
    public int windowsFitting(int length, int wanted, int span) {
        if (length > tail.length) return 0;
        return (int) Math.min(wanted, (tail.length - length) / (long) span + 1);
    }

    /** Window j: the {@code length} tokens that end {@code j·span} tokens before the end of the stream. */
    public int[] window(int length, int j, int span) {
        int end = tail.length - j * span;
        if (j < 0 || end - length < 0) throw new IllegalArgumentException("window " + j + " of " + length + " tokens does not fit in " + tail.length + " held-out tokens");
        return Arrays.copyOfRange(tail, end - length, end);
    }
}
