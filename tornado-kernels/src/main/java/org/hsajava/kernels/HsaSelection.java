package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * HSA chunk selection (DESIGN.md section 2; source {@code kernels/hsa_select.cl}): streaming top-K
 * retrieval of past chunks by landmark score, the chunk weights (softmax or stick-breaking) with
 * their backward, and the backward of the scores to the queries and landmarks.
 *
 * <p>Geometry, shared by every kernel here as the trailing int arguments {@code B, L, H, C, S, t0}:
 * {@code q_r [B, L, H, dr]}, {@code landmarks [B, C, H, dr]}, and {@code indices}, {@code scores},
 * {@code weights} (and their gradients) {@code [B, L, H, K]}. Row i of q_r is the token at position
 * {@code t = t0 + i}; chunk c is eligible for it iff {@code (c+1)·S <= t}, so it sees
 * {@link #eligible e(t) = min(C, t/S)} chunks and slot k is valid iff {@code k < min(K, e(t))}.
 * Training passes {@code t0 = 0, C = L/S}; streaming evaluation selects for the last few positions of
 * a long context with {@code t0 > 0}. Invalid slots hold index 0, score 0, weight 0, gradient 0.
 * {@code t0} enters only this eligibility rule, so a model that wants chunks to lie further behind
 * (the authors' {@code mask_slide_window}: {@code c·S <= t − W}) passes {@code t0 − lag}, which may
 * be negative; positions below S then see no chunk.
 *
 * <p>Ranking: higher score first; on <b>equal scores the more recent chunk (larger index) wins</b>; a
 * NaN score ranks lowest but still fills a slot (so the NaN reaches the weights). The kept slots
 * are then ordered most recent first. Scores are {@code fl(fl(Σ_d q·l) · scale)} with a sequential
 * float sum and {@code scale = (float) (1/√dr)}, identical on both backends (the OpenCL source
 * disables FMA contraction), so the two backends select the same chunks even on near-ties.
 */
public final class HsaSelection {
    private HsaSelection() {}

    /** How the selected scores become chunk weights. */
    public enum WeightMode {
        /** Softmax over the valid slots (all zero when there is none). */
        SOFTMAX,
        /** {@code w_k = exp(s_k − Σ_{j≤k} softplus(s_j))} over the valid slots, most recent first; may sum below 1. */
        STICK;

        int define() { return this == SOFTMAX ? 0 : 1; }
    }

    /** Largest supported top-K (private-memory arrays in the kernel). */
    public static final int MAX_K = 16;
    /** Retrieval dims the kernels are built for. */
    public static final int[] SUPPORTED_DR = {16, 32, 48, 64, 128};
    /** Rows per work-group of the top-K kernel (they share each landmark tile). */
    static final int QUERY_BLOCK = 64;

    private static final String SRC = "kernels/hsa_select.cl";
    private static final Map<String, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** Chunks wholly in the past of position t: {@code min(C, floor(t/S))}, 0 for negative t. */
    public static int eligible(int t, int S, int C) { return t < 0 ? 0 : Math.min(C, t / S); }

    /** Number of valid slots at position t. */
    public static int validSlots(int t, int S, int C, int K) { return Math.min(K, eligible(t, S, C)); }

    /** The score scale {@code 1/√dr} as the float both backends use. */
    public static float scale(int dr) { return (float) (1.0 / Math.sqrt(dr)); }

    // ------------------------------------------------------------------ kernels

    /**
     * Streaming top-K. Arguments: {@code q_r [B,L,H,dr], landmarks [B,C,H,dr], indices (out, int [B,L,H,K]),
     * scores (out, [B,L,H,K]), B, L, H, C, S, t0}. Writes the selected chunk indices (most recent
     * first) and their raw scores. Memory is O(L·K): no L×C score matrix exists.
     */
    public static KernelDef topK(int dr, int k) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("topk/" + dr + "/" + k, key -> withGeometry(KernelDef.builder("hsa_select_topk", SRC)
                .in("q_r", F32).in("landmarks", F32).out("indices", I32).out("scores", F32))
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr))
                .define("HSA_QB", QUERY_BLOCK).define("HSA_LT", 32)
                .check(a -> {
                    checkGeometry(a);
                    Checks.exactly(a, "q_r", rows(a) * dr);
                    Checks.exactly(a, "landmarks", (long) a.i("B") * a.i("C") * a.i("H") * dr);
                    Checks.exactly(a, "indices", rows(a) * k);
                    Checks.exactly(a, "scores", rows(a) * k);
                })
                .grid(a -> WorkerGrid.of2D(a.i("L"), (long) a.i("B") * a.i("H"), QUERY_BLOCK, 1))
                .java(a -> SelectionReference.topK(a, dr, k))
                .build());
    }

    /**
     * The whole selection forward in one launch: {@link #topK} and {@link #weights} fused. Arguments:
     * {@code q_r, landmarks, indices (out), scores (out), weights (out), B, L, H, C, S, t0}; the same
     * results as the two kernels.
     */
    public static KernelDef topKWeights(int dr, int k, WeightMode mode) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("topkw/" + dr + "/" + k + "/" + mode, key -> withGeometry(KernelDef.builder("hsa_select_topk_weights", SRC)
                .in("q_r", F32).in("landmarks", F32).out("indices", I32).out("scores", F32).out("weights", F32))
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr)).define("HSA_MODE", mode.define())
                .define("HSA_QB", QUERY_BLOCK).define("HSA_LT", 32)
                .check(a -> {
                    checkGeometry(a);
                    Checks.exactly(a, "q_r", rows(a) * dr);
                    Checks.exactly(a, "landmarks", (long) a.i("B") * a.i("C") * a.i("H") * dr);
                    for (String t : new String[] {"indices", "scores", "weights"}) Checks.exactly(a, t, rows(a) * k);
                })
                .grid(a -> WorkerGrid.of2D(a.i("L"), (long) a.i("B") * a.i("H"), QUERY_BLOCK, 1))
                .java(a -> {
                    SelectionReference.topK(a, dr, k);
                    SelectionReference.weights(a, mode, k);
                })
                .build());
    }

    /**
     * Top-K over slices of the chunks, for few queries against very many chunks (streaming evaluation).
     * Arguments: {@code q_r, landmarks, partIdx (out, int [splits, B·L·H, K]), partScores (out), B, L, H, C, S, t0,
     * chunksPerSplit}; grid z = split. Partial lists are best-first with empty entries {@code (-1, -inf)}.
     * Use through {@link #addSplitTopKTasks}; {@link #topKMerge} turns them into {@link #topK}'s exact result.
     */
    public static KernelDef topKSplit(int dr, int k) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("topks/" + dr + "/" + k, key -> withGeometry(KernelDef.builder("hsa_select_topk_split", SRC)
                .in("q_r", F32).in("landmarks", F32).out("partIdx", I32).out("partScores", F32))
                .intArg("chunksPerSplit")
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr))
                .define("HSA_QB", QUERY_BLOCK).define("HSA_LT", 32)
                .check(a -> {
                    checkGeometry(a);
                    Checks.positive(a, "chunksPerSplit", false);
                    Checks.exactly(a, "q_r", rows(a) * dr);
                    Checks.exactly(a, "landmarks", (long) a.i("B") * a.i("C") * a.i("H") * dr);
                    long parts = rows(a) * k * splits(a.i("C"), a.i("chunksPerSplit"));
                    Checks.atLeast(a, "partIdx", parts);
                    Checks.atLeast(a, "partScores", parts);
                })
                .grid(a -> WorkerGrid.of3D(a.i("L"), (long) a.i("B") * a.i("H"), splits(a.i("C"), a.i("chunksPerSplit")), QUERY_BLOCK, 1, 1))
                .java(a -> SelectionReference.topKSplit(a, dr, k))
                .build());
    }

    /**
     * Merges {@link #topKSplit}'s partial lists. Arguments: {@code partIdx, partScores ([splits, rows, K]), indices (out),
     * scores (out) ([rows, K]), rows, splits}. Same program as {@link #topKSplit} (same defines).
     */
    public static KernelDef topKMerge(int dr, int k) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("topkm/" + dr + "/" + k, key -> KernelDef.builder("hsa_select_topk_merge", SRC)
                .in("partIdx", I32).in("partScores", F32).out("indices", I32).out("scores", F32).intArg("rows").intArg("splits")
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr))
                .define("HSA_QB", QUERY_BLOCK).define("HSA_LT", 32)
                .check(a -> {
                    Checks.positive(a, "rows", false);
                    Checks.positive(a, "splits", false);
                    long parts = (long) a.i("rows") * a.i("splits") * k;
                    Checks.atLeast(a, "partIdx", parts);
                    Checks.atLeast(a, "partScores", parts);
                    Checks.exactly(a, "indices", (long) a.i("rows") * k);
                    Checks.exactly(a, "scores", (long) a.i("rows") * k);
                })
                .grid(a -> WorkerGrid.of1D(a.i("rows"), 64))
                .java(a -> SelectionReference.topKMerge(a, k))
                .build());
    }

    /**
     * Appends split top-K tasks (same result as one {@link #topK} task) to {@code g}: each work-group
     * scans at most {@code chunksPerSplit} chunks, so few queries against 2^18 chunks still fill a GPU.
     * Scratch {@code [splits, B·L·H, K]} tensors named after {@code prefix} live on the device only. Splits are
     * the third grid dimension: keep them at most 65535 (CUDA's limit, which NVIDIA's OpenCL inherits).
     */
    public static TaskGraph addSplitTopKTasks(TaskGraph g, String prefix, int dr, int k, Tensor q_r, Tensor landmarks, Tensor indices,
                                              Tensor scores, int B, int L, int H, int C, int S, int t0, int chunksPerSplit) {
        int splits = splits(C, chunksPerSplit);
        int parts = Math.multiplyExact(Math.multiplyExact(B * L * H, k), splits);
        Tensor partIdx = Tensor.i32(prefix + "PartIdx", parts), partScores = Tensor.f32(prefix + "PartScores", parts);
        g.task(prefix + "Split", topKSplit(dr, k), q_r, landmarks, partIdx, partScores, B, L, H, C, S, t0, chunksPerSplit);
        g.task(prefix + "Merge", topKMerge(dr, k), partIdx, partScores, indices, scores, B * L * H, splits);
        return g;
    }

    /** Number of slices of {@code chunksPerSplit} chunks covering C chunks (at least one). */
    public static int splits(int C, int chunksPerSplit) { return Math.max(1, (C + chunksPerSplit - 1) / chunksPerSplit); }

    /** Chunk weights. Arguments: {@code scores, weights (out), B, L, H, C, S, t0}, both {@code [B,L,H,K]}. */
    public static KernelDef weights(WeightMode mode, int k) {
        checkK(k);
        return CACHE.computeIfAbsent("w/" + mode + "/" + k, key -> withGeometry(KernelDef.builder("hsa_select_weights", SRC)
                .in("scores", F32).out("weights", F32))
                .define("HSA_K", k).define("HSA_MODE", mode.define())
                .check(a -> {
                    checkGeometry(a);
                    Checks.exactly(a, "scores", rows(a) * k);
                    Checks.exactly(a, "weights", rows(a) * k);
                })
                .grid(a -> WorkerGrid.of1D(rows(a), 64))
                .java(a -> SelectionReference.weights(a, mode, k))
                .build());
    }

    /**
     * Backward of {@link #weights}. Arguments: {@code scores, weights, dweights, dscores (out), B, L, H, C, S, t0},
     * all {@code [B,L,H,K]}; {@code weights} are the forward's output.
     */
    public static KernelDef weightsBackward(WeightMode mode, int k) {
        checkK(k);
        return CACHE.computeIfAbsent("wb/" + mode + "/" + k, key -> withGeometry(KernelDef.builder("hsa_select_weights_bwd", SRC)
                .in("scores", F32).in("weights", F32).in("dweights", F32).out("dscores", F32))
                .define("HSA_K", k).define("HSA_MODE", mode.define())
                .check(a -> {
                    checkGeometry(a);
                    for (String t : new String[] {"scores", "weights", "dweights", "dscores"}) Checks.exactly(a, t, rows(a) * k);
                })
                .grid(a -> WorkerGrid.of1D(rows(a), 64))
                .java(a -> SelectionReference.weightsBackward(a, mode, k))
                .build());
    }

    /**
     * Backward of the scores to the queries: {@code dq_r[b,i,h,:] = scale · Σ_{valid k} dscores[b,i,h,k] · landmarks[b, indices[b,i,h,k], h, :]}.
     * Arguments: {@code dscores [B,L,H,K], indices, landmarks [B,C,H,dr], dq_r (out, [B,L,H,dr]), B, L, H, C, S, t0}.
     */
    public static KernelDef queryBackward(int dr, int k) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("dq/" + dr + "/" + k, key -> withGeometry(KernelDef.builder("hsa_select_dq", SRC)
                .in("dscores", F32).in("indices", I32).in("landmarks", F32).out("dq_r", F32))
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr))
                .check(a -> {
                    checkGeometry(a);
                    Checks.exactly(a, "dscores", rows(a) * k);
                    Checks.exactly(a, "indices", rows(a) * k);
                    Checks.exactly(a, "landmarks", (long) a.i("B") * a.i("C") * a.i("H") * dr);
                    Checks.exactly(a, "dq_r", rows(a) * dr);
                })
                .grid(a -> WorkerGrid.of1D(rows(a) * dr, 256))
                .java(a -> SelectionReference.queryBackward(a, dr, k))
                .build());
    }

    /**
     * Backward of the scores to the landmarks through the inverted index ({@link HsaCsr}):
     * {@code dlandmarks[b,c,h,:] = scale · Σ_{(t,k) that selected c} dscores[b,t,h,k] · q_r[b,t,h,:]}, summed in ascending
     * {@code t·K+k} order (deterministic, linear in L). Arguments: {@code dscores [B,L,H,K], q_r [B,L,H,dr],
     * chunkStart [B·H·(C+1)], entries [≥ used], dlandmarks (out, [B,C,H,dr]), B, L, H, C}.
     */
    public static KernelDef landmarkBackward(int dr, int k) {
        checkDr(dr);
        checkK(k);
        return CACHE.computeIfAbsent("dl/" + dr + "/" + k, key -> KernelDef.builder("hsa_select_dlandmark", SRC)
                .in("dscores", F32).in("q_r", F32).in("chunkStart", I32).in("entries", I32).out("dlandmarks", F32)
                .intArg("B").intArg("L").intArg("H").intArg("C")
                .define("HSA_DR", dr).define("HSA_K", k).define("HSA_SCALE", scaleLiteral(dr))
                .check(a -> {
                    Checks.positive(a, "B", false);
                    Checks.positive(a, "L", false);
                    Checks.positive(a, "H", false);
                    Checks.positive(a, "C", true);
                    long rows = (long) a.i("B") * a.i("L") * a.i("H");
                    long bh = (long) a.i("B") * a.i("H");
                    Checks.exactly(a, "dscores", rows * k);
                    Checks.exactly(a, "q_r", rows * dr);
                    Checks.exactly(a, "chunkStart", bh * (a.i("C") + 1));
                    Checks.exactly(a, "dlandmarks", bh * a.i("C") * dr);
                })
                .grid(a -> WorkerGrid.of1D(Math.max(1L, (long) a.i("B") * a.i("H") * a.i("C") * dr), 256))
                .java(a -> SelectionReference.landmarkBackward(a, dr, k))
                .build());
    }

    // ------------------------------------------------------------------ helpers

    private static KernelDef.Builder withGeometry(KernelDef.Builder b) {
        return b.intArg("B").intArg("L").intArg("H").intArg("C").intArg("S").intArg("t0");
    }

    static long rows(KernelArgs a) { return (long) a.i("B") * a.i("L") * a.i("H"); }

    private static void checkGeometry(KernelArgs a) {
        Checks.positive(a, "B", false);
        Checks.positive(a, "L", false);
        Checks.positive(a, "H", false);
        Checks.positive(a, "C", true);
        Checks.positive(a, "S", false);
        checkT0(a);
    }

    /** {@code t0} may be negative (an eligibility lag) but {@code t0 + L} must be an int position. */
    static void checkT0(KernelArgs a) {
        long t0 = a.i("t0");
        if (t0 + a.i("L") > Integer.MAX_VALUE || t0 <= Integer.MIN_VALUE / 2) {
            throw new IllegalArgumentException("argument 't0' = " + t0 + " with L = " + a.i("L") + " is outside the int positions");
        }
    }

    private static void checkK(int k) {
        if (k < 1 || k > MAX_K) throw new IllegalArgumentException("top-K must be in [1, " + MAX_K + "], got " + k);
    }

    private static void checkDr(int dr) {
        for (int s : SUPPORTED_DR) if (s == dr) return;
        throw new IllegalArgumentException("retrieval dim dr=" + dr + " is not one of " + java.util.Arrays.toString(SUPPORTED_DR));
    }

    /** The scale as an exact OpenCL C hex float literal, e.g. {@code 0x1.6a09e6p-3f}. */
    private static String scaleLiteral(int dr) { return Float.toHexString(scale(dr)) + "f"; }

    /** Runs {@code body(row)} for every row {@code (b·L + i)·H + h} in parallel. */
    static void forRows(long rows, java.util.function.IntConsumer body) {
        Parallel.forRange((int) rows, 256, (lo, hi) -> {
            for (int r = lo; r < hi; r++) body.accept(r);
        });
    }
}
