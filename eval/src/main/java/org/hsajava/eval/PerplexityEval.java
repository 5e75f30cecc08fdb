package org.hsajava.eval;

/**
 * Perplexity vs context length on held-out text. For a context length L, each of N windows of L
 * held-out tokens ({@link HeldOutText#window}) is scored on its last n = min(span, L − 1) tokens,
 * each predicted from every token before it in the window (rows L−n−1 … L−2 predict tokens
 * L−n … L−1). The result is the mean negative log-likelihood over the N·n scored tokens, in nats,
 * and its exponential, the perplexity. The windows end at the same places for every L, so the
 * scored tokens are the same text at every length above the span: only the context before them grows.
 */
public final class PerplexityEval {
    private PerplexityEval() {}

    /** One length's result: {@code tokens} = sequences × scored tokens per sequence. */
    public record Result(int length, int sequences, long tokens, double meanNll, double seconds, long peakDeviceBytes) {
        public double perplexity() { return Math.exp(meanNll); }
    }

    /** Tokens scored in a window of {@code length}: the last min(span, length − 1). */
    public static int scoredTokens(int length, int span) { return Math.min(span, length - 1); }

    /**
     * Scores {@code sequences} windows of {@code length} tokens (fewer if the held-out text is too
     * short for them all; at least one must fit).
     */
    public static Result run(SequenceScorer scorer, HeldOutText text, int length, int sequences, int span) {
        if (length < 2) throw new IllegalArgumentException("perplexity needs windows of at least 2 tokens, got " + length);
        if (span < 1) throw new IllegalArgumentException("span must be >= 1, got " + span);
        int windows = text.windowsFitting(length, sequences, span);
        if (windows == 0) throw new IllegalArgumentException("held-out text " + text.description() + " has " + text.available() + " tokens, fewer than one window of " + length);
        long t0 = System.nanoTime();
        int n = scoredTokens(length, span);
        int[] rowsOfWindow = new int[n];
        for (int i = 0; i < n; i++) rowsOfWindow[i] = length - n - 1 + i;
        double sum = 0;
        for (int done = 0; done < windows; done += scorer.maxBatch()) {
            int b = Math.min(scorer.maxBatch(), windows - done);
            int[][] tokens = new int[b][], rows = new int[b][];
            for (int k = 0; k < b; k++) {
                tokens[k] = text.window(length, done + k, span);
                rows[k] = rowsOfWindow;
            }
            float[][][] logits = scorer.logits(tokens, rows);
            for (int k = 0; k < b; k++) for (int i = 0; i < n; i++) sum += nll(logits[k][i], tokens[k][rowsOfWindow[i] + 1]);
        }
        long scored = (long) windows * n;
        return new Result(length, windows, scored, sum / scored, (System.nanoTime() - t0) / 1e9, scorer.peakDeviceBytes());
    }

    /** −log softmax(logits)[target], in double precision (log-sum-exp shifted by the maximum). */
    public static double nll(float[] logits, int target) {
        double max = Double.NEGATIVE_INFINITY;
        for (float v : logits) max = Math.max(max, v);
        double sum = 0;
        for (float v : logits) sum += Math.exp(v - max);
        return max + Math.log(sum) - logits[target];
    }
}
