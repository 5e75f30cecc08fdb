package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

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
 * Bidirectional (non-causal) softmax attention inside independent segments of T tokens, with
 * grouped-query heads, forward and backward (source {@code kernels/segment_attn.cl}). It is the chunk
 * encoder's attention: each chunk of S tokens plus its CLS token is one segment of T = S + 1 tokens,
 * and every token sees every token of its own segment (flash-attn {@code causal=False} over a batch
 * of N = B·C short sequences).
 *
 * <p>Query head g reads KV head {@code g / (HQ/H)}; scores are {@code scale · q·k} (the caller
 * passes {@code 1/sqrt(D)} and applies RoPE beforehand).
 *
 * <p>Layouts (row-major): {@code q, o, d_o, dq: [N, T, HQ, D]}; {@code k, v, dk, dv: [N, T, H, D]};
 * {@code lse, delta: [N, T, HQ]}; {@code lse} is the natural-log log-sum-exp of each (token, query
 * head)'s scaled scores, saved by the forward for the backward.
 *
 * <p>Kernels (factories cached per head dimension D, a compile-time constant):
 * <ul>
 *   <li>{@link #forward(int)}: {@code q, k, v, o, lse, N, T, HQ, H, scale}</li>
 *   <li>{@link #backwardDelta(int)}: {@code o, d_o, delta, rows}, rows = N·T·HQ; {@code delta = rowsum(d_o ∘ o)}</li>
 *   <li>{@link #backwardDq(int)}: {@code q, k, v, d_o, lse, delta, dq, N, T, HQ, H, scale}</li>
 *   <li>{@link #backwardDkDv(int)}: {@code q, k, v, d_o, lse, delta, dk, dv, N, T, HQ, H, scale}</li>
 * </ul>
 * Backward outputs are overwritten. {@link #addForward} and {@link #addBackward} append whole passes.
 */
public final class SegmentAttention {
    private SegmentAttention() {}

    private static final String SOURCE = "kernels/segment_attn.cl";

    /** Largest head dimension compiled (the kernels keep 4·D floats per work-item in private memory). */
    public static final int MAX_HEAD_DIM = 256;
    /** Largest segment length: the chunk encoder's S + 1 with S at most 128. */
    public static final int MAX_SEGMENT = 129;

    /**
     * {@code rows}: work-group size (queries per group; keys in the dk/dv pass); {@code tile}: rows
     * of the streamed tile of the other side.
     */
    public record Tiles(int rows, int tile) {
        public Tiles {
            if (rows < 1 || tile < 1) throw new IllegalArgumentException("tile sizes must be positive, got " + rows + "x" + tile);
        }

        /**
         * 32 rows per work-group (segments are at most 129 long, so larger groups would mostly idle);
         * a streamed tile of at most 1024 floats per operand (32 rows up to D = 32, 16 at D = 64, 8 at
         * D = 128), so the dk/dv pass, which holds four tiles, stays near 16 KiB of local memory.
         */
        public static Tiles defaultFor(int headDim) {
            return new Tiles(32, Math.max(4, Math.min(32, 1024 / headDim)));
        }
    }

    private enum Kind { FWD, DQ, DKDV }

    private record Key(Kind kind, int headDim, Tiles tiles) {}

    private static final Map<Key, KernelDef> CACHE = new ConcurrentHashMap<>();

    public static KernelDef forward(int headDim) { return forward(headDim, Tiles.defaultFor(headDim)); }

    /** {@code delta = rowsum(d_o ∘ o)}: the same row-wise kernel as sliding-window attention's, shared. */
    public static KernelDef backwardDelta(int headDim) { return SlidingWindowAttention.backwardDelta(headDim); }

    public static KernelDef backwardDq(int headDim) { return backwardDq(headDim, Tiles.defaultFor(headDim)); }

    public static KernelDef backwardDkDv(int headDim) { return backwardDkDv(headDim, Tiles.defaultFor(headDim)); }

    /** As {@link #forward(int)} with explicit tiles (tests use small ones to cross many tile edges). */
    public static KernelDef forward(int headDim, Tiles tiles) { return get(Kind.FWD, headDim, tiles); }

    public static KernelDef backwardDq(int headDim, Tiles tiles) { return get(Kind.DQ, headDim, tiles); }

    public static KernelDef backwardDkDv(int headDim, Tiles tiles) { return get(Kind.DKDV, headDim, tiles); }

    private static KernelDef get(Kind kind, int headDim, Tiles tiles) {
        if (headDim < 1 || headDim > MAX_HEAD_DIM) throw new IllegalArgumentException("head dimension must be in [1, " + MAX_HEAD_DIM + "], got " + headDim);
        return CACHE.computeIfAbsent(new Key(kind, headDim, tiles), SegmentAttention::build);
    }

    private static KernelDef build(Key key) {
        int dim = key.headDim();
        Tiles t = key.tiles();
        KernelDef.Builder b = switch (key.kind()) {
            case FWD -> KernelDef.builder("seg_attn_fwd", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).out("o", F32).out("lse", F32)
                    .java(a -> SegJava.forward(a, dim))
                    .grid(a -> rowGrid(a, t, "HQ"))
                    .check(a -> checkShapes(a, dim, "o", "lse"));
            case DQ -> KernelDef.builder("seg_attn_bwd_dq", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).in("d_o", F32).in("lse", F32).in("delta", F32).out("dq", F32)
                    .java(a -> SegJava.dq(a, dim))
                    .grid(a -> rowGrid(a, t, "HQ"))
                    .check(a -> checkShapes(a, dim, "d_o", "lse", "delta", "dq"));
            case DKDV -> KernelDef.builder("seg_attn_bwd_dkdv", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).in("d_o", F32).in("lse", F32).in("delta", F32).out("dk", F32).out("dv", F32)
                    .java(a -> SegJava.dkdv(a, dim))
                    .grid(a -> rowGrid(a, t, "H"))
                    .check(a -> checkShapes(a, dim, "d_o", "lse", "delta", "dk", "dv"));
        };
        b.intArg("N").intArg("T").intArg("HQ").intArg("H").floatArg("scale");
        return b.define("HEAD_DIM", dim).define("SEG_BQ", t.rows()).define("SEG_BK", t.tile()).build();
    }

    /** One work-group per (block of rows of a segment, segment × head), heads counted by {@code heads}. */
    private static WorkerGrid rowGrid(KernelArgs a, Tiles t, String heads) {
        return WorkerGrid.of2D(Math.max(1, a.i("T")), Math.max(1, (long) a.i("N") * a.i(heads)), t.rows(), 1);
    }

    private static void checkShapes(KernelArgs a, int dim, String... more) {
        Checks.positive(a, "N", true);
        Checks.positive(a, "T", false);
        Checks.positive(a, "HQ", false);
        Checks.positive(a, "H", false);
        int hq = a.i("HQ"), h = a.i("H");
        if (a.i("T") > MAX_SEGMENT) throw new IllegalArgumentException("argument 'T' must be at most " + MAX_SEGMENT + " (S + 1 for chunks of at most 128), got " + a.i("T"));
        if (hq % h != 0) throw new IllegalArgumentException("argument 'HQ' (" + hq + ") must be a multiple of argument 'H' (" + h + ")");
        long tokens = (long) a.i("N") * a.i("T");
        Checks.exactly(a, "q", tokens * hq * dim);
        Checks.exactly(a, "k", tokens * h * dim);
        Checks.exactly(a, "v", tokens * h * dim);
        for (String name : more) {
            switch (name) {
                case "o", "d_o", "dq" -> Checks.exactly(a, name, tokens * hq * dim);
                case "dk", "dv" -> Checks.exactly(a, name, tokens * h * dim);
                case "lse", "delta" -> Checks.exactly(a, name, tokens * hq);
                default -> throw new AssertionError(name);
            }
        }
    }

    // ------------------------------------------------------------------ task-graph helpers

    /** The shape of one call: N segments of T tokens, HQ query heads over H KV heads of size D. */
    public record Shape(int segments, int length, int queryHeads, int kvHeads, int headDim) {
        public Shape {
            if (segments < 1 || length < 1 || headDim < 1) throw new IllegalArgumentException("segments, length and head dimension must be positive, got " + segments + ", " + length + ", " + headDim);
            if (kvHeads < 1 || queryHeads % kvHeads != 0) throw new IllegalArgumentException("query heads " + queryHeads + " must be a positive multiple of KV heads " + kvHeads);
        }

        public float scale() { return (float) (1.0 / Math.sqrt(headDim)); }

        /** Rows of {@code lse}/{@code delta}: N·T·HQ. */
        public int rows() { return segments * length * queryHeads; }
    }

    /** Appends {@code o, lse ← attention(q, k, v)} as task {@code prefix + "fwd"}. */
    public static TaskGraph addForward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse) {
        return g.task(prefix + "fwd", forward(s.headDim()), q, k, v, o, lse, s.segments(), s.length(), s.queryHeads(), s.kvHeads(), s.scale());
    }

    /**
     * Appends the backward pass (tasks {@code prefix + "delta"/"dq"/"dkdv"}): {@code delta = rowsum(d_o ∘ o)}
     * (scratch {@code [N, T, HQ]}), then dq, then dk and dv, all overwritten.
     */
    public static TaskGraph addBackward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
                                        Tensor dO, Tensor delta, Tensor dq, Tensor dk, Tensor dv) {
        int dim = s.headDim();
        int n = s.segments(), t = s.length(), hq = s.queryHeads(), h = s.kvHeads();
        float scale = s.scale();
        return g.task(prefix + "delta", backwardDelta(dim), o, dO, delta, s.rows())
                .task(prefix + "dq", backwardDq(dim), q, k, v, dO, lse, delta, dq, n, t, hq, h, scale)
                .task(prefix + "dkdv", backwardDkDv(dim), q, k, v, dO, lse, delta, dk, dv, n, t, hq, h, scale);
    }

    /** The Java twins: the obvious loops, the test oracle. */
    static final class SegJava {
        private SegJava() {}

        static void forward(KernelArgs a, int dim) {
            float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), o = a.f32("o"), lse = a.f32("lse");
            int qo = a.off("q"), ko = a.off("k"), vo = a.off("v"), oo = a.off("o"), lo = a.off("lse");
            int len = a.i("T"), hq = a.i("HQ"), h = a.i("H"), group = hq / h;
            float scale = a.f("scale");
            Parallel.forEach(a.i("N") * len, nt -> {
                int n = nt / len;
                float[] p = new float[len];
                for (int g = 0; g < hq; g++) {
                    int qi = qo + (nt * hq + g) * dim, kh = g / group;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        int ki = ko + ((n * len + j) * h + kh) * dim;
                        float dot = 0;
                        for (int d = 0; d < dim; d++) dot += q[qi + d] * k[ki + d];
                        p[j] = dot * scale;
                        max = Math.max(max, p[j]);
                    }
                    float sum = 0;
                    for (int j = 0; j < len; j++) sum += p[j] = (float) Math.exp(p[j] - max);
                    int oi = oo + (nt * hq + g) * dim;
                    for (int d = 0; d < dim; d++) o[oi + d] = 0;
                    for (int j = 0; j < len; j++) {
                        int vi = vo + ((n * len + j) * h + kh) * dim;
                        for (int d = 0; d < dim; d++) o[oi + d] += p[j] / sum * v[vi + d];
                    }
                    lse[lo + nt * hq + g] = max + (float) Math.log(sum);
                }
            });
        }

        /** P_tj and dS_tj = P_tj (dO_t·v_j − delta_t) of one (segment, token, query head) over every key j. */
        private static void probabilities(KernelArgs a, int dim, int n, int t, int g, float[] p, float[] ds) {
            float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), dO = a.f32("d_o"), lse = a.f32("lse"), delta = a.f32("delta");
            int qo = a.off("q"), ko = a.off("k"), vo = a.off("v"), go = a.off("d_o");
            int len = a.i("T"), hq = a.i("HQ"), h = a.i("H"), kh = g / (hq / h);
            float scale = a.f("scale");
            int row = (n * len + t) * hq + g, qi = row * dim;
            float lseT = lse[a.off("lse") + row], deltaT = delta[a.off("delta") + row];
            for (int j = 0; j < len; j++) {
                int kv = ((n * len + j) * h + kh) * dim;
                float s = 0, dp = 0;
                for (int d = 0; d < dim; d++) {
                    s += q[qo + qi + d] * k[ko + kv + d];
                    dp += dO[go + qi + d] * v[vo + kv + d];
                }
                p[j] = (float) Math.exp(s * scale - lseT);
                ds[j] = p[j] * (dp - deltaT);
            }
        }

        static void dq(KernelArgs a, int dim) {
            float[] k = a.f32("k"), dq = a.f32("dq");
            int ko = a.off("k"), dqo = a.off("dq");
            int len = a.i("T"), hq = a.i("HQ"), h = a.i("H");
            float scale = a.f("scale");
            Parallel.forEach(a.i("N") * len, nt -> {
                int n = nt / len, t = nt % len;
                float[] p = new float[len], ds = new float[len];
                for (int g = 0; g < hq; g++) {
                    probabilities(a, dim, n, t, g, p, ds);
                    int kh = g / (hq / h), qi = dqo + (nt * hq + g) * dim;
                    for (int d = 0; d < dim; d++) {
                        float acc = 0;
                        for (int j = 0; j < len; j++) acc += ds[j] * k[ko + ((n * len + j) * h + kh) * dim + d];
                        dq[qi + d] = acc * scale;
                    }
                }
            });
        }

        static void dkdv(KernelArgs a, int dim) {
            float[] q = a.f32("q"), dO = a.f32("d_o"), dk = a.f32("dk"), dv = a.f32("dv");
            int qo = a.off("q"), go = a.off("d_o"), dko = a.off("dk"), dvo = a.off("dv");
            int len = a.i("T"), hq = a.i("HQ"), h = a.i("H"), group = hq / h;
            float scale = a.f("scale");
            // One task per (segment, KV head): it owns dk/dv of that head's keys in the segment.
            Parallel.forEach(a.i("N") * h, nh -> {
                int n = nh / h, kh = nh % h;
                float[] accK = new float[len * dim], accV = new float[len * dim];
                float[] p = new float[len], ds = new float[len];
                for (int g = kh * group; g < (kh + 1) * group; g++) {
                    for (int t = 0; t < len; t++) {
                        probabilities(a, dim, n, t, g, p, ds);
                        int qi = ((n * len + t) * hq + g) * dim;
                        for (int j = 0; j < len; j++) {
                            for (int d = 0; d < dim; d++) {
                                accV[j * dim + d] += p[j] * dO[go + qi + d];
                                accK[j * dim + d] += ds[j] * q[qo + qi + d];
                            }
                        }
                    }
                }
                for (int j = 0; j < len; j++) {
                    int kv = ((n * len + j) * h + kh) * dim;
                    for (int d = 0; d < dim; d++) {
                        dk[dko + kv + d] = accK[j * dim + d] * scale;
                        dv[dvo + kv + d] = accV[j * dim + d];
                    }
                }
            });
        }
    }
}
