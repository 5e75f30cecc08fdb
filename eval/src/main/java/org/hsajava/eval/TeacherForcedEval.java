package org.hsajava.eval;

import java.util.SplittableRandom;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SyntheticTask;

/**
 * Teacher-forced exact match (DESIGN.md §3): a sample counts only if the argmax of the logits at
 * every answer token is that token (the output at position p−1 predicts token p). Samples go
 * through a {@link SequenceScorer}, {@link SequenceScorer#maxBatch()} at a time, and only the rows
 * that predict answer tokens are asked for.
 */
public final class TeacherForcedEval {
    private TeacherForcedEval() {}

    /**
     * One cell of an evaluation grid. {@code retrievalHits} counts the samples whose needle chunk (a
     * chunk holding the first answer token's copy in the needle) is among the chunks the first
     * retrieval layer selects, for KV head 0, at the position that predicts the first answer token;
     * -1 when the scorer cannot tell ({@link ChunkSelectionProbe}). It tells a retrieval failure from
     * a copy failure.
     */
    public record Cell(String task, int length, double depth, long seed, int samples, int correct, int answerTokens, int tokensCorrect,
                       int retrievalHits, double seconds, long peakDeviceBytes) {
        public double accuracy() { return samples == 0 ? 0 : (double) correct / samples; }

        /** Fraction of single answer tokens predicted right (partial credit; not the exact-match score). */
        public double tokenAccuracy() { return answerTokens == 0 ? 0 : (double) tokensCorrect / answerTokens; }

        public double retrievalHitRate() { return retrievalHits < 0 || samples == 0 ? Double.NaN : (double) retrievalHits / samples; }
    }

    /**
     * Evaluates {@code samples} samples of {@code task}, {@code length} tokens each, with the needle
     * at {@code depth}; the samples are drawn from {@code seed} alone, so every depth and length of a
     * seed uses the same keys and values.
     */
    public static Cell run(SequenceScorer scorer, SyntheticTask task, int length, double depth, int samples, long seed) {
        long t0 = System.nanoTime();
        SplittableRandom rng = new SplittableRandom(seed);
        ChunkSelectionProbe probe = ChunkSelectionProbe.of(scorer);
        int correct = 0, hits = 0, answerTokens = 0, tokensCorrect = 0;
        for (int done = 0; done < samples; done += scorer.maxBatch()) {
            int n = Math.min(scorer.maxBatch(), samples - done);
            Sample[] batch = new Sample[n];
            int[][] tokens = new int[n][], rows = new int[n][];
            for (int b = 0; b < n; b++) {
                batch[b] = task.generate(length, depth, rng);
                tokens[b] = batch[b].tokens();
                rows[b] = batch[b].answerPositions().clone();
                for (int i = 0; i < rows[b].length; i++) rows[b][i]--;
            }
            float[][][] logits = scorer.logits(tokens, rows);
            for (int b = 0; b < n; b++) {
                boolean all = true;
                int[] answers = batch[b].answerPositions();
                for (int i = 0; i < answers.length; i++) {
                    boolean right = argmax(logits[b][i]) == tokens[b][answers[i]];
                    all &= right;
                    answerTokens++;
                    if (right) tokensCorrect++;
                }
                if (all) correct++;
                if (probe != null && needleSelected(batch[b], probe, b)) hits++;
            }
        }
        return new Cell(task.name(), length, depth, seed, samples, correct, answerTokens, tokensCorrect, probe == null ? -1 : hits,
                (System.nanoTime() - t0) / 1e9, scorer.peakDeviceBytes());
    }

    /** Is a chunk holding the needle's copy of the first answer token selected where that token is predicted? */
    private static boolean needleSelected(Sample s, ChunkSelectionProbe probe, int b) {
        int[] tokens = s.tokens();
        int first = s.answerPositions()[0];
        int[] selected = probe.selectedChunks(b, first - 1);
        for (int p = Math.max(0, s.needleStart()); p < first && p < s.needleStart() + 64; p++) {
            if (tokens[p] != tokens[first]) continue;
            int chunk = p / probe.chunkSize();
            for (int c : selected) if (c == chunk) return true;
        }
        return false;
    }

    static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
