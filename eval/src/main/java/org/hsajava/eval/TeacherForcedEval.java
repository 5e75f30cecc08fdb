package org.hsajava.eval;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.Tensor;
import org.hsajava.model.DrtModel;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SyntheticTask;

/**
 * Teacher-forced exact match (DESIGN.md §3): a sample counts only if the argmax of the logits at
 * every answer token is that token (the output at position p−1 predicts token p). Runs a task's
 * samples through the model's eval graph, one batch of the model's size at a time.
 */
public final class TeacherForcedEval {
    private TeacherForcedEval() {}

    /** One cell of an evaluation grid. */
    public record Cell(String task, int length, double depth, int samples, int correct, double seconds) {
        public double accuracy() { return samples == 0 ? 0 : (double) correct / samples; }
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
        int correct = 0;
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
            plan.transferToHost(logits);
            float[] l = logits.f32();
            int vocab = logits.dim(1), off = logits.rootOffset();
            for (int b = 0; b < n; b++) {
                boolean all = true;
                for (int p : batchSamples[b].answerPositions()) {
                    all &= argmax(l, off + (b * length + p - 1) * vocab, vocab) == batchSamples[b].tokens()[p];
                }
                if (all) correct++;
            }
        }
        return new Cell(task.name(), length, depth, samples, correct, (System.nanoTime() - t0) / 1e9);
    }

    static int argmax(float[] a, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) if (a[from + i] > a[from + best]) best = i;
        return best;
    }
}
