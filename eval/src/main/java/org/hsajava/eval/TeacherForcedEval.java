package org.hsajava.eval;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.Tensor;
import org.hsajava.model.DrtModel;
import org.hsajava.model.layers.ChunkSelection;
import org.hsajava.model.layers.RetrievalLayer;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SyntheticTask;

/**
 * Teacher-forced exact match (DESIGN.md §3): a sample counts only if the argmax of the logits at
 * every answer token is that token (the output at position p−1 predicts token p). Runs a task's
 * samples through the model's eval graph, one batch of the model's size at a time.
 */
public final class TeacherForcedEval {
    private TeacherForcedEval() {}

    /**
     * One cell of an evaluation grid. {@code retrievalHits} counts the samples whose needle chunk (a
     * chunk holding the first answer token's copy in the needle) is among the chunks the first
     * retrieval layer selects, for KV head 0, at the position that predicts the first answer token;
     * -1 when the model has no retrieval. It tells a retrieval failure from a copy failure.
     */
    public record Cell(String task, int length, double depth, int samples, int correct, int answerTokens, int tokensCorrect,
                       int retrievalHits, double seconds) {
        public double accuracy() { return samples == 0 ? 0 : (double) correct / samples; }

        /** Fraction of single answer tokens predicted right (partial credit; not the exact-match score). */
        public double tokenAccuracy() { return answerTokens == 0 ? 0 : (double) tokensCorrect / answerTokens; }

        public double retrievalHitRate() { return retrievalHits < 0 || samples == 0 ? Double.NaN : (double) retrievalHits / samples; }
    }

    /**
     * Evaluates {@code samples} samples of {@code task} with the needle at {@code depth}.
     * {@code plan} must hold the model's {@link DrtModel#evalStep()} graph with the parameters
     * already on the device.
     */
    public static Cell run(DrtModel model, ExecutionPlan plan, SyntheticTask task, double depth, int samples, long seed) {
        long t0 = System.nanoTime();
        int batch = model.batch(), length = model.length();
        SplittableRandom rng = new SplittableRandom(seed);
        int correct = 0, hits = 0, answerTokens = 0, tokensCorrect = 0;
        ChunkSelection selection = model.layers().stream().filter(l -> l instanceof RetrievalLayer)
                .map(l -> ((RetrievalLayer) l).selection()).findFirst().orElse(null);
        for (int done = 0; done < samples; done += batch) {
            int n = Math.min(batch, samples - done);
            Sample[] batchSamples = new Sample[n];
            int[] ids = new int[batch * length], targets = new int[batch * length];
            Arrays.fill(targets, -100);
            for (int b = 0; b < n; b++) {
                Sample s = task.generate(length, depth, rng);
                batchSamples[b] = s;
                System.arraycopy(s.tokens(), 0, ids, b * length, length);
                for (int p : s.answerPositions()) targets[b * length + p - 1] = s.tokens()[p];
            }
            model.inputIds().set(ids);
            model.targets().set(targets);
            model.prepareInputs();
            plan.execute(model.evalStep().name());
            Tensor logits = model.logits();
            int vocab = logits.dim(1), off = logits.rootOffset();
            for (int b = 0; b < n; b++) {
                // Only the rows that predict answer tokens come back (the whole [B·L, V] block is large at long contexts).
                int[] answers = batchSamples[b].answerPositions();
                int firstRow = b * length + answers[0] - 1, lastRow = b * length + answers[answers.length - 1] - 1;
                plan.transferToHost(logits.view("answerLogits", firstRow * vocab, (lastRow - firstRow + 1) * vocab));
            }
            float[] l = logits.f32();
            for (int b = 0; b < n; b++) {
                boolean all = true;
                for (int p : batchSamples[b].answerPositions()) {
                    boolean right = argmax(l, off + (b * length + p - 1) * vocab, vocab) == batchSamples[b].tokens()[p];
                    all &= right;
                    answerTokens++;
                    if (right) tokensCorrect++;
                }
                if (all) correct++;
            }
            if (selection != null) {
                plan.transferToHost(selection.indices());
                for (int b = 0; b < n; b++) if (needleSelected(batchSamples[b], selection, b, length, model.parameters().layout().config().hsa().chunkSize())) hits++;
            }
        }
        return new Cell(task.name(), length, depth, samples, correct, answerTokens, tokensCorrect, selection == null ? -1 : hits, (System.nanoTime() - t0) / 1e9);
    }

    /** Is a chunk holding the needle's copy of the first answer token selected where that token is predicted? */
    private static boolean needleSelected(Sample s, ChunkSelection sel, int b, int length, int chunkSize) {
        int[] tokens = s.tokens();
        int first = s.answerPositions()[0];
        int answerToken = tokens[first];
        int heads = sel.indices().dim(2), slots = sel.slots();
        int[] idx = sel.indices().i32();
        int base = sel.indices().rootOffset() + ((b * length + first - 1) * heads) * slots;
        for (int p = Math.max(0, s.needleStart()); p < first && p < s.needleStart() + 64; p++) {
            if (tokens[p] != answerToken) continue;
            int chunk = p / chunkSize;
            for (int k = 0; k < Math.min(slots, (first - 1) / chunkSize); k++) if (idx[base + k] == chunk) return true;
        }
        return false;
    }

    static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
        return best;
    }
}
