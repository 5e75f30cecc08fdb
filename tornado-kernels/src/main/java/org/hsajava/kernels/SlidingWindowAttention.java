package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.DType;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.opencl.TensorCores;
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
 *
 * <p>Tensor cores: on NVIDIA GPUs of compute capability 8.0 or more ({@link TensorCores#enabled})
 * the forward, dq and dk/dv definitions launch a variant ({@link KernelDef#forDevice}) whose
 * products run on TF32 {@code mma.sync} with fp32 softmax and accumulation ({@code kernels/swa_tc.h},
 * FlashAttention-2 style: one warp per 16 query rows, or per 16 keys in dk/dv, the other side
 * streamed from global memory in n-tiles of 8; {@link Tc} gives its launch shape). Same arguments
 * and results, to TF32 accuracy (about 1e-4 to 1e-3 of the largest magnitude instead of 1e-6);
 * head dimensions 16, 32, 64, 128 only (others keep the portable kernels). H100, 2026-12-06:
 * fwd+bwd 4.9 / 20.1 ms at 4K / 16K against 31.0 / 126 for the fp32 kernels (BENCHMARKS.md). Switches: {@code -Dhsa.tc=off} (every kernel) or {@code -Dhsa.tc.swa=off} keep the
 * fp32 kernels; {@code -Dhsa.tc.swa.fwd=off}, {@code -Dhsa.tc.swa.dq=off}, {@code -Dhsa.tc.swa.dkdv=off}
 * one pass; {@code hsa.tc.swa.warps}, {@code .block}, {@code .nt}, {@code .hold} tune the shape
 * ({@link Tc#fromProperties}). Tests run the tensor-core kernels with their PTX emulated on any
 * device ({@link #forwardTcEmulated} and its backward twins).
 *
 * <p>bf16: {@link #forwardBf16}, {@link #backwardDeltaBf16}, {@link #backwardDqBf16} and
 * {@link #backwardDkDvBf16} take q, k, v, o and d_o stored as bf16 and run the same kernels on bf16
 * {@code mma.sync.m16n8k16} (fp32 accumulation and softmax, P and dS rounded to bf16 before their
 * products; the forward writes o as bf16; lse, delta, dq, dk, dv stay fp32): half the bytes read and
 * half the tensor-core instructions of TF32. On devices without tensor cores they run with the PTX
 * emulated (correct and slow: the tests); callers choose them only where {@link TensorCores#enabled}
 * holds. {@link #addForward} and {@link #addBackward} take them when q is bf16. Their Java twins
 * compute in fp32 from the bf16 inputs, without rounding P and dS, so the two differ by about bf16's
 * unit roundoff (2^-9) of the largest magnitude.
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

    /** A definition: the portable kernels' tiles, or (tiles null) the tensor-core shape, emulated or not, on fp32 or bf16 inputs. */
    private record Key(Kind kind, int headDim, Tiles tiles, Tc tc, boolean emulated, boolean bf16) {}

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
        return CACHE.computeIfAbsent(new Key(kind, headDim, tiles, null, false, false), SlidingWindowAttention::build);
    }

    // ------------------------------------------------------------------ tensor cores

    /**
     * The launch shape of the tensor-core kernels ({@code kernels/swa_tc.h}): {@code warps} warps of
     * 16 rows each per work-group (SWA_TC_NW), {@code block} keys per online-softmax block of the
     * forward (SWA_TC_BK, a multiple of 8), {@code nt} n-tiles of 8 rows per step of the backward
     * loops (SWA_TC_NT), {@code hold} whether dk/dv keeps its K/V fragments in registers
     * (SWA_TC_KV_HOLD; null: the source's default, D ≤ 64).
     */
    record Tc(int warps, int block, int nt, Boolean hold) {
        Tc {
            if (warps < 1 || warps > 8) throw new IllegalArgumentException("hsa.tc.swa.warps must be 1 to 8, got " + warps);
            if (block < 8 || block > 128 || block % 8 != 0) throw new IllegalArgumentException("hsa.tc.swa.block must be a multiple of 8 in [8, 128], got " + block);
            if (nt < 1 || nt > 4) throw new IllegalArgumentException("hsa.tc.swa.nt must be 1 to 4, got " + nt);
        }

        /**
         * From the tuning properties hsa.tc.swa.warps (default 4), hsa.tc.swa.block (64, 32 at
         * D = 128: the block's scores live in registers next to Q's fragments and the output),
         * hsa.tc.swa.nt (3) and hsa.tc.swa.hold (on/off; unset: the source's default). H100,
         * 2026-12-06, {@code bench swa} fwd+bwd at 16K (D=64, HQ=16, H=1 / D=32, HQ=16, H=4): nt 2
         * 22.1 / 10.9 ms, nt 3 20.1 / 10.1, nt 4 20.9 / 10.6; warps 2 or 8 and blocks of 32 or 128
         * changed small-gpu's shape by under 2% (128: 30% slower forward); BENCHMARKS.md.
         */
        static Tc fromProperties(int headDim) {
            String hold = System.getProperty("hsa.tc.swa.hold");
            return new Tc(Integer.getInteger("hsa.tc.swa.warps", 4), Integer.getInteger("hsa.tc.swa.block", headDim >= 128 ? 32 : 64),
                    Integer.getInteger("hsa.tc.swa.nt", 3), hold == null ? null : TensorCores.isOn(hold));
        }

        /**
         * The shape of the bf16 kernels: as {@link #fromProperties}, with hsa.tc.swa.bf16.nt (default
         * 2; must be even: a bf16 k-step over rows is two n-tiles) in place of hsa.tc.swa.nt.
         */
        static Tc bf16FromProperties(int headDim) {
            Tc t = fromProperties(headDim);
            return new Tc(t.warps, t.block, Integer.getInteger("hsa.tc.swa.bf16.nt", 2), t.hold);
        }

        int workGroup() { return 32 * warps; }

        /** Rows (queries, or keys in dk/dv) per work-group. */
        int rows() { return 16 * warps; }
    }

    /** Head dimensions the tensor-core kernels support; others keep the portable kernels everywhere. */
    public static boolean tcHeadDim(int headDim) { return headDim == 16 || headDim == 32 || headDim == 64 || headDim == 128; }

    /** Property {@code hsa.tc.swa=off}: the portable fp32 kernels for all three passes, where tensor cores are otherwise used. */
    static final boolean TC = !TensorCores.isOff(System.getProperty("hsa.tc.swa"));
    /** Properties {@code hsa.tc.swa.fwd=off}, {@code .dq=off}, {@code .dkdv=off}: the portable kernel for that pass only. */
    static final boolean TC_FWD = TC && !TensorCores.isOff(System.getProperty("hsa.tc.swa.fwd"));
    static final boolean TC_DQ = TC && !TensorCores.isOff(System.getProperty("hsa.tc.swa.dq"));
    static final boolean TC_DKDV = TC && !TensorCores.isOff(System.getProperty("hsa.tc.swa.dkdv"));

    private static boolean tcOn(Kind kind) {
        return switch (kind) {
            case FWD -> TC_FWD;
            case DQ -> TC_DQ;
            case DKDV -> TC_DKDV;
            default -> false;
        };
    }

    /**
     * {@link #forward(int)} compiled for the tensor-core path with its PTX emulated in portable
     * OpenCL C ({@code -DSWA_TC=1 -DTC_EMULATE=1}), TF32 rounding included: runs on any device
     * (slowly), so that tests on PoCL check the fragment bookkeeping of the NVIDIA path.
     */
    static KernelDef forwardTcEmulated(int headDim, Tc shape) { return getTc(Kind.FWD, headDim, shape, true); }

    /** {@link #backwardDq(int)} on the emulated tensor-core path (see {@link #forwardTcEmulated}). */
    static KernelDef backwardDqTcEmulated(int headDim, Tc shape) { return getTc(Kind.DQ, headDim, shape, true); }

    /** {@link #backwardDkDv(int)} on the emulated tensor-core path (see {@link #forwardTcEmulated}). */
    static KernelDef backwardDkDvTcEmulated(int headDim, Tc shape) { return getTc(Kind.DKDV, headDim, shape, true); }

    private static KernelDef getTc(Kind kind, int headDim, Tc shape, boolean emulated) { return getTc(kind, headDim, shape, emulated, false); }

    private static KernelDef getTc(Kind kind, int headDim, Tc shape, boolean emulated, boolean bf16) {
        if (!tcHeadDim(headDim)) throw new IllegalArgumentException("the tensor-core SWA kernels need D in {16, 32, 64, 128}, got " + headDim);
        if (bf16 && (shape.block() % 16 != 0 || shape.nt() % 2 != 0)) {
            throw new IllegalArgumentException("the bf16 SWA kernels need blocks of a multiple of 16 keys and an even nt, got " + shape);
        }
        return CACHE.computeIfAbsent(new Key(kind, headDim, null, shape, emulated, bf16), SlidingWindowAttention::build);
    }

    /**
     * The forward on bf16 inputs: arguments as {@link #forward(int)} with q, k, v and the output o bf16
     * (see the class comment); the tensor-core kernel where {@link TensorCores#enabled}, else the same
     * with its PTX emulated.
     */
    public static KernelDef forwardBf16(int headDim) { return bf16(Kind.FWD, headDim, Tc.bf16FromProperties(headDim)); }

    /** delta on bf16 inputs: arguments as {@link #backwardDelta(int)} with o and d_o bf16. */
    public static KernelDef backwardDeltaBf16(int headDim) { return bf16(Kind.DELTA, headDim, Tc.bf16FromProperties(headDim)); }

    /** dq on bf16 inputs: arguments as {@link #backwardDq(int)} with q, k, v, d_o bf16 (see {@link #forwardBf16}). */
    public static KernelDef backwardDqBf16(int headDim) { return bf16(Kind.DQ, headDim, Tc.bf16FromProperties(headDim)); }

    /** dk, dv on bf16 inputs: arguments as {@link #backwardDkDv(int)} with q, k, v, d_o bf16 (see {@link #forwardBf16}). */
    public static KernelDef backwardDkDvBf16(int headDim) { return bf16(Kind.DKDV, headDim, Tc.bf16FromProperties(headDim)); }

    /** The bf16 definition at a shape (tests pick shapes that cross the blocks' edges): emulated, native where tensor cores are enabled. */
    private static KernelDef bf16(Kind kind, int headDim, Tc shape) { return getTc(kind, headDim, shape, true, true); }

    static KernelDef forwardBf16(int headDim, Tc shape) { return bf16(Kind.FWD, headDim, shape); }

    static KernelDef backwardDqBf16(int headDim, Tc shape) { return bf16(Kind.DQ, headDim, shape); }

    static KernelDef backwardDkDvBf16(int headDim, Tc shape) { return bf16(Kind.DKDV, headDim, shape); }

    /** The variant rule of the portable forward/dq/dk-dv definitions: the tensor-core kernel where it applies. */
    private static KernelDef tcVariant(Kind kind, int headDim, DeviceInfo info) {
        return tcOn(kind) && tcHeadDim(headDim) && TensorCores.enabled(info) ? getTc(kind, headDim, Tc.fromProperties(headDim), false) : null;
    }

    // ------------------------------------------------------------------ definitions

    private static KernelDef build(Key key) {
        int dim = key.headDim();
        Tiles t = key.tiles();
        Tc tc = key.tc();
        DType in = key.bf16() ? BF16 : F32;   // q, k, v, d_o
        KernelDef.Builder b = switch (key.kind()) {
            case FWD -> KernelDef.builder("swa_fwd", SOURCE)
                    .in("q", in).in("k", in).in("v", in).out("o", in).out("lse", F32)
                    .java(a -> SwaJava.forward(a, dim))
                    .grid(a -> tc != null ? tcGrid(a, tc, a.i("HQ")) : queryGrid(a, t))
                    .check(a -> checkShapes(a, dim, "o", "lse"));
            case DELTA -> KernelDef.builder("swa_bwd_delta", SOURCE)
                    .in("o", in).in("d_o", in).out("delta", F32).intArg("rows")
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
                    .in("q", in).in("k", in).in("v", in).in("d_o", in).in("lse", F32).in("delta", F32).out("dq", F32)
                    .java(a -> SwaJava.dq(a, dim))
                    .grid(a -> tc != null ? tcGrid(a, tc, a.i("HQ")) : queryGrid(a, t))
                    .check(a -> checkShapes(a, dim, "d_o", "lse", "delta", "dq"));
            case DKDV -> KernelDef.builder("swa_bwd_dkdv", SOURCE)
                    .in("q", in).in("k", in).in("v", in).in("d_o", in).in("lse", F32).in("delta", F32).out("dk", F32).out("dv", F32)
                    .java(a -> SwaJava.dkdv(a, dim))
                    .grid(a -> tc != null ? tcGrid(a, tc, a.i("H")) : WorkerGrid.of2D(Math.max(1, a.i("L")), Math.max(1, a.i("B") * a.i("H")), t.rows(), 1))
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
        if (tc != null) {
            // the same defines for the three passes: one program holds all three kernels
            b.define("HEAD_DIM", dim).define("SWA_TC", 1).define("SWA_TC_NW", tc.warps()).define("SWA_TC_BK", tc.block()).define("SWA_TC_NT", tc.nt());
            if (tc.hold() != null) b.define("SWA_TC_KV_HOLD", tc.hold() ? 1 : 0);
            if (key.bf16()) b.define("SWA_BF16", 1);
            if (key.emulated()) b.define("TC_EMULATE", 1);
            if (key.emulated() && key.bf16()) {
                b.variant(info -> TensorCores.enabled(info) ? getTc(key.kind(), dim, tc, false, true) : null);
            }
            return b.build();
        }
        if (key.kind() != Kind.DELTA) b.variant(info -> tcVariant(key.kind(), dim, info));
        return b.define("HEAD_DIM", dim).define("SWA_BQ", t.rows()).define("SWA_BK", t.tile()).define("SWA_BK_DKDV", t.dkdvTile()).build();
    }

    /** Tensor cores: one work-group of {@code tc.warps()} warps per (16·warps rows, batch × heads), heads = HQ or H. */
    private static WorkerGrid tcGrid(KernelArgs a, Tc tc, int heads) {
        long groups = Math.max(1, (a.i("L") + tc.rows() - 1) / tc.rows());
        return WorkerGrid.of2D(groups * tc.workGroup(), Math.max(1, a.i("B") * heads), tc.workGroup(), 1);
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

    /** Appends the forward pass: {@code o, lse ← swa(q, k, v)}; the bf16 kernels where q, k, v (and o) are bf16. */
    public static TaskGraph addForward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse) {
        int dim = s.headDim();
        return g.task(prefix + "fwd", bf16(q, k, v, o) ? forwardBf16(dim) : forward(dim), q, k, v, o, lse,
                s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale());
    }

    /** Whether the tensors are all bf16 (the bf16 kernels) or all fp32; anything else is a caller's mistake. */
    private static boolean bf16(Tensor... ts) {
        long n = java.util.Arrays.stream(ts).filter(t -> t.dtype() == BF16).count();
        if (n != 0 && n != ts.length) {
            throw new IllegalArgumentException("sliding-window attention: q, k, v, o and dO must be all bf16 or all fp32, got "
                    + java.util.Arrays.stream(ts).map(t -> t.name() + " " + t.dtype()).toList());
        }
        return n > 0;
    }

    /**
     * Appends the backward pass: {@code delta = rowsum(d_o ∘ o)}, then dq, then dk and dv; the bf16
     * kernels where q, k, v, o and dO are bf16. {@code delta} is scratch of {@code [B, L, HQ]}.
     */
    public static TaskGraph addBackward(TaskGraph g, String prefix, Shape s, Tensor q, Tensor k, Tensor v, Tensor o, Tensor lse,
                                        Tensor dO, Tensor delta, Tensor dq, Tensor dk, Tensor dv) {
        int dim = s.headDim();
        boolean bf16 = bf16(q, k, v, o, dO);
        Object[] tail = {s.batch(), s.length(), s.queryHeads(), s.kvHeads(), s.window(), s.scale()};
        g.task(prefix + "delta", bf16 ? backwardDeltaBf16(dim) : backwardDelta(dim), o, dO, delta, s.rows());
        g.task(prefix + "dq", bf16 ? backwardDqBf16(dim) : backwardDq(dim), concat(new Object[] {q, k, v, dO, lse, delta, dq}, tail));
        g.task(prefix + "dkdv", bf16 ? backwardDkDvBf16(dim) : backwardDkDv(dim), concat(new Object[] {q, k, v, dO, lse, delta, dk, dv}, tail));
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

        /** An input's values and the index of its first one: the fp32 array itself, or bf16 widened to a copy. */
        private record In(float[] x, int off) {}

        private static In in(KernelArgs a, String name) {
            if (a.tensor(name).dtype() != BF16) return new In(a.f32(name), a.off(name));
            short[] bits = a.bf16(name);
            int off = a.off(name);
            float[] x = new float[a.size(name)];
            for (int i = 0; i < x.length; i++) x[i] = Bf16.toFloat(bits[off + i]);
            return new In(x, 0);
        }

        static void forward(KernelArgs a, int dim) {
            In qIn = in(a, "q"), kIn = in(a, "k"), vIn = in(a, "v");
            boolean o16 = a.tensor("o").dtype() == BF16;
            float[] q = qIn.x(), k = kIn.x(), v = vIn.x(), o = o16 ? new float[a.size("o")] : a.f32("o"), lse = a.f32("lse");
            int qo = qIn.off(), ko = kIn.off(), vo = vIn.off(), oo = o16 ? 0 : a.off("o"), lo = a.off("lse");
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
            if (o16) {   // the bf16 output: each value rounded to nearest even
                short[] out = a.bf16("o");
                int off = a.off("o");
                for (int i = 0; i < o.length; i++) out[off + i] = Bf16.fromFloat(o[i]);
            }
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
            In oIn = in(a, "o"), gIn = in(a, "d_o");
            float[] o = oIn.x(), dO = gIn.x(), delta = a.f32("delta");
            int oo = oIn.off(), go = gIn.off(), de = a.off("delta");
            Parallel.forRange(a.i("rows"), 4096, (from, to) -> {
                for (int r = from; r < to; r++) {
                    float s = 0;
                    for (int d = 0; d < dim; d++) s += o[oo + r * dim + d] * dO[go + r * dim + d];
                    delta[de + r] = s;
                }
            });
        }

        static void dq(KernelArgs a, int dim) {
            In qIn = in(a, "q"), kIn = in(a, "k"), vIn = in(a, "v"), gIn = in(a, "d_o");
            float[] q = qIn.x(), k = kIn.x(), v = vIn.x(), dO = gIn.x(), lse = a.f32("lse"), delta = a.f32("delta"), dq = a.f32("dq");
            int qo = qIn.off(), ko = kIn.off(), vo = vIn.off(), go = gIn.off(), lo = a.off("lse"), deo = a.off("delta"), dqo = a.off("dq");
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
            In qIn = in(a, "q"), kIn = in(a, "k"), vIn = in(a, "v"), gIn = in(a, "d_o");
            float[] q = qIn.x(), k = kIn.x(), v = vIn.x(), dO = gIn.x(), lse = a.f32("lse"), delta = a.f32("delta"),
                    dk = a.f32("dk"), dv = a.f32("dv");
            int qo = qIn.off(), ko = kIn.off(), vo = vIn.off(), go = gIn.off(), lo = a.off("lse"), deo = a.off("delta"),
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
