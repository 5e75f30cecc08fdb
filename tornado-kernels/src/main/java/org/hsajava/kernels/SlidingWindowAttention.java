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
 * Causal sliding-window attention with grouped-query heads, forward and backward (source
 * {@code kernels/swa.cl}).
 *
 * <p>Key j is visible to query t iff {@code t - W <= j <= t} (W+1 keys; flash-attn's
 * {@code window_size=(W, 0)}); {@code W >= L} is full causal attention. Query head g reads KV head
 * {@code g / (HQ/H)}. Scores are {@code scale · q·k} (the caller passes {@code 1/sqrt(D)} and
 * applies RoPE beforehand).
 *
 * <p>Layouts (row-major): {@code q, o, d_o, dq: [B, L, HQ, D]}; {@code k, v, dk, dv: [B, L, H, D]};
 * {@code lse, delta: [B, L, HQ]}. {@code lse} is the natural-log log-sum-exp of the scaled scores
 * of each (token, query head), saved by the forward for the backward.
 *
 * <p>Kernels (each a factory cached per head dimension D, which is a compile-time constant):
 * <ul>
 *   <li>{@link #forward(int)}: {@code q, k, v, o, lse, B, L, HQ, H, W, scale}</li>
 *   <li>{@link #backwardDelta(int)}: {@code o, d_o, delta, rows} with rows = B·L·HQ;
 *       {@code delta = rowsum(d_o ∘ o)}</li>
 *   <li>{@link #backwardDq(int)}: {@code q, k, v, d_o, lse, delta, dq, B, L, HQ, H, W, scale}</li>
 *   <li>{@link #backwardDkDv(int)}: {@code q, k, v, d_o, lse, delta, dk, dv, B, L, HQ, H, W, scale}</li>
 * </ul>
 * {@link #addForward} and {@link #addBackward} append the whole pass to a task graph.
 *
 * <p>{@link #decode(int)}: one query per (batch, query head) against a ring-buffer cache of keys
 * and values, for decoding one token at a time: {@code q, kCache, vCache, o, scores, B, HQ, H, R, count, scale}
 * with {@code q, o [B, HQ, D]}, {@code kCache, vCache [B, R, H, D]} of which slots {@code 0 .. count-1}
 * hold keys (any order), {@code scores [B, HQ, R]} scratch.
 */
public final class SlidingWindowAttention {
    private SlidingWindowAttention() {}

    private static final String SOURCE = "kernels/swa.cl";

    /**
     * Tile sizes: {@code rows} = work-group size (queries per group, or keys in the dk/dv pass) and
     * {@code tile} = rows of the streamed key/value tile held in local memory by the forward and dq
     * passes; the dk/dv pass, which holds four tiles (q and dO, each row-major and transposed),
     * streams {@link #dkdvTile()} query rows.
     */
    public record Tiles(int rows, int tile) {
        public Tiles {
            if (rows < 1 || tile < 1) throw new IllegalArgumentException("tile sizes must be positive, got " + rows + "x" + tile);
        }

        public int dkdvTile() { return Math.max(1, tile / 2); }

        /**
         * 64 rows per work-group; a streamed tile of at most 2048 floats per operand, so 64 keys
         * at D≤32, 32 at D=64, 16 at D=128. Local memory then stays near 16 KiB (forward, dk/dv)
         * and 24 KiB (dq), inside the 32 KiB every OpenCL 1.2 device offers.
         */
        public static Tiles defaultFor(int headDim) {
            // tuning runs: properties hsa.swa.rows and hsa.swa.tile replace the two sizes
            return new Tiles(Integer.getInteger("hsa.swa.rows", 64), Integer.getInteger("hsa.swa.tile", Math.max(8, Math.min(64, 2048 / headDim))));
        }
    }

    private enum Kind { FWD, DELTA, DQ, DKDV, DECODE }

    /** Work-group size of {@link #decode(int)} (a power of two: its reductions are trees). */
    static final int DECODE_WG = 64;

    private record Key(Kind kind, int headDim, Tiles tiles) {}

    private static final Map<Key, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** Largest head dimension compiled (the kernels keep 4·D floats per work-item in private memory). */
    public static final int MAX_HEAD_DIM = 256;

    public static KernelDef forward(int headDim) { return forward(headDim, Tiles.defaultFor(headDim)); }

    public static KernelDef backwardDelta(int headDim) { return get(Kind.DELTA, headDim, Tiles.defaultFor(headDim)); }

    public static KernelDef backwardDq(int headDim) { return backwardDq(headDim, Tiles.defaultFor(headDim)); }

    public static KernelDef backwardDkDv(int headDim) { return backwardDkDv(headDim, Tiles.defaultFor(headDim)); }

    /** One query against a ring-buffer KV cache (decoding); see the class comment for its arguments. */
    public static KernelDef decode(int headDim) { return get(Kind.DECODE, headDim, Tiles.defaultFor(headDim)); }

    /** As {@link #forward(int)} with explicit tiles (tests use small ones to cross many tile edges). */
    public static KernelDef forward(int headDim, Tiles tiles) { return get(Kind.FWD, headDim, tiles); }

    public static KernelDef backwardDq(int headDim, Tiles tiles) { return get(Kind.DQ, headDim, tiles); }

    public static KernelDef backwardDkDv(int headDim, Tiles tiles) { return get(Kind.DKDV, headDim, tiles); }

    private static KernelDef get(Kind kind, int headDim, Tiles tiles) {
        if (headDim < 1 || headDim > MAX_HEAD_DIM) throw new IllegalArgumentException("head dimension must be in [1, " + MAX_HEAD_DIM + "], got " + headDim);
        return CACHE.computeIfAbsent(new Key(kind, headDim, tiles), SlidingWindowAttention::build);
    }

    private static KernelDef build(Key key) {
        int dim = key.headDim();
        Tiles t = key.tiles();
        KernelDef.Builder b = switch (key.kind()) {
            case FWD -> KernelDef.builder("swa_fwd", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).out("o", F32).out("lse", F32)
                    .java(a -> SwaJava.forward(a, dim))
                    .grid(a -> queryGrid(a, t))
                    .check(a -> checkShapes(a, dim, "o", "lse"));
            case DELTA -> KernelDef.builder("swa_bwd_delta", SOURCE)
                    .in("o", F32).in("d_o", F32).out("delta", F32).intArg("rows")
                    .java(a -> SwaJava.delta(a, dim))
                    .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("rows")), 64))
                    .check(a -> {
                        Checks.positive(a, "rows", true);
                        long rows = a.i("rows");
                        Checks.atLeast(a, "o", rows * dim);
                        Checks.atLeast(a, "d_o", rows * dim);
                        Checks.atLeast(a, "delta", rows);
                    });
            case DQ -> KernelDef.builder("swa_bwd_dq", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).in("d_o", F32).in("lse", F32).in("delta", F32).out("dq", F32)
                    .java(a -> SwaJava.dq(a, dim))
                    .grid(a -> queryGrid(a, t))
                    .check(a -> checkShapes(a, dim, "d_o", "lse", "delta", "dq"));
            case DKDV -> KernelDef.builder("swa_bwd_dkdv", SOURCE)
                    .in("q", F32).in("k", F32).in("v", F32).in("d_o", F32).in("lse", F32).in("delta", F32).out("dk", F32).out("dv", F32)
                    .java(a -> SwaJava.dkdv(a, dim))
                    .grid(a -> WorkerGrid.of2D(Math.max(1, a.i("L")), Math.max(1, a.i("B") * a.i("H")), t.rows(), 1))
                    .check(a -> checkShapes(a, dim, "d_o", "lse", "delta", "dk", "dv"));
            case DECODE -> KernelDef.builder("swa_decode", SOURCE)
                    .in("q", F32).in("kCache", F32).in("vCache", F32).out("o", F32).out("scores", F32)
                    .intArg("B").intArg("HQ").intArg("H").intArg("R").intArg("count").floatArg("scale")
                    .define("SWA_DEC_WG", DECODE_WG)
                    .java(a -> SwaJava.decode(a, dim))
                    .grid(a -> WorkerGrid.of1D((long) DECODE_WG * a.i("B") * a.i("HQ"), DECODE_WG))
                    .check(a -> checkDecode(a, dim));
        };
        if (key.kind() == Kind.DECODE) return b.define("HEAD_DIM", dim).build();
        if (key.kind() != Kind.DELTA) b.intArg("B").intArg("L").intArg("HQ").intArg("H").intArg("W").floatArg("scale");
        return b.define("HEAD_DIM", dim).define("SWA_BQ", t.rows()).define("SWA_BK", t.tile()).define("SWA_BK_DKDV", t.dkdvTile()).build();
    }

    /** One work-group per (block of queries, batch × query head). */
    private static WorkerGrid queryGrid(KernelArgs a, Tiles t) {
        return WorkerGrid.of2D(Math.max(1, a.i("L")), Math.max(1, a.i("B") * a.i("HQ")), t.rows(), 1);
    }

    /** Checks the scalars and that every named tensor has the size its layout needs. */
    private static void checkShapes(KernelArgs a, int dim, String... more) {
        for (String s : new String[] {"B", "L", "HQ", "H"}) Checks.positive(a, s, s.equals("B") || s.equals("L"));
        Checks.positive(a, "W", true);
        int hq = a.i("HQ"), h = a.i("H");
        if (hq % h != 0) throw new IllegalArgumentException("argument 'HQ' (" + hq + ") must be a multiple of argument 'H' (" + h + ")");
        long tokens = (long) a.i("B") * a.i("L");
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

    private static void checkDecode(KernelArgs a, int dim) {
        for (String s : new String[] {"B", "HQ", "H", "R", "count"}) Checks.positive(a, s, false);
        int hq = a.i("HQ"), h = a.i("H"), r = a.i("R"), count = a.i("count");
        if (hq % h != 0) throw new IllegalArgumentException("argument 'HQ' (" + hq + ") must be a multiple of argument 'H' (" + h + ")");
        if (count > r) throw new IllegalArgumentException("argument 'count' (" + count + ") exceeds the cache size 'R' (" + r + ")");
        long b = a.i("B");
        Checks.exactly(a, "q", b * hq * dim);
        Checks.exactly(a, "o", b * hq * dim);
        Checks.exactly(a, "kCache", b * r * h * dim);
        Checks.exactly(a, "vCache", b * r * h * dim);
        Checks.atLeast(a, "scores", b * hq * r);
    }

    // ------------------------------------------------------------------ task-graph helpers

    /** The shape of one attention call. */
    public record Shape(int batch, int length, int queryHeads, int kvHeads, int headDim, int window) {
        public Shape {
            if (kvHeads < 1 || queryHeads % kvHeads != 0) throw new IllegalArgumentException("query heads " + queryHeads + " must be a positive multiple of KV heads " + kvHeads);
            if (window < 0) throw new IllegalArgumentException("window must be >= 0, got " + window);
        }

        public float scale() { return (float) (1.0 / Math.sqrt(headDim)); }

        public int rows() { return batch * length * queryHeads; }
    }

    /** Appends the forward pass: {@code o, lse ← swa(q, k, v)}. */
    public static TaskGraph addForward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse) {
        return g.task(prefix + "fwd", forward(s.headDim()), q, k, v, o, lse,
                s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale());
    }

    /**
     * Appends the backward pass: {@code delta = rowsum(d_o ∘ o)}, then dq, then dk and dv.
     * {@code delta} is scratch of {@code [B, L, HQ]}.
     */
    public static TaskGraph addBackward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
                                        Tensor dO, Tensor delta, Tensor dq, Tensor dk, Tensor dv) {
        int dim = s.headDim();
        Object[] tail = {s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale()};
        g.task(prefix + "delta", backwardDelta(dim), o, dO, delta, s.rows());
        g.task(prefix + "dq", backwardDq(dim), concat(new Object[] {q, k, v, dO, lse, delta, dq}, tail));
        g.task(prefix + "dkdv", backwardDkDv(dim), concat(new Object[] {q, k, v, dO, lse, delta, dk, dv}, tail));
        return g;
    }

    private static Object[] concat(Object[] a, Object[] b) {
        Object[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    /** The Java twins of the OpenCL kernels: the obvious loops, used as the test oracle. */
    static final class SwaJava {
        private SwaJava() {}

        static void forward(KernelArgs a, int dim) {
            float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), o = a.f32("o"), lse = a.f32("lse");
            int qo = a.off("q"), ko = a.off("k"), vo = a.off("v"), oo = a.off("o"), lo = a.off("lse");
            int bs = a.i("B"), len = a.i("L"), hq = a.i("HQ"), h = a.i("H"), w = Math.min(a.i("W"), len);
            float scale = a.f("scale");
            int group = hq / h;
            Parallel.forEach(bs * len, bt -> {
                int b = bt / len, t = bt % len, jlo = Math.max(0, t - w);
                float[] s = new float[t - jlo + 1];
                for (int g = 0; g < hq; g++) {
                    int qi = qo + (bt * hq + g) * dim, kh = g / group;
                    float max = Float.NEGATIVE_INFINITY;
                    for (int j = jlo; j <= t; j++) {
                        int ki = ko + ((b * len + j) * h + kh) * dim;
                        float dot = 0;
                        for (int d = 0; d < dim; d++) dot += q[qi + d] * k[ki + d];
                        s[j - jlo] = dot * scale;
                        max = Math.max(max, s[j - jlo]);
                    }
                    float sum = 0;
                    for (int j = jlo; j <= t; j++) sum += s[j - jlo] = (float) Math.exp(s[j - jlo] - max);
                    int oi = oo + (bt * hq + g) * dim;
                    for (int d = 0; d < dim; d++) o[oi + d] = 0;
                    for (int j = jlo; j <= t; j++) {
                        int vi = vo + ((b * len + j) * h + kh) * dim;
                        float p = s[j - jlo] / sum;
                        for (int d = 0; d < dim; d++) o[oi + d] += p * v[vi + d];
                    }
                    lse[lo + bt * hq + g] = max + (float) Math.log(sum);
                }
            });
        }

        static void decode(KernelArgs a, int dim) {
            float[] q = a.f32("q"), k = a.f32("kCache"), v = a.f32("vCache"), o = a.f32("o");
            int qo = a.off("q"), ko = a.off("kCache"), vo = a.off("vCache"), oo = a.off("o");
            int hq = a.i("HQ"), h = a.i("H"), r = a.i("R"), count = a.i("count");
            float scale = a.f("scale");
            Parallel.forEach(a.i("B") * hq, bg -> {
                int b = bg / hq, kh = bg % hq / (hq / h);
                float[] p = new float[count];
                float max = Float.NEGATIVE_INFINITY;
                for (int j = 0; j < count; j++) {
                    int ki = ko + ((b * r + j) * h + kh) * dim;
                    float dot = 0;
                    for (int d = 0; d < dim; d++) dot += q[qo + bg * dim + d] * k[ki + d];
                    p[j] = dot * scale;
                    max = Math.max(max, p[j]);
                }
                float sum = 0;
                for (int j = 0; j < count; j++) sum += p[j] = (float) Math.exp(p[j] - max);
                for (int d = 0; d < dim; d++) {
                    float acc = 0;
                    for (int j = 0; j < count; j++) acc += p[j] * v[vo + ((b * r + j) * h + kh) * dim + d];
                    o[oo + bg * dim + d] = acc / sum;
                }
            });
        }

        static void delta(KernelArgs a, int dim) {
            float[] o = a.f32("o"), dO = a.f32("d_o"), delta = a.f32("delta");
            int oo = a.off("o"), go = a.off("d_o"), de = a.off("delta");
            Parallel.forRange(a.i("rows"), 4096, (from, to) -> {
                for (int r = from; r < to; r++) {
                    float s = 0;
                    for (int d = 0; d < dim; d++) s += o[oo + r * dim + d] * dO[go + r * dim + d];
                    delta[de + r] = s;
                }
            });
        }

        static void dq(KernelArgs a, int dim) {
            float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), dO = a.f32("d_o"), lse = a.f32("lse"), delta = a.f32("delta"), dq = a.f32("dq");
            int qo = a.off("q"), ko = a.off("k"), vo = a.off("v"), go = a.off("d_o"), lo = a.off("lse"), deo = a.off("delta"), dqo = a.off("dq");
            int bs = a.i("B"), len = a.i("L"), hq = a.i("HQ"), h = a.i("H"), w = Math.min(a.i("W"), len);
            float scale = a.f("scale");
            int group = hq / h;
            Parallel.forEach(bs * len, bt -> {
                int b = bt / len, t = bt % len;
                for (int g = 0; g < hq; g++) {
                    int qi = (bt * hq + g) * dim, kh = g / group;
                    float lseT = lse[lo + bt * hq + g], deltaT = delta[deo + bt * hq + g];
                    float[] acc = new float[dim];
                    for (int j = Math.max(0, t - w); j <= t; j++) {
                        int kv = ((b * len + j) * h + kh) * dim;
                        float s = 0, dp = 0;
                        for (int d = 0; d < dim; d++) {
                            s += q[qo + qi + d] * k[ko + kv + d];
                            dp += dO[go + qi + d] * v[vo + kv + d];
                        }
                        float p = (float) Math.exp(s * scale - lseT);
                        float ds = p * (dp - deltaT);
                        for (int d = 0; d < dim; d++) acc[d] += ds * k[ko + kv + d];
                    }
                    for (int d = 0; d < dim; d++) dq[dqo + qi + d] = acc[d] * scale;
                }
            });
        }

        static void dkdv(KernelArgs a, int dim) {
            float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), dO = a.f32("d_o"), lse = a.f32("lse"), delta = a.f32("delta"),
                    dk = a.f32("dk"), dv = a.f32("dv");
            int qo = a.off("q"), ko = a.off("k"), vo = a.off("v"), go = a.off("d_o"), lo = a.off("lse"), deo = a.off("delta"),
                    dko = a.off("dk"), dvo = a.off("dv");
            int bs = a.i("B"), len = a.i("L"), hq = a.i("HQ"), h = a.i("H"), w = Math.min(a.i("W"), len);
            float scale = a.f("scale");
            int group = hq / h;
            Parallel.forEach(bs * len, bj -> {
                int b = bj / len, j = bj % len;
                for (int kh = 0; kh < h; kh++) {
                    int kv = (bj * h + kh) * dim;
                    float[] accK = new float[dim], accV = new float[dim];
                    for (int g = kh * group; g < (kh + 1) * group; g++) {
                        for (int t = j; t <= Math.min(len - 1, j + w); t++) {
                            int row = (b * len + t) * hq + g, qi = row * dim;
                            float s = 0, dp = 0;
                            for (int d = 0; d < dim; d++) {
                                s += q[qo + qi + d] * k[ko + kv + d];
                                dp += dO[go + qi + d] * v[vo + kv + d];
                            }
                            float p = (float) Math.exp(s * scale - lse[lo + row]);
                            float ds = p * (dp - delta[deo + row]);
                            for (int d = 0; d < dim; d++) {
                                accV[d] += p * dO[go + qi + d];
                                accK[d] += ds * q[qo + qi + d];
                            }
                        }
                    }
                    for (int d = 0; d < dim; d++) {
                        dk[dko + kv + d] = accK[d] * scale;
                        dv[dvo + kv + d] = accV[d];
                    }
                }
            });
        }
    }
}
