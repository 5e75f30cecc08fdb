package org.hsajava.eval;

import java.util.Arrays;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.layers.ChunkSelection;
import org.hsajava.model.layers.RetrievalLayer;

/**
 * The whole sequence through {@link DrtModel}'s eval graph, {@code batch} sequences of exactly
 * {@code length} tokens per pass. Only the logits rows asked for come back from the device (the
 * whole {@code [batch·length, vocab]} block is large at long contexts). Memory grows with the
 * length: long contexts are the streaming scorer's.
 */
public final class FullForwardScorer implements SequenceScorer, ChunkSelectionProbe {
    private static final String PARAMS_GRAPH = "params";
    private final DrtModel model;
    private final ExecutionPlan plan;
    private final ChunkSelection selection;
    private final int chunkSize, receptiveField;
    private long peakBytes;
    private int[] selectedIndices;  // host copy of the last call's selection, fetched on first use
    private float[] selectedWeights;
    private boolean closed;

    /** Builds the model for {@code batch × length} on {@code device} and uploads {@code parameters} (the flat buffer). */
    public FullForwardScorer(ModelConfig config, float[] parameters, Device device, int batch, int length) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(config));
        p.all().set(parameters);
        this.model = new DrtModel(config, p, device, batch, length);
        this.plan = new ExecutionPlan(paramsGraph(p), model.evalStep()).withDevice(device);
        try {
            plan.execute(PARAMS_GRAPH);
        } catch (RuntimeException | Error e) {
            plan.close();  // free what the upload allocated before passing the failure on
            throw e;
        }
        this.selection = model.layers().stream().filter(l -> l instanceof RetrievalLayer)
                .map(l -> ((RetrievalLayer) l).selection()).findFirst().orElse(null);
        this.chunkSize = config.hasHsa() ? config.hsa().chunkSize() : 0;
        this.receptiveField = ChunkSelectionProbe.receptiveField(config);
        this.peakBytes = plan.deviceBytes();
    }

    private static ImmutableTaskGraph paramsGraph(ModelParameters p) {
        return new TaskGraph(PARAMS_GRAPH).transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all()).snapshot();
    }

    /**
     * Device bytes a scorer of this shape will hold: the parameters plus every tensor of the eval
     * graph (activations, chunk memory, logits), counted without allocating anything.
     */
    public static long estimateDeviceBytes(ModelConfig config, Device device, int batch, int length) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(config));
        DrtModel m = new DrtModel(config, p, device, batch, length);
        long bytes = p.all().bytes();
        for (Tensor t : m.evalStep().tensors()) if (t != p.all()) bytes += t.bytes();
        return bytes;
    }

    /** The sequence length this scorer was built for. */
    public int length() { return model.length(); }

    @Override
    public int maxBatch() { return model.batch(); }

    @Override
    public float[][][] logits(int[][] tokens, int[][] rows) {
        if (closed) throw new IllegalStateException("scorer is closed");
        int batch = model.batch(), length = model.length();
        if (tokens.length == 0 || tokens.length > batch) throw new IllegalArgumentException("between 1 and " + batch + " sequences per call, got " + tokens.length);
        if (rows.length != tokens.length) throw new IllegalArgumentException(tokens.length + " sequences but " + rows.length + " row lists");
        int[] ids = new int[batch * length], targets = new int[batch * length];
        Arrays.fill(targets, -100);
        for (int b = 0; b < tokens.length; b++) {
            if (tokens[b].length != length) throw new IllegalArgumentException("sequence " + b + " has " + tokens[b].length + " tokens, this scorer takes " + length);
            for (int r : rows[b]) if (r < 0 || r >= length) throw new IllegalArgumentException("row " + r + " of sequence " + b + " is outside [0, " + length + ")");
            System.arraycopy(tokens[b], 0, ids, b * length, length);
        }
        model.inputIds().set(ids);
        model.targets().set(targets);
        model.prepareInputs();
        plan.execute(model.evalStep().name());
        selectedIndices = null;
        selectedWeights = null;
        peakBytes = Math.max(peakBytes, plan.deviceBytes());

        Tensor logits = model.logits();
        int vocab = logits.dim(1);
        for (int b = 0; b < tokens.length; b++) {
            if (rows[b].length == 0) continue;
            int first = b * length + Arrays.stream(rows[b]).min().orElseThrow();
            int last = b * length + Arrays.stream(rows[b]).max().orElseThrow();
            plan.transferToHost(logits.view("requestedLogits", first * vocab, (last - first + 1) * vocab));
        }
        float[] host = logits.f32();
        int off = logits.rootOffset();
        float[][][] out = new float[tokens.length][][];
        for (int b = 0; b < tokens.length; b++) {
            out[b] = new float[rows[b].length][];
            for (int i = 0; i < rows[b].length; i++) {
                int from = off + (b * length + rows[b][i]) * vocab;
                out[b][i] = Arrays.copyOfRange(host, from, from + vocab);
            }
        }
        return out;
    }

    @Override
    public long peakDeviceBytes() { return peakBytes; }

    @Override
    public boolean hasRetrieval() { return selection != null; }

    @Override
    public int chunkSize() { return chunkSize; }

    @Override
    public int receptiveField() { return receptiveField; }

    @Override
    public int[] selectedChunks(int sequence, int row) {
        if (selection == null) throw new IllegalStateException("this model has no retrieval layer");
        if (selectedIndices == null) {
            plan.transferToHost(selection.indices());
            selectedIndices = selection.indices().i32();
        }
        Tensor idx = selection.indices();
        int heads = idx.dim(2), slots = selection.slots();
        int base = idx.rootOffset() + ((sequence * model.length() + row) * heads) * slots;
        int n = Math.min(slots, row / chunkSize);
        return Arrays.copyOfRange(selectedIndices, base, base + n);
    }

    @Override
    public float[] selectedWeights(int sequence, int row) {
        if (selection == null) throw new IllegalStateException("this model has no retrieval layer");
        if (selectedWeights == null) {
            plan.transferToHost(selection.weights());
            selectedWeights = selection.weights().f32();
        }
        Tensor w = selection.weights();
        int heads = w.dim(2), slots = selection.slots();
        int base = w.rootOffset() + ((sequence * model.length() + row) * heads) * slots;
        int n = Math.min(slots, row / chunkSize);
        return Arrays.copyOfRange(selectedWeights, base, base + n);
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        plan.close();
        model.close();
    }
}
