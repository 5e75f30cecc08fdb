package org.hsajava.eval;

import java.util.LinkedHashMap;
import java.util.Map;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.layers.ChunkSelection;
import org.hsajava.model.layers.Layer;
import org.hsajava.model.layers.RetrievalLayer;

/**
 * A model's full-forward outputs on given token sequences: the logits of every position, the
 * next-token cross-entropy of every position, and what each retrieval layer selected. This is what
 * the parity harness (interop/parity) compares with the authors' PyTorch model.
 *
 * <p>Loss convention (the authors' trainer, docs/authors-model.md §3.7): the logits row of position
 * {@code p} predicts token {@code p + 1}; the last position of a sequence has no target; the loss
 * is the mean over the {@code B·(L−1)} positions that have one.
 *
 * @param sequences   B
 * @param length      L
 * @param vocab       V
 * @param logits      {@code [B, L, V]} row-major
 * @param tokenLosses {@code [B, L]}: cross-entropy of each position (0 at the last one)
 * @param loss        mean of {@code tokenLosses} over the positions with a target (summed in double)
 * @param selections  per retrieval layer, by its layer name ({@code layers.3.retrieval}), in forward order
 */
public record TokenScores(int sequences, int length, int vocab, float[] logits, float[] tokenLosses, double loss,
                          Map<String, Selection> selections) {

    /**
     * One retrieval layer's choice for every token: {@code indices}/{@code weights} are
     * {@code [B, L, heads, slots]}, chunks most recent first, invalid slots index 0 with weight 0.
     */
    public record Selection(int heads, int slots, int[] indices, float[] weights) {}

    /**
     * Runs the model of {@code config} with {@code parameters} on {@code tokens} (B sequences of one
     * length), at most {@code maxBatch} sequences per forward pass. Token ids must lie in
     * {@code [0, vocab_size)}.
     */
    public static TokenScores compute(ModelConfig config, float[] parameters, Device device, int[][] tokens, int maxBatch) {
        if (tokens.length == 0) throw new IllegalArgumentException("input_ids: no sequences");
        if (maxBatch < 1) throw new IllegalArgumentException("--batch must be >= 1, got " + maxBatch);
        int sequences = tokens.length, length = tokens[0].length, vocab = config.vocabSize();
        if (length < 2) throw new IllegalArgumentException("input_ids: sequences need at least 2 tokens (one target), got " + length);
        for (int b = 0; b < sequences; b++) {
            if (tokens[b].length != length) throw new IllegalArgumentException("input_ids: sequence " + b + " has " + tokens[b].length + " tokens, sequence 0 has " + length);
            for (int p = 0; p < length; p++) {
                int id = tokens[b][p];
                if (id < 0 || id >= vocab) {
                    throw new IllegalArgumentException("input_ids: token " + id + " at [" + b + ", " + p + "] is outside the vocabulary [0, " + vocab + ")");
                }
            }
        }
        float[] logits = new float[Math.multiplyExact(Math.multiplyExact(sequences, length), vocab)];
        float[] tokenLosses = new float[sequences * length];
        Map<String, Selection> selections = new LinkedHashMap<>();
        int batch = Math.min(maxBatch, sequences);

        ModelParameters params = ModelParameters.of(ParameterLayout.of(config));
        params.all().set(parameters);
        try (DrtModel model = new DrtModel(config, params, device, batch, length);
             ExecutionPlan plan = new ExecutionPlan(new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, params.all()).snapshot(),
                     model.evalStep()).withDevice(device)) {
            plan.execute("params");
            for (int first = 0; first < sequences; first += batch) {
                int n = Math.min(batch, sequences - first);
                int[] ids = new int[batch * length], targets = new int[batch * length];
                java.util.Arrays.fill(targets, -100);
                for (int b = 0; b < n; b++) {
                    System.arraycopy(tokens[first + b], 0, ids, b * length, length);
                    System.arraycopy(tokens[first + b], 1, targets, b * length, length - 1);
                }
                model.inputIds().set(ids);
                model.targets().set(targets);
                model.prepareInputs();
                plan.execute(model.evalStep().name());
                copyRows(plan, model.logits(), first, n, length * vocab, logits);
                copyRows(plan, model.rowLosses(), first, n, length, tokenLosses);
                for (Layer l : model.layers()) {
                    if (l instanceof RetrievalLayer r) copySelection(plan, r, first, n, sequences, length, selections);
                }
            }
        }
        double sum = 0;
        for (float x : tokenLosses) sum += x;
        return new TokenScores(sequences, length, vocab, logits, tokenLosses, sum / ((double) sequences * (length - 1)), selections);
    }

    /** Downloads the first {@code n} sequences' rows of {@code t} (a [batch, rowSize] block) into {@code into} at sequence {@code first}. */
    private static void copyRows(ExecutionPlan plan, Tensor t, int first, int n, int rowSize, float[] into) {
        plan.transferToHost(t);
        System.arraycopy(t.f32(), t.rootOffset(), into, first * rowSize, n * rowSize);
    }

    private static void copySelection(ExecutionPlan plan, RetrievalLayer r, int first, int n, int sequences, int length, Map<String, Selection> into) {
        ChunkSelection sel = r.selection();
        plan.transferToHost(sel.indices());
        plan.transferToHost(sel.weights());
        int heads = sel.indices().dim(2), slots = sel.slots(), perSequence = length * heads * slots;
        Selection s = into.computeIfAbsent(r.name(), k -> new Selection(heads, slots, new int[sequences * perSequence], new float[sequences * perSequence]));
        System.arraycopy(sel.indices().i32(), sel.indices().rootOffset(), s.indices(), first * perSequence, n * perSequence);
        System.arraycopy(sel.weights().f32(), sel.weights().rootOffset(), s.weights(), first * perSequence, n * perSequence);
    }
}
