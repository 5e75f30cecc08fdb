package org.hsajava.eval;

import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.hsajava.train.tasks.AnswerSpan;
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
     * One cell of an evaluation grid. The needle figures look, for every answer token whose copy in
     * the needle lies in a chunk wholly before the position that predicts it ({@code needleTokens} of
     * them), at the first retrieval layer's choice for KV head 0 at that position and at the chunks
     * that carry the copy: its own chunk and the later ones within the lower stack's receptive field,
     * whose memory entries are computed from lower-layer states that see it ({@link NeedleProbe}).
     * {@code needleSelected} counts the tokens where a carrier is among the selected chunks and
     * {@code needleWeight} sums the weight the carriers get there (0 when none is selected).
     * {@code needleTokens} is -1 when the scorer cannot tell ({@link ChunkSelectionProbe}). Together
     * they tell a retrieval failure (not selected) from a weighting failure (selected with a weight
     * near 0) from a copy failure (selected and weighted, the answer still wrong).
     */
    public record Cell(String task, int length, double depth, long seed, int samples, int correct, int answerTokens, int tokensCorrect,
                       int needleTokens, int needleSelected, double needleWeight, double seconds, long peakDeviceBytes) {
        public double accuracy() { return samples == 0 ? 0 : (double) correct / samples; }

        /** Fraction of single answer tokens predicted right (partial credit; not the exact-match score). */
        public double tokenAccuracy() { return answerTokens == 0 ? 0 : (double) tokensCorrect / answerTokens; }

        /** Fraction of the probed answer tokens whose needle chunk was selected; NaN when nothing was probed. */
        public double needleSelectedRate() { return needleTokens <= 0 ? Double.NaN : (double) needleSelected / needleTokens; }

        /** Mean weight the needle chunk got over the probed answer tokens; NaN when nothing was probed. */
        public double meanNeedleWeight() { return needleTokens <= 0 ? Double.NaN : needleWeight / needleTokens; }
    }

    /**
     * Evaluates {@code samples} samples of {@code task}, {@code length} tokens each, with the needle
     * at {@code depth}; the samples are drawn from {@code seed} alone, so every depth and length of a
     * seed uses the same keys and values.
     */
    public static Cell run(SequenceScorer scorer, SyntheticTask task, int length, double depth, int samples, long seed) {
        return run(scorer, task, length, depth, samples, seed, null);
    }

    /**
     * One answer token of one sample, for a trace of a cell: what was expected and predicted, where the
     * needle holds its copy (-1: no single copy) and, when the scorer can tell, the first retrieval
     * layer's chunks (KV head 0, most recent first) and weights at the predicting position (else null).
     */
    public record AnswerTrace(String task, int length, double depth, long seed, int sample, int token, int position,
                              int expected, int predicted, int copyPosition, int[] chunks, float[] weights) {}

    /** As {@link #run(SequenceScorer, SyntheticTask, int, double, int, long)}, handing every answer token to {@code trace} (may be null). */
    public static Cell run(SequenceScorer scorer, SyntheticTask task, int length, double depth, int samples, long seed,
                           Consumer<AnswerTrace> trace) {
        long t0 = System.nanoTime();
        SplittableRandom rng = new SplittableRandom(seed);
        ChunkSelectionProbe probe = ChunkSelectionProbe.of(scorer);
        int correct = 0, answerTokens = 0, tokensCorrect = 0;
        NeedleProbe needle = new NeedleProbe();
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
                int[] copies = trace != null || probe != null ? copyPositions(batch[b]) : null;   // one scan of the sample per answer span
                for (int i = 0; i < answers.length; i++) {
                    int predicted = argmax(logits[b][i]);
                    boolean right = predicted == tokens[b][answers[i]];
                    all &= right;
                    answerTokens++;
                    if (right) tokensCorrect++;
                    if (trace != null) {
                        int row = answers[i] - 1;
                        trace.accept(new AnswerTrace(task.name(), length, depth, seed, done + b, i, answers[i], tokens[b][answers[i]], predicted, copies[i],
                                probe == null ? null : probe.selectedChunks(b, row), probe == null ? null : probe.selectedWeights(b, row)));
                    }
                }
                if (all) correct++;
                if (probe != null) needle.add(answers, copies, probe, b);
            }
        }
        return new Cell(task.name(), length, depth, seed, samples, correct, answerTokens, tokensCorrect,
                probe == null ? -1 : needle.tokens, needle.selected, needle.weight, (System.nanoTime() - t0) / 1e9, scorer.peakDeviceBytes());
    }

    /**
     * Where the needle holds each answer token (in {@link Sample#answerPositions} order), -1 for the
     * tokens of an answer that has no single copy ({@link #needleCopy}).
     */
    static int[] copyPositions(Sample s) {
        int[] out = new int[s.answerPositions().length];
        int at = 0;
        for (AnswerSpan span : s.answers()) {
            int copy = needleCopy(s.tokens(), s.needleStart(), span);
            for (int i = 0; i < span.length(); i++) out[at++] = copy < 0 ? -1 : copy + i;
        }
        return out;
    }

    /**
     * Sums, over answer tokens, whether and how strongly the chunks that carry the token's needle copy
     * were chosen. The copy at position p is carried by chunk p / S and by every later chunk c with
     * c·S ≤ p + R (R = {@link ChunkSelectionProbe#receptiveField}): some token of c has p in its
     * lower-layer window, and the memory holds those tokens' lower-layer states. A model can read the
     * needle through any of them: the shipped tiny-passkey model puts ~95% of the weight on the chunk
     * after the digits' own and answers every digit right (docs/eval.md).
     */
    static final class NeedleProbe {
        int tokens, selected;
        double weight;

        /** {@code answers}: a sample's answer positions; {@code copies}: their needle copies ({@link #copyPositions}). */
        void add(int[] answers, int[] copies, ChunkSelectionProbe probe, int b) {
            int size = probe.chunkSize();
            for (int i = 0; i < answers.length; i++) {
                int row = answers[i] - 1, p = copies[i];
                if (p < 0) continue;
                int first = p / size;
                if ((first + 1) * size > row) continue;   // its own chunk not wholly in the past: the local window's business
                long last = (p + (long) probe.receptiveField()) / size;
                tokens++;
                int[] chunks = probe.selectedChunks(b, row);
                float[] weights = probe.selectedWeights(b, row);
                boolean hit = false;
                for (int k = 0; k < chunks.length; k++) {
                    if (chunks[k] < first || chunks[k] > last) continue;
                    hit = true;
                    weight += weights[k];
                }
                if (hit) selected++;
            }
        }
    }

    /**
     * Where the span's tokens occur, in order, in the sample between the primary needle's start and
     * the span (the needle's copy of the answer), or -1 (answers assembled from several needles,
     * such as variable tracking's list of names, have no single copy).
     */
    static int needleCopy(int[] tokens, int needleStart, AnswerSpan span) {
        if (needleStart < 0) return -1;
        for (int p = needleStart; p + span.length() <= span.start(); p++) {
            boolean match = true;
            for (int i = 0; i < span.length() && match; i++) match = tokens[p + i] == tokens[span.start() + i];
            if (match) return p;
        }
        return -1;
    }

    static int argmax(float[] row) {
        int best = 0;
        for (int i = 1; i < row.length; i++) if (row[i] > row[best]) best = i;
        return best;
    }
}
