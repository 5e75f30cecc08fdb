package org.hsajava.model.stream;

import java.util.Arrays;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.HsaSelection;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ChunkWeightMode;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.layers.EncoderLayer;
import org.hsajava.model.layers.LayerContext;
import org.hsajava.model.layers.Linear;

/**
 * The forward pass of a {@link org.hsajava.model.layers.RetrievalLayer} for rows at positions
 * {@code t0 .. t0+L-1} of one long sequence against a {@link ChunkMemory} (streaming evaluation,
 * decoding): the same math, with the memory's geometry instead of the rows' own.
 * <pre>
 *   qr      = ln(pre_norm(h))  (then lmk_q_norm per head with enable_lmk_norm)        [L, Hk, dr]
 *   indices = top-K' chunks c with (c+1)·S ≤ t by qr·landmark/√dr, most recent first    [L, Hk, K']
 *   weights = stick-breaking or softmax over the valid slots
 * </pre>
 * K' = min(chunk_topk, capacity); the valid slots, and so the result, are those of the training
 * layer at any length that holds the row. Top-K scans the memory in up to {@code maxSplits} slices
 * in parallel ({@link HsaSelection#topKSplit}), so a few rows against 2^18 chunks still fill a GPU;
 * its scratch is sized for {@code maxSplits} whatever the capacity, so it does not grow with the
 * context. The training layer's backward state (scores for dscores, the inverted index) is not kept.
 */
final class MemoryRetrieval {
    /** Fewest chunks one top-K slice scans (below that, a slice costs more than it saves). */
    static final int MIN_CHUNKS_PER_SPLIT = 256;

    private final String name;
    private final Device device;
    private final int L, D, Hk, dr, R, S, C, K, splits, chunksPerSplit;
    private final Object t0;
    private final HsaSelection.WeightMode mode;
    private final boolean lmkNorm;
    private final Tensor h, landmarks, preNormW, lnW, qNormW;
    private final Tensor xn, rstdPre, qr, qrn, rstdQ, scores, indices, weights, partIdx, partScores;

    /**
     * @param ctx       batch 1, {@code length} = the rows L; its position scalar is t0, the position of row 0
     * @param h         the residual stream {@code [L, D]} (read only)
     * @param landmarks the memory's landmarks as this group sees them ({@link ChunkMemory#landmarksFor})
     * @param maxSplits most top-K slices (fixes the scratch size)
     */
    MemoryRetrieval(LayerContext ctx, int layerIndex, Tensor h, ChunkMemory memory, Tensor landmarks, int maxSplits) {
        HsaConfig hc = ctx.config().hsa();
        if (ctx.batch() != 1) throw new IllegalArgumentException("memory retrieval runs over one sequence, got batch " + ctx.batch());
        this.name = "layers." + layerIndex + ".retrieval";
        this.device = ctx.device();
        this.L = ctx.length();
        this.D = ctx.config().hiddenSize();
        this.Hk = hc.numKvHeads();
        this.R = hc.retrievalDim();
        this.dr = hc.retrievalHeadDim();
        this.S = hc.chunkSize();
        this.C = memory.capacity();
        this.t0 = ctx.retrievalPositionArgument();
        if (Arrays.stream(HsaSelection.SUPPORTED_DR).noneMatch(x -> x == dr)) {
            throw new ConfigException("retrieval_dim", "retrieval_dim / num_kv_heads = " + dr + " is not a retrieval head size the selection kernels support "
                    + Arrays.toString(HsaSelection.SUPPORTED_DR));
        }
        if (hc.chunkTopk() > HsaSelection.MAX_K) throw new ConfigException("chunk_topk", "must be at most " + HsaSelection.MAX_K + " (selection kernels), got " + hc.chunkTopk());
        this.K = Math.min(hc.chunkTopk(), C);
        this.mode = hc.weightMode() == ChunkWeightMode.SOFTMAX ? HsaSelection.WeightMode.SOFTMAX : HsaSelection.WeightMode.STICK;
        this.lmkNorm = hc.lmkNorm();
        this.splits = Math.max(1, Math.min(maxSplits, Math.ceilDiv(C, MIN_CHUNKS_PER_SPLIT)));
        this.chunksPerSplit = Math.ceilDiv(C, splits);
        this.h = h;
        this.landmarks = landmarks;

        ModelParameters p = ctx.params();
        String pre = "backbone.layers." + layerIndex + ".";
        this.preNormW = p.param(pre + "pre_norm.weight");
        this.lnW = p.param(pre + "ln.weight");
        this.qNormW = lmkNorm ? p.param(pre + "lmk_q_norm.weight") : null;
        this.xn = Tensor.f32(name + ".xn", L, D);
        this.rstdPre = Tensor.f32(name + ".rstdPre", L);
        this.qr = Tensor.f32(name + ".qr", 1, L, Hk, dr);
        this.qrn = lmkNorm ? Tensor.f32(name + ".qrNormed", 1, L, Hk, dr) : qr;
        this.rstdQ = lmkNorm ? Tensor.f32(name + ".rstdQ", L * Hk) : null;
        this.scores = Tensor.f32(name + ".scores", 1, L, Hk, K);
        this.indices = Tensor.i32(name + ".indices", 1, L, Hk, K);
        this.weights = Tensor.f32(name + ".weights", 1, L, Hk, K);
        int parts = Math.multiplyExact(Math.max(1, maxSplits), L * Hk * K);
        this.partIdx = Tensor.i32(name + ".partIdx", parts);
        this.partScores = Tensor.f32(name + ".partScores", parts);
    }

    /** Selected chunks {@code [1, L, Hk, K']}, most recent first; invalid slots 0. */
    Tensor indices() { return indices; }

    /** Their weights; invalid slots 0. */
    Tensor weights() { return weights; }

    /** K', the slots per row and KV head. */
    int slots() { return K; }

    void forward(TaskGraph g) {
        String n = name + ".";
        g.task(n + "preNorm", RmsNorm.FORWARD, h, preNormW, xn, rstdPre, L, D, EncoderLayer.EPS);
        Linear.forward(g, n + "ln", device, xn, lnW, null, qr, L, D, R);
        if (lmkNorm) g.task(n + "lmkQNorm", RmsNorm.FORWARD, qr, qNormW, qrn, rstdQ, L * Hk, dr, EncoderLayer.EPS);
        g.task(n + "topKSplit", HsaSelection.topKSplit(dr, K), qrn, landmarks, partIdx, partScores, 1, L, Hk, C, S, t0, chunksPerSplit);
        g.task(n + "topKMerge", HsaSelection.topKMerge(dr, K), partIdx, partScores, indices, scores, L * Hk, splits);
        g.task(n + "weights", HsaSelection.weights(mode, K), scores, weights, 1, L, Hk, C, S, t0);
    }
}
