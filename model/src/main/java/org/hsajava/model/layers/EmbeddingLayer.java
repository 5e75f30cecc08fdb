package org.hsajava.model.layers;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Embedding;
import org.hsajava.model.config.ParameterLayout;

/**
 * Token embedding (docs/authors-model.md §3.0): {@code out[n, :] = embeddings[ids[n], :]}, no scaling.
 * {@code ids} int {@code [rows]}, {@code out [rows, D]}, the table {@code backbone.embeddings.weight [V, D]}.
 *
 * <p>The backward adds {@code dOut} rows into the table's gradient without atomics, through an
 * inverted index of the batch's ids (id → positions, {@link Embedding#invertIds}), which the host
 * builds from the ids it has just written: the owner calls {@link #indexIds()} after filling
 * {@code ids} for a step, and the backward graph uploads the index every execution.
 */
public final class EmbeddingLayer implements Layer {
    private final String name = "embeddings";
    private final int rows, d, vocab, padTokenId;
    private final Tensor ids, out, dOut, table, dTable;
    private final Tensor rowIds, offsets, positions;
    private final Scalar used;

    /**
     * @param ids  token ids, int {@code [rows]}; its host copy is what {@link #indexIds()} reads
     * @param out  embedded tokens {@code [rows, D]}, overwritten
     * @param dOut gradient of out
     */
    public EmbeddingLayer(LayerContext ctx, Tensor ids, Tensor out, Tensor dOut) {
        this.rows = ctx.rows();
        this.d = ctx.config().hiddenSize();
        this.vocab = ctx.config().vocabSize();
        this.padTokenId = ctx.config().padTokenId();
        SwaAttention.requireSize(name, "ids", ids, rows);
        SwaAttention.requireSize(name, "out", out, rows * d);
        SwaAttention.requireSize(name, "dOut", dOut, rows * d);
        this.ids = ids;
        this.out = out;
        this.dOut = dOut;
        this.table = ctx.params().param(ParameterLayout.EMBEDDINGS);
        this.dTable = ctx.params().grad(ParameterLayout.EMBEDDINGS);
        // Sized for the worst batch (every id distinct); `used` says how much of it a batch fills.
        this.rowIds = Tensor.i32(name + ".rowIds", Math.min(rows, vocab));
        this.offsets = Tensor.i32(name + ".offsets", rows + 1);
        this.positions = Tensor.i32(name + ".positions", rows);
        this.used = Scalar.of(name + ".used", 0);
    }

    /**
     * Call after writing new ids into the host copy of {@code ids}: replaces negative ids by
     * {@code pad_token_id} in place (the authors' {@code where(input_ids < 0, pad, ids)}), checks
     * the rest against the vocabulary (an error names the position) and fills the inverted index
     * that the next backward uploads.
     */
    public void indexIds() {
        int[] host = ids.i32();
        int off = ids.rootOffset();
        for (int i = 0; i < rows; i++) if (host[off + i] < 0) host[off + i] = padTokenId;
        Embedding.InvertedIds inv = Embedding.invertIds(java.util.Arrays.copyOfRange(host, off, off + rows), vocab);
        System.arraycopy(inv.rowIds(), 0, rowIds.i32(), rowIds.rootOffset(), inv.used());
        System.arraycopy(inv.offsets(), 0, offsets.i32(), offsets.rootOffset(), inv.used() + 1);
        System.arraycopy(inv.positions(), 0, positions.i32(), positions.rootOffset(), rows);
        used.set(inv.used());
    }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        g.task(name + ".fwd", Embedding.FORWARD, ids, table, out, rows, d, vocab);
    }

    @Override
    public void backward(TaskGraph g) {
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, rowIds, offsets, positions);
        g.task(name + ".bwd", Embedding.BACKWARD, dOut, rowIds, offsets, positions, dTable, used, rows, d, vocab);
    }
}
