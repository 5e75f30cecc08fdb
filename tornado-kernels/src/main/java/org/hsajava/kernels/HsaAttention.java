package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.hsajava.compute.Checks;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.compute.java.Parallel;

/**
 * HSA per-chunk attention (source {@code kernels/hsa_attn.cl}): every token attends, separately,
 * to each of the K chunks its selection picked, with a softmax inside each chunk (denominator
 * {@code sum exp + n}), and mixes the K chunk outputs with the selection weights (DESIGN.md §2).
 *
 * <p>Layouts, all row-major: {@code q, dout, o, dq} [B, L, HQ, D]; {@code k, v, dk, dv} [B, Lkv, H, D]
 * with {@code Lkv = (L/S)*S} (a trailing partial chunk never enters the memory; with L &lt; S they
 * may be empty and are never read); {@code indices, weights, dweights} [B, L, H, K] (most recent
 * chunk first; slot k of token t is valid iff {@code k < min(K, t/S)}; invalid slots are ignored);
 * {@code lse, delta} [B, L, HQ, K]: per token, query head and slot, the log of the chunk softmax
 * denominator {@code log(sum exp(s) + n)} and {@code dout·O_k}; 0 for invalid slots. Query head g
 * belongs to KV head {@code g / G}, G = HQ/H.
 *
 * <p>{@link #forwardAt} is the same forward for a window of query positions {@code t0 .. t0+L-1}
 * against a memory of C chunks sized on its own (streaming evaluation over a long context, and
 * decoding one token at a time); {@link #forward} is its special case {@code t0 = 0, C = L/S}.
 *
 * <p>Backward is two launches, in this order: {@link #backwardQ} (dq, dweights and delta, per
 * token) then {@link #backwardKv} (dk, dv, per chunk through the inverted selection index; it reads
 * delta). Both recompute the chunk softmax from the saved lse. Everything is deterministic and
 * written without atomics; each output element is written by exactly one work-item.
 *
 * <p>Invalid slots are outside the function (not "weight 0 times a chunk"), so their dweights are
 * exactly 0. The golden files instead hold, there, dout·O of the chunk that index 0 names; the two
 * agree on every valid slot, and the selection backward multiplies these entries by zero weights.
 *
 * <p>Compile-time variants: head dim D and chunk size S in {16, 32, 64, 128}, and G, with
 * {@code G*S <= 2048} and {@code G*D <= 2048}. The tile sizes that the source takes as -D constants
 * (K/V rows per tile, bwd_kv rows per group and entries per step, micro-tile rows) are derived
 * from these by {@link Tiles} so that a work-group's local memory stays within 44 KiB.
 *
 * <p>Speed of the portable form (synchronous tile copies, as every non-NVIDIA device runs it; H100,
 * fp32, B=8, HQ=16, H=1, D=64, S=64, K=8, 2026-11-23): forward 3.4 / 13.6 / 55.0 ms
 * and forward+backward 16.3 / 51.7 / 211 ms at L = 4K / 16K / 64K; the small products run at
 * 20-25 TFLOP/s. Work-group size 64 beat 32 and 128 for every kernel, and register prefetch of the
 * next K/V chunk made the per-token kernels slower (it costs registers).
 *
 * <p>On NVIDIA GPUs of compute capability 8.0 or more, where the kernels do not run on tensor cores
 * ({@code -Dhsa.tc=off}, or the backward kernels with {@code hsa.tc.bwdq/bwdkv=off}), the fp32 kernels
 * stage their tiles with {@code cp.async} ({@link Path#ASYNC}, {@link #async}; {@code
 * -Dhsa.attn.async=off} keeps the synchronous copies): the copy of the next K/V tile (bwd_kv: of the
 * next CSR step's rows) runs while the current one is used, without registers. Same arithmetic; the
 * waits for tile copies were what held the kernels back (more groups per SM with smaller tiles made
 * them slower, docs/experiments/hsa-fp32-async.md). H100, 2026-12-07: forward 13.5 → 10.9 ms and
 * forward+backward 51.8 → 45.0 ms at 16K, forward 55.1 → 43.6 ms and forward+backward 212 → 181 ms
 * at 64K (BENCHMARKS.md).
 *
 * <p>On NVIDIA GPUs of compute capability 8.0 or more all three kernels launch a tensor-core variant
 * instead ({@link KernelDef#forDevice}, {@link TensorCores}): TF32 {@code mma.sync} with fp32
 * accumulation; the forward and backward dq with one warp per (b, t, h), the backward dk/dv with warps
 * that own 16 chunk rows each ({@link KvTc}). H100, same shapes: forward 1.03 / 4.28 / 17.9 ms and
 * forward+backward 4.80 / 20.3 / 84.1 ms at 4K / 16K / 64K (BENCHMARKS.md). {@code -Dhsa.tc=off}
 * keeps the fp32 kernels; {@code -Dhsa.tc.bwdq=off} and {@code -Dhsa.tc.bwdkv=off} one backward kernel.
 */
public final class HsaAttention {
    private HsaAttention() {}

    /** Default work-group size of the HSA attention kernels (system property hsa.attn.wg, or hsa.attn.wg.FWD etc. per kernel, for tuning runs). */
    public static final int WG = Integer.getInteger("hsa.attn.wg", 64);

    /** Work-group size of one kernel. */
    static int wg(Kind kind) { return Integer.getInteger("hsa.attn.wg." + kind, WG); }

    private static final String SRC = "kernels/hsa_attn.cl";
    private static final Map<String, KernelDef> CACHE = new ConcurrentHashMap<>();

    /**
     * Forward. Arguments: {@code q, k, v, indices, weights, o, lse, B, L, HQ, H, K, n, scale}
     * (n = 0 or 1: the softmax off-by-one; scale normally 1/sqrt(D)). Writes o and lse.
     */
    public static KernelDef forward(int d, int s, int g) {
        return CACHE.computeIfAbsent("fwd/" + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, Path.PORTABLE, wg(Kind.FWD)));
    }

    /**
     * {@link #forward} compiled for the tensor-core path with its three PTX instructions emulated in
     * portable OpenCL C ({@code -DHSA_TC=1 -DHSA_TC_EMULATE=1}): runs on any device (slowly), so that
     * tests on PoCL check the fragment bookkeeping of the NVIDIA path. TF32 rounding is emulated too.
     */
    static KernelDef forwardTcEmulated(int d, int s, int g, int wg) {
        return CACHE.computeIfAbsent("fwdtcemu/" + d + "/" + s + "/" + g + "/" + wg, key -> forwardDef(d, s, g, Path.TC_EMULATED, wg));
    }

    /**
     * Which code the forward definitions compile: the portable fp32 one, the NVIDIA tensor-core one
     * (-DHSA_TC=1, work-group {@link #TC_WG}: the variant that {@link KernelDef#forDevice} picks
     * where {@link TensorCores#enabled}), or the latter with its PTX emulated (tests; any device).
     */
    private enum Path {
        PORTABLE, TC, TC_EMULATED,
        /** The portable fp32 code with K/V tiles staged by cp.async, double-buffered (-DHSA_ASYNC=1; NVIDIA sm_80+). */
        ASYNC,
        /** {@link #ASYNC} with each copy made at once, when issued (tests; any device). */
        ASYNC_EMULATED,
        /** {@link #ASYNC} with each copy held until the wait that must complete it (tests; any device). */
        ASYNC_DEFERRED;

        boolean async() { return this == ASYNC || this == ASYNC_EMULATED || this == ASYNC_DEFERRED; }

        /** The emulation of the cp.async path: copies at once ({@code deferred} false) or as late as allowed. */
        static Path emulatedAsync(boolean deferred) { return deferred ? ASYNC_DEFERRED : ASYNC_EMULATED; }
    }

    /**
     * Whether an fp32 kernel stages its tiles with cp.async ({@link Path#ASYNC}) on devices that can
     * ({@link TensorCores#supported}: NVIDIA, compute capability 8.0 or more) where it does not run on
     * tensor cores: property hsa.attn.async.FWD (or .BWD_Q, .BWD_KV), else hsa.attn.async; default on
     * ("off" switches it off). H100, B=8, L=16K (BENCHMARKS.md, 2026-12-07): forward 13.5 → 10.8 ms,
     * bwd_q 18.0 → 15.8 ms, bwd_kv 19.9 → 18.1 ms; {@code ./hsa selfcheck -Dhsa.tc=off} passes all its
     * checks on it. bwd_q's row sums by warp shuffles (2026-12-08): 16.3 → 15.2 ms. Needs whole warps
     * (a group size that is a multiple of 32).
     */
    static boolean async(Kind kind) {
        return wg(kind) % 32 == 0 && !TensorCores.isOff(System.getProperty("hsa.attn.async." + kind, System.getProperty("hsa.attn.async")));
    }

    /**
     * {@link #forward} on the emulated cp.async path, on any device: the copies made at once
     * ({@link Path#ASYNC_EMULATED}) or held until the wait that must complete them ({@code deferred},
     * {@link Path#ASYNC_DEFERRED}).
     */
    static KernelDef forwardAsyncEmulated(int d, int s, int g, boolean deferred) {
        Path path = Path.emulatedAsync(deferred);
        return CACHE.computeIfAbsent("fwd" + path + "/" + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, path, wg(Kind.FWD)));
    }

    /** {@link #forwardAt} on the emulated cp.async path (as {@link #forwardAsyncEmulated}). */
    static KernelDef forwardAtAsyncEmulated(int d, int s, int g, boolean deferred) {
        Path path = Path.emulatedAsync(deferred);
        return CACHE.computeIfAbsent("fwdat" + path + "/" + d + "/" + s + "/" + g, key -> forwardAtDef(d, s, g, path, wg(Kind.FWD)));
    }

    /**
     * Work-group size of the tensor-core forward (property hsa.attn.wg.FWD_TC): one warp, which owns a
     * (b, t, h) item and all its slots. On the H100 (B=8, L=16K) 32 took 4.28 ms, 64 (two warps
     * splitting the slots, partial outputs summed in local memory) 4.86 ms and 128 5.60 ms: the
     * kernel holds 177 registers per work-item, so an SM fits 11 warps as 11 one-warp groups but
     * only 10 as 5 two-warp groups, and smaller groups wait for no sibling at the final barrier.
     */
    static final int TC_WG = Integer.getInteger("hsa.attn.wg.FWD_TC", 32);

    private static KernelDef forwardDef(int d, int s, int g, Path path, int wg) { return forwardDef(d, s, g, path, wg, false); }

    private static KernelDef forwardAtDef(int d, int s, int g, Path path, int wg) { return forwardDef(d, s, g, path, wg, true); }

    /**
     * The forward ({@code hsa_attn_fwd}) or its positioned form ({@code hsa_attn_fwd_at}, {@code at}:
     * two more arguments, t0 and C, and the geometry {@link Dims#at} instead of {@link Dims#of}).
     */
    private static KernelDef forwardDef(int d, int s, int g, Path path, int wg, boolean at) {
        Function<KernelArgs, Dims> dims = at ? a -> Dims.at(a, d, s, g) : a -> Dims.of(a, d, s, g);
        KernelDef.Builder b = withDefines(KernelDef.builder(at ? "hsa_attn_fwd_at" : "hsa_attn_fwd", SRC), Kind.FWD, d, s, g, path, wg)
                .in("q", F32).in("k", F32).in("v", F32).in("indices", I32).in("weights", F32)
                .out("o", F32).out("lse", F32)
                .intArg("B").intArg("L").intArg("HQ").intArg("H").intArg("K").intArg("n").floatArg("scale");
        if (at) b.intArg("t0").intArg("C");
        return b.check(a -> {
                    if (at) {
                        Checks.positive(a, "t0", true);
                        Checks.positive(a, "C", true);
                        if ((long) a.i("t0") + a.i("L") > Integer.MAX_VALUE) throw new IllegalArgumentException("argument 't0' + 'L' overflows int positions");
                    }
                    Dims x = dims.apply(a);
                    int n = a.i("n");
                    if (n != 0 && n != 1) throw new IllegalArgumentException("argument 'n' must be 0 or 1, got " + n);
                    x.checkCommon(a);
                    Checks.exactly(a, "o", x.qSize());
                    Checks.exactly(a, "lse", x.lseSize());
                })
                .grid(a -> perToken(dims.apply(a), wg))
                .java(a -> forwardJava(a, dims.apply(a)))
                .variant(path != Path.PORTABLE ? null : info -> TensorCores.enabled(info)
                        ? CACHE.computeIfAbsent((at ? "fwdattc/" : "fwdtc/") + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, Path.TC, TC_WG, at))
                        : async(Kind.FWD) && TensorCores.supported(info)
                        ? CACHE.computeIfAbsent((at ? "fwdatasync/" : "fwdasync/") + d + "/" + s + "/" + g, key -> forwardDef(d, s, g, Path.ASYNC, wg, at)) : null)
                .build();
    }

    /**
     * Forward for a window of query positions against a memory sized on its own (streaming
     * evaluation, decoding). Arguments: {@code q, k, v, indices, weights, o, lse, B, L, HQ, H, K, n,
     * scale, t0, C}: row i of q is the token at position {@code t0 + i}; {@code k, v} are
     * {@code [B, C·S, H, D]}; slot k of a row at position t is valid iff {@code k < min(K, min(C, t/S))}
     * (the selection kernels' rule). With {@code t0 = 0, C = L/S} it is {@link #forward}.
     */
    public static KernelDef forwardAt(int d, int s, int g) {
        return CACHE.computeIfAbsent("fwdat/" + d + "/" + s + "/" + g, key -> forwardAtDef(d, s, g, Path.PORTABLE, wg(Kind.FWD)));
    }

    /** {@link #forwardAt} on the emulated tensor-core path (see {@link #forwardTcEmulated}). */
    static KernelDef forwardAtTcEmulated(int d, int s, int g, int wg) {
        return CACHE.computeIfAbsent("fwdattcemu/" + d + "/" + s + "/" + g + "/" + wg, key -> forwardAtDef(d, s, g, Path.TC_EMULATED, wg));
    }

    /**
     * Backward, per token. Arguments: {@code q, k, v, indices, weights, dout, lse, dq, dweights,
     * delta, B, L, HQ, H, K, scale}. Writes dq, dweights and delta (which {@link #backwardKv} needs).
     */
    public static KernelDef backwardQ(int d, int s, int g) {
        return CACHE.computeIfAbsent("bwdq/" + d + "/" + s + "/" + g, key -> backwardQDef(d, s, g, Path.PORTABLE, wg(Kind.BWD_Q)));
    }

    /** {@link #backwardQ} on the emulated cp.async path (as {@link #forwardAsyncEmulated}). */
    static KernelDef backwardQAsyncEmulated(int d, int s, int g, boolean deferred) {
        Path path = Path.emulatedAsync(deferred);
        return CACHE.computeIfAbsent("bwdq" + path + "/" + d + "/" + s + "/" + g, key -> backwardQDef(d, s, g, path, wg(Kind.BWD_Q)));
    }

    /** {@link #backwardQ} on the emulated tensor-core path (see {@link #forwardTcEmulated}). */
    static KernelDef backwardQTcEmulated(int d, int s, int g, int wg) {
        return CACHE.computeIfAbsent("bwdqtcemu/" + d + "/" + s + "/" + g + "/" + wg, key -> backwardQDef(d, s, g, Path.TC_EMULATED, wg));
    }

    /** Work-group size of the tensor-core backward dq (property hsa.attn.wg.BWD_Q_TC): one warp, as {@link #TC_WG}. */
    static final int TC_WG_BWD_Q = Integer.getInteger("hsa.attn.wg.BWD_Q_TC", 32);

    /**
     * Whether the tensor-core backward dq is used where tensor cores are (default yes; property
     * {@code hsa.tc.bwdq=off} keeps the fp32 backward dq while the forward stays on tensor cores).
     * Checked on the H100 with {@code ./hsa selfcheck} (BENCHMARKS.md).
     */
    static final boolean TC_BWD_Q = !TensorCores.isOff(System.getProperty("hsa.tc.bwdq"));

    private static KernelDef backwardQDef(int d, int s, int g, Path path, int wg) {
        return withDefines(KernelDef.builder("hsa_attn_bwd_q", SRC), Kind.BWD_Q, d, s, g, path, wg)
                .in("q", F32).in("k", F32).in("v", F32).in("indices", I32).in("weights", F32)
                .in("dout", F32).in("lse", F32)
                .out("dq", F32).out("dweights", F32).out("delta", F32)
                .intArg("B").intArg("L").intArg("HQ").intArg("H").intArg("K").floatArg("scale")
                .check(a -> {
                    Dims x = Dims.of(a, d, s, g);
                    x.checkCommon(a);
                    Checks.exactly(a, "dout", x.qSize());
                    Checks.exactly(a, "lse", x.lseSize());
                    Checks.exactly(a, "dq", x.qSize());
                    Checks.exactly(a, "dweights", x.selSize());
                    Checks.exactly(a, "delta", x.lseSize());
                })
                .grid(a -> perToken(Dims.of(a, d, s, g), wg))
                .java(a -> backwardQJava(a, Dims.of(a, d, s, g)))
                .variant(path != Path.PORTABLE ? null : info -> TC_BWD_Q && TensorCores.enabled(info)
                        ? CACHE.computeIfAbsent("bwdqtc/" + d + "/" + s + "/" + g, key -> backwardQDef(d, s, g, Path.TC, TC_WG_BWD_Q))
                        : async(Kind.BWD_Q) && TensorCores.supported(info)
                        ? CACHE.computeIfAbsent("bwdqasync/" + d + "/" + s + "/" + g, key -> backwardQDef(d, s, g, Path.ASYNC, wg)) : null)
                .build();
    }

    /**
     * Backward, per chunk. Arguments: {@code q, k, v, weights, dout, lse, delta, chunkStart, entries,
     * dk, dv, B, L, HQ, H, K, scale}; (chunkStart, entries) is the inverted selection index (the
     * CSR convention of branch hsasel: chunkStart int [B*H*(C+1)], entries int [B*H*L*K] holding
     * {@code t*K + slot}, valid slots only, ascending within a chunk). Writes every element of dk, dv.
     */
    public static KernelDef backwardKv(int d, int s, int g) {
        return CACHE.computeIfAbsent("bwdkv/" + d + "/" + s + "/" + g, key -> backwardKvDef(d, s, g, Path.PORTABLE, null, localFloats(Kind.BWD_KV), true, false));
    }

    /**
     * The portable {@link #backwardKv} with tiles sized for a local-memory budget of {@code budget}
     * floats, for every device (no per-device variant): the GPU budget {@link #LOCAL_FLOATS}, or a
     * CPU one ({@link #cpuLocalFloats}). Tests run both on one device.
     */
    static KernelDef backwardKvPortable(int d, int s, int g, int budget) {
        return CACHE.computeIfAbsent("bwdkvp/" + d + "/" + s + "/" + g + "/" + budget, key -> backwardKvDef(d, s, g, Path.PORTABLE, null, budget, false, false));
    }

    /**
     * Local-memory budget of the bwd_kv groups on CPU devices, in floats: up to 64K (256 KiB, enough
     * for a whole chunk of S = D = 128 per group with two CSR entries per step) where the device
     * offers it. A group then walks its chunk's CSR once instead of once per block of rows: PoCL, 2
     * cores, {@code ./hsa bench hsa --batch 1 --length 4K --profile} (2026-12-05): bwd_kv 1832 ms with
     * the GPU budget (HSA_BR=16), 566 ms with this one (HSA_BR=64, HSA_E=2); forward and bwd_q gain
     * nothing from a larger budget and keep theirs.
     */
    static int cpuLocalFloats(DeviceInfo info) {
        long device = info.localMemBytes() / 4;
        return (int) Math.max(LOCAL_FLOATS, Math.min(65536, device));
    }

    /**
     * {@link #backwardKv} on the emulated cp.async path (as {@link #forwardAsyncEmulated}), with one buffer set
     * of staged rows or two ({@link #KV_ONE_SET}).
     */
    static KernelDef backwardKvAsyncEmulated(int d, int s, int g, boolean deferred, boolean oneSet) {
        Path path = Path.emulatedAsync(deferred);
        return CACHE.computeIfAbsent("bwdkv" + path + "/" + d + "/" + s + "/" + g + "/" + oneSet,
                key -> backwardKvDef(d, s, g, path, null, localFloats(Kind.BWD_KV), false, oneSet));
    }

    /**
     * The staging of bwd_kv's cp.async form (property hsa.attn.kvOneSet, default off): two buffer sets of
     * query and output-gradient rows, the next step's copied while the current one is used (off; one CSR
     * entry per step at D = S = 64, G = 16, which makes its score micro-tiles 2 x 4), or one set whose
     * query rows and output-gradient rows are copied separately, each behind the product of the step
     * before that does not read them (on; two entries per step in the same local memory, 4 x 4 micro-tiles;
     * HSA_KV_ONESET in the source). Not yet timed on a GPU: an experiment for the 16K forward+backward
     * target (docs/experiments/hsa-fp32-async.md).
     */
    static final boolean KV_ONE_SET = TensorCores.isOn(System.getProperty("hsa.attn.kvOneSet"));

    /**
     * {@link #backwardKv} on the emulated tensor-core path (see {@link #forwardTcEmulated}), with the
     * given shape of its loop ({@link KvTc}).
     */
    static KernelDef backwardKvTcEmulated(int d, int s, int g, KvTc shape) {
        return CACHE.computeIfAbsent("bwdkvtcemu/" + d + "/" + s + "/" + g + "/" + shape, key -> backwardKvDef(d, s, g, Path.TC_EMULATED, shape, LOCAL_FLOATS, false, false));
    }

    /**
     * Whether the tensor-core backward dk/dv is used where tensor cores are (default yes; property
     * {@code hsa.tc.bwdkv=off} keeps the fp32 one).
     */
    static final boolean TC_BWD_KV = !TensorCores.isOff(System.getProperty("hsa.tc.bwdkv"));

    /**
     * The loop shape of the tensor-core bwd_kv (defines HSA_KV_NT, HSA_KV_SPLIT, HSA_KV_HOLD of the
     * source): {@code nt} n-tiles of 8 query rows per step, {@code split} warps per 16 chunk rows
     * (work-group 2·S·split), {@code hold} whether the K/V fragments stay in registers (null: the
     * source's default, D ≤ 64).
     *
     * <p>Default nt = 2, split = 2, from H100 runs of {@code ./hsa bench hsa} (B=8, HQ=16, H=1,
     * D=S=64, K=8; bwd_kv ms at L = 4K / 16K): nt=1 split=1 8.31 / 20.5, nt=2 split=1 3.74 / 10.2,
     * nt=1 split=2 2.51 / 10.3, nt=2 split=2 2.40 / 10.1, nt=1 split=4 2.98 / 12.8, nt=2 split=4
     * 3.87 / 16.4 (fp32 kernel: 8.21 / 19.2). The loop is latency-bound: two chains per step and two
     * warps per row block (which halve the longest list, an early chunk's) both hide it.
     *
     * <p>At D ≤ 32 the default is nt = 1, split = 4: small-gpu (G=16, D=32, S=64, K=8, L=4096, B=8),
     * H100, 2026-12-06, bwd_kv ms per training step ({@code bench train --profile}): nt=2 split=2 9.2,
     * nt=1 split=4 4.5, nt=2 split=4 5.2, nt=3 split=4 5.3, nt=4 split=4 5.8, nt=4 split=2 6.0, nt=4
     * split=1 10.8 (BENCHMARKS.md).
     */
    record KvTc(int nt, int split, Boolean hold) {
        KvTc {
            if (nt < 1 || nt > 4) throw new IllegalArgumentException("hsa.tc.bwdkv.nt must be 1 to 4, got " + nt);
            if (split < 1 || split > 4) throw new IllegalArgumentException("hsa.tc.bwdkv.split must be 1 to 4, got " + split);
        }

        /**
         * From the tuning properties hsa.tc.bwdkv.nt, .split and .hold (defaults: nt 2, split 2; at
         * D ≤ 32 nt 1, split 4); split falls back to 1 where its local sum buffer (S·D floats) would
         * exceed 32 KiB.
         */
        static KvTc fromProperties(int d, int s) {
            String hold = System.getProperty("hsa.tc.bwdkv.hold");
            boolean narrow = d <= 32;
            int split = Integer.getInteger("hsa.tc.bwdkv.split", narrow ? 4 : 2);
            return new KvTc(Integer.getInteger("hsa.tc.bwdkv.nt", narrow ? 1 : 2), splitFits(d, s) ? split : 1, hold == null ? null : TensorCores.isOn(hold));
        }

        int workGroup(int s) { return 2 * s * split; }

        /** Whether split > 1 fits: its local sum buffer holds S·D floats, at most 32 KiB. */
        static boolean splitFits(int d, int s) { return s * d <= 8192; }
    }

    /**
     * @param budget      local floats per group for the portable path's tiles
     * @param withVariant the portable path's per-device rule: TF32 where tensor cores are, the CPU budget on CPUs
     * @param oneSet      on the cp.async path: one buffer set of staged rows ({@link #KV_ONE_SET})
     */
    private static KernelDef backwardKvDef(int d, int s, int g, Path path, KvTc shape, int budget, boolean withVariant, boolean oneSet) {
        boolean tc = path == Path.TC || path == Path.TC_EMULATED;
        if (tc && shape.split() > 1 && !KvTc.splitFits(d, s)) throw new IllegalArgumentException("bwd_kv split " + shape.split() + " needs S*D <= 8192, got " + s * d);
        int wg = tc ? shape.workGroup(s) : wg(Kind.BWD_KV);
        Tiles tiles = Tiles.buffered(Kind.BWD_KV, d, s, g, budget, path.async() && !oneSet ? 2 : 1);
        int rowsPerGroup = tiles.rows;
        KernelDef.Builder b = tc ? withDefines(KernelDef.builder("hsa_attn_bwd_kv", SRC), Kind.BWD_KV, d, s, g, path, wg)
                .define("HSA_TC_KV", 1).define("HSA_KV_NT", shape.nt()).define("HSA_KV_SPLIT", shape.split())
                : withPath(withDefines(KernelDef.builder("hsa_attn_bwd_kv", SRC), Kind.BWD_KV, d, s, g, tiles), Kind.BWD_KV, path);
        if (tc && shape.hold() != null) b.define("HSA_KV_HOLD", shape.hold() ? 1 : 0);
        if (path.async() && oneSet) b.define("HSA_KV_ONESET", 1);
        return b
                .in("q", F32).in("k", F32).in("v", F32).in("weights", F32).in("dout", F32)
                .in("lse", F32).in("delta", F32).in("chunkStart", I32).in("entries", I32)
                .out("dk", F32).out("dv", F32)
                .intArg("B").intArg("L").intArg("HQ").intArg("H").intArg("K").floatArg("scale")
                .check(a -> {
                    Dims x = Dims.of(a, d, s, g);
                    x.checkShapes(a);
                    Checks.exactly(a, "q", x.qSize());
                    Checks.exactly(a, "k", x.kvSize());
                    Checks.exactly(a, "v", x.kvSize());
                    Checks.exactly(a, "weights", x.selSize());
                    Checks.exactly(a, "dout", x.qSize());
                    Checks.exactly(a, "lse", x.lseSize());
                    Checks.exactly(a, "delta", x.lseSize());
                    Checks.exactly(a, "chunkStart", (long) x.B * x.H * (x.C + 1));
                    Checks.atLeast(a, "entries", x.selSize());
                    Checks.exactly(a, "dk", x.kvSize());
                    Checks.exactly(a, "dv", x.kvSize());
                })
                .grid(a -> {
                    Dims x = Dims.of(a, d, s, g);
                    long groups = (long) x.B * x.H * x.C * (tc ? 1 : s / rowsPerGroup);
                    return WorkerGrid.of1D(groups * wg, wg);
                })
                .java(a -> backwardKvJava(a, Dims.of(a, d, s, g)))
                .variant(!withVariant ? null : info -> TC_BWD_KV && TensorCores.enabled(info)
                        ? CACHE.computeIfAbsent("bwdkvtc/" + d + "/" + s + "/" + g, key -> backwardKvDef(d, s, g, Path.TC, KvTc.fromProperties(d, s), budget, false, false))
                        : async(Kind.BWD_KV) && TensorCores.supported(info)
                        ? CACHE.computeIfAbsent("bwdkvasync/" + d + "/" + s + "/" + g, key -> backwardKvDef(d, s, g, Path.ASYNC, null, budget, false, KV_ONE_SET))
                        : info.type() == DeviceInfo.Type.CPU ? backwardKvPortable(d, s, g, cpuLocalFloats(info)) : null)
                .build();
    }

    /** The three kernels, which size their local memory differently. */
    enum Kind { FWD, BWD_Q, BWD_KV }

    /**
     * Local memory budget of one work-group, in floats (44 KiB): under the 48 KiB of static local
     * memory that NVIDIA allows, and small enough for 5+ groups per H100 SM.
     */
    static final int LOCAL_FLOATS = Integer.getInteger("hsa.attn.localFloats", 11264);

    /** The local-memory budget of one kernel: property hsa.attn.localFloats.FWD etc. (tuning runs), else {@link #LOCAL_FLOATS}. */
    static int localFloats(Kind kind) { return Integer.getInteger("hsa.attn.localFloats." + kind, LOCAL_FLOATS); }

    /**
     * The budget of one kernel on a path: as {@link #localFloats(Kind)}, except that bwd_q's cp.async
     * variant takes all 48 KiB by default (12288 floats), which its two whole-chunk K/V buffers need at
     * D = S = 64, G = 16.
     */
    static int localFloats(Kind kind, Path path) {
        return kind == Kind.BWD_Q && path.async() ? Integer.getInteger("hsa.attn.localFloats." + kind, 12288) : localFloats(kind);
    }

    /**
     * A register cap for one fp32 kernel on NVIDIA ({@code -cl-nv-maxrregcount}), for tuning runs:
     * property hsa.attn.maxrreg.FWD etc., else hsa.attn.maxrreg; none by default. NVIDIA's compiler
     * only: other OpenCL compilers reject the option, so set it only for runs on NVIDIA GPUs.
     */
    private static KernelDef.Builder withRegisterCap(KernelDef.Builder b, Kind kind) {
        Integer cap = Integer.getInteger("hsa.attn.maxrreg." + kind, Integer.getInteger("hsa.attn.maxrreg"));
        return cap == null ? b : b.compilerOption("-cl-nv-maxrregcount=" + cap);
    }

    /**
     * Tile choices of one kernel (the -D constants of the source): {@code wg} work-group size;
     * {@code rows} chunk rows per K/V tile (fwd, bwd_q: HSA_T) or per bwd_kv work-group (HSA_BR),
     * the largest power of two up to S whose local memory fits {@link #LOCAL_FLOATS}; {@code e}
     * CSR entries per bwd_kv step (HSA_E: 2 where that costs no rows, else 1); {@code nseg}
     * work-items per score row in the softmax passes (HSA_NSEG); {@code maxm} register rows of
     * the largest micro-tile (HSA_MAXM).
     */
    record Tiles(int wg, int rows, int e, int nseg, int maxm) {
        static Tiles of(Kind kind, int d, int s, int g) { return of(kind, d, s, g, localFloats(kind)); }

        /** For a local-memory budget of {@code budget} floats per group. */
        static Tiles of(Kind kind, int d, int s, int g, int budget) { return buffered(kind, d, s, g, budget, 1); }

        /** {@code buffers}: 2 for the cp.async variant ({@link Path#ASYNC}), whose staged tiles are double-buffered. */
        static Tiles buffered(Kind kind, int d, int s, int g, int budget, int buffers) {
            int wg = HsaAttention.wg(kind);
            if (kind != Kind.BWD_KV) return of(kind, wg, d, s, g, 1, budget, buffers);
            Integer forced = Integer.getInteger("hsa.attn.kvEntries");
            if (forced != null) return of(kind, wg, d, s, g, forced, budget, buffers);
            Tiles one = of(kind, wg, d, s, g, 1, budget, buffers), two = of(kind, wg, d, s, g, 2, budget, buffers);
            return two.rows >= one.rows ? two : one;
        }

        private static Tiles of(Kind kind, int wg, int d, int s, int g, int e) { return of(kind, wg, d, s, g, e, localFloats(kind)); }

        private static Tiles of(Kind kind, int wg, int d, int s, int g, int e, int budget) { return of(kind, wg, d, s, g, e, budget, 1); }

        /**
         * {@code buffers}: 2 where the staged tiles are double-buffered ({@link Path#ASYNC}): the forward's and
         * bwd_q's K/V tiles, bwd_kv's query and output-gradient rows (and their statistics).
         */
        private static Tiles of(Kind kind, int wg, int d, int s, int g, int e, int budget, int buffers) {
            int ge = e * g, ldd = d + 4, lds = s + 4, ge4 = (ge + 3) / 4 * 4, ldg = ge4 + 4;
            int nseg = 1;
            while (nseg * 2 <= s / 4 && nseg * 2 * g <= wg) nseg *= 2;
            int fixed = switch (kind) {
                case FWD -> g * ldd + g * lds + 2 * g * nseg;
                case BWD_Q -> 2 * g * ldd + 2 * g * lds + g * nseg;
                case BWD_KV -> buffers * (2 * ge4 * ldd + 2 * ge + e);
            };
            int perRow = kind == Kind.BWD_KV ? 2 * ldd + 2 * ldg : buffers * ldd;
            int rows = s;
            // bwd_q with two buffers of whole chunks keeps dp in registers: no G x S dp block, and
            // row sums by warp shuffles instead of partials per segment (HSA_BWDQ_REGDP in the source)
            if (kind == Kind.BWD_Q && buffers == 2 && 2 * g * ldd + g * lds + s * perRow <= budget) {
                return new Tiles(wg, s, e, nseg, Math.max(ntRows(wg, g, s), nnRows(wg, g, d)));
            }
            while (rows > 4 && fixed + rows * perRow > budget) rows /= 2;
            // micro-tile rows: NT (NA x NB over D) has ceil(NA / (WG / (NB/4))) per work-item,
            // NN (NA x D) has ceil(NA / (WG / (D/4)))
            int maxm = kind == Kind.BWD_KV ? Math.max(ntRows(wg, ge, rows), nnRows(wg, rows, d))
                    : Math.max(ntRows(wg, g, rows), nnRows(wg, g, d));
            return new Tiles(wg, rows, e, nseg, maxm);
        }

        private static int ntRows(int wg, int na, int nb) { return Math.ceilDiv(na, wg / (nb / 4)); }
        private static int nnRows(int wg, int na, int d) { return Math.ceilDiv(na, wg / (d / 4)); }
    }

    private static KernelDef.Builder withDefines(KernelDef.Builder b, Kind kind, int d, int s, int g, Path path, int wg) {
        return withPath(withDefines(b, kind, d, s, g, Tiles.of(kind, wg, d, s, g, 1, localFloats(kind, path), path.async() ? 2 : 1)), kind, path);
    }

    /** The defines that select a path in the source, and the register cap on the paths that NVIDIA's compiler builds for fp32. */
    private static KernelDef.Builder withPath(KernelDef.Builder r, Kind kind, Path path) {
        if (path == Path.PORTABLE || path == Path.ASYNC) withRegisterCap(r, kind);
        return switch (path) {
            case TC_EMULATED -> r.define("HSA_TC", 1).define("HSA_TC_EMULATE", 1);
            case TC -> r.define("HSA_TC", 1);
            case ASYNC -> r.define("HSA_ASYNC", 1);
            case ASYNC_EMULATED -> r.define("HSA_ASYNC", 1).define("TC_EMULATE", 1);
            case ASYNC_DEFERRED -> r.define("HSA_ASYNC", 1).define("TC_EMULATE", 1).define("HSA_ASYNC_DEFER", 1);
            case PORTABLE -> r;
        };
    }

    private static KernelDef.Builder withDefines(KernelDef.Builder b, Kind kind, int d, int s, int g) {
        return withDefines(b, kind, d, s, g, Tiles.of(kind, d, s, g));
    }

    private static KernelDef.Builder withDefines(KernelDef.Builder b, Kind kind, int d, int s, int g, Tiles t) {
        requirePow2In16To128("D", d);
        requirePow2In16To128("S", s);
        if (g < 1 || g * s > 2048 || g * d > 2048) {
            throw new IllegalArgumentException("G=" + g + " unsupported with D=" + d + ", S=" + s + ": need G >= 1, G*S <= 2048 and G*D <= 2048");
        }
        return b.define("D", d).define("S", s).define("G", g).define("WG", t.wg)
                .define("HSA_T", t.rows).define("HSA_BR", t.rows).define("HSA_E", t.e).define("HSA_NSEG", t.nseg).define("HSA_MAXM", t.maxm);
    }

    private static void requirePow2In16To128(String what, int v) {
        if (v != 16 && v != 32 && v != 64 && v != 128) throw new IllegalArgumentException(what + " must be 16, 32, 64 or 128, got " + v);
    }

    private static WorkerGrid perToken(Dims x, int wg) { return WorkerGrid.of1D((long) x.B * x.L * x.H * wg, wg); }

    /** The sizes of one launch, from the scalar arguments and the compile-time constants. */
    private record Dims(int B, int L, int HQ, int H, int K, int D, int S, int G, int C, int t0, float scale) {
        /** Training's geometry: positions from 0, C = L/S chunks of the same sequences. */
        static Dims of(KernelArgs a, int d, int s, int g) {
            int l = a.i("L");
            return new Dims(a.i("B"), l, a.i("HQ"), a.i("H"), a.i("K"), d, s, g, Math.max(0, l) / s, 0, a.f("scale"));
        }

        /** {@link #forwardAt}'s geometry: positions from t0, C chunks given. */
        static Dims at(KernelArgs a, int d, int s, int g) {
            return new Dims(a.i("B"), a.i("L"), a.i("HQ"), a.i("H"), a.i("K"), d, s, g, a.i("C"), a.i("t0"), a.f("scale"));
        }

        void checkShapes(KernelArgs a) {
            for (String p : new String[] {"B", "L", "HQ", "H", "K"}) Checks.positive(a, p, false);
            if (HQ != H * G) throw new IllegalArgumentException("arguments 'HQ'=" + HQ + " and 'H'=" + H + " do not match the compiled G=" + G + " (need HQ = H*G)");
        }

        void checkCommon(KernelArgs a) {
            checkShapes(a);
            Checks.exactly(a, "q", qSize());
            Checks.exactly(a, "k", kvSize());
            Checks.exactly(a, "v", kvSize());
            Checks.exactly(a, "indices", selSize());
            Checks.exactly(a, "weights", selSize());
        }

        long qSize() { return (long) B * L * HQ * D; }
        long kvSize() { return (long) B * C * S * H * D; }
        long selSize() { return (long) B * L * H * K; }
        long lseSize() { return (long) B * L * HQ * K; }
        int lkv() { return C * S; }
        /** Valid slots of query row i (position t0 + i). */
        int valid(int i) { return Math.min(K, Math.min(C, (t0 + i) / S)); }
    }

    // ------------------------------------------------------------------ Java oracles

    private static void forwardJava(KernelArgs a, Dims x) {
        float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), w = a.f32("weights"), o = a.f32("o"), lse = a.f32("lse");
        int[] idx = a.i32("indices");
        int qO = a.off("q"), kO = a.off("k"), vO = a.off("v"), wO = a.off("weights"), iO = a.off("indices"), oO = a.off("o"), lO = a.off("lse");
        int n = a.i("n"), D = x.D, S = x.S, K = x.K;
        Parallel.forEach(x.B * x.L * x.H, item -> {
            int h = item % x.H, bt = item / x.H, t = bt % x.L, b = bt / x.L, nv = x.valid(t);
            float[] s = new float[S];
            for (int g = 0; g < x.G; g++) {
                int row = (bt * x.HQ + h * x.G + g);
                float[] acc = new float[D];
                for (int slot = 0; slot < K; slot++) {
                    if (slot >= nv) {
                        lse[lO + row * K + slot] = 0f;
                        continue;
                    }
                    int c = idx[iO + item * K + slot];
                    float wk = w[wO + item * K + slot];
                    float l = chunkScores(q, qO + row * D, k, kO, x, b, c, h, s, x.scale, n);
                    lse[lO + row * K + slot] = l;
                    for (int j = 0; j < S; j++) {
                        float p = (float) Math.exp(s[j] - l);
                        int vr = vO + kvRow(x, b, c * S + j, h);
                        for (int d = 0; d < D; d++) acc[d] += wk * p * v[vr + d];
                    }
                }
                System.arraycopy(acc, 0, o, oO + row * D, D);
            }
        });
    }

    private static void backwardQJava(KernelArgs a, Dims x) {
        float[] q = a.f32("q"), k = a.f32("k"), v = a.f32("v"), w = a.f32("weights"), dout = a.f32("dout"), lse = a.f32("lse");
        float[] dq = a.f32("dq"), dw = a.f32("dweights"), delta = a.f32("delta");
        int[] idx = a.i32("indices");
        int qO = a.off("q"), kO = a.off("k"), vO = a.off("v"), wO = a.off("weights"), iO = a.off("indices"), doO = a.off("dout"), lO = a.off("lse");
        int dqO = a.off("dq"), dwO = a.off("dweights"), deO = a.off("delta");
        int D = x.D, S = x.S, K = x.K;
        Parallel.forEach(x.B * x.L * x.H, item -> {
            int h = item % x.H, bt = item / x.H, t = bt % x.L, b = bt / x.L, nv = x.valid(t);
            float[] p = new float[S], dp = new float[S];
            float[] dwSum = new float[K];
            for (int g = 0; g < x.G; g++) {
                int row = bt * x.HQ + h * x.G + g;
                float[] acc = new float[D];
                for (int slot = 0; slot < K; slot++) {
                    if (slot >= nv) {
                        delta[deO + row * K + slot] = 0f;
                        continue;
                    }
                    int c = idx[iO + item * K + slot];
                    float wk = w[wO + item * K + slot];
                    float l = lse[lO + row * K + slot];
                    float dl = 0f;
                    for (int j = 0; j < S; j++) {
                        int kr = kO + kvRow(x, b, c * S + j, h), vr = vO + kvRow(x, b, c * S + j, h);
                        float sc = 0f, dpj = 0f;
                        for (int d = 0; d < D; d++) {
                            sc += q[qO + row * D + d] * k[kr + d];
                            dpj += dout[doO + row * D + d] * v[vr + d];
                        }
                        p[j] = (float) Math.exp(x.scale * sc - l);
                        dp[j] = dpj;
                        dl += p[j] * dpj;
                    }
                    delta[deO + row * K + slot] = dl;
                    dwSum[slot] += dl;
                    for (int j = 0; j < S; j++) {
                        float ds = wk * p[j] * (dp[j] - dl);
                        int kr = kO + kvRow(x, b, c * S + j, h);
                        for (int d = 0; d < D; d++) acc[d] += ds * k[kr + d];
                    }
                }
                for (int d = 0; d < D; d++) dq[dqO + row * D + d] = x.scale * acc[d];
            }
            System.arraycopy(dwSum, 0, dw, dwO + item * K, K);
        });
    }

    private static void backwardKvJava(KernelArgs a, Dims x) {
        float[] q = a.f32("q"), w = a.f32("weights"), dout = a.f32("dout"), lse = a.f32("lse"), delta = a.f32("delta");
        float[] k = a.f32("k"), v = a.f32("v"), dk = a.f32("dk"), dv = a.f32("dv");
        int[] start = a.i32("chunkStart"), entries = a.i32("entries");
        int qO = a.off("q"), kO = a.off("k"), vO = a.off("v"), wO = a.off("weights"), doO = a.off("dout"), lO = a.off("lse"), deO = a.off("delta");
        int csO = a.off("chunkStart"), eO = a.off("entries"), dkO = a.off("dk"), dvO = a.off("dv");
        int D = x.D, S = x.S, K = x.K, C = x.C;
        Parallel.forEach(x.B * x.H * C, bhc -> {
            int c = bhc % C, bh = bhc / C, b = bh / x.H, h = bh % x.H;
            float[] accK = new float[S * D], accV = new float[S * D];
            int first = start[csO + bh * (C + 1) + c], last = start[csO + bh * (C + 1) + c + 1];
            for (int e = first; e < last; e++) {
                int entry = entries[eO + e], t = entry / K, slot = entry % K, bt = b * x.L + t;
                float wk = w[wO + (bt * x.H + h) * K + slot];
                for (int g = 0; g < x.G; g++) {
                    int row = bt * x.HQ + h * x.G + g;
                    float l = lse[lO + row * K + slot], dl = delta[deO + row * K + slot];
                    for (int j = 0; j < S; j++) {
                        int kr = kvRow(x, b, c * S + j, h);
                        float sc = 0f, dpj = 0f;
                        for (int d = 0; d < D; d++) {
                            sc += q[qO + row * D + d] * k[kO + kr + d];
                            dpj += dout[doO + row * D + d] * v[vO + kr + d];
                        }
                        float wp = wk * (float) Math.exp(x.scale * sc - l);
                        float ds = wp * (dpj - dl);
                        for (int d = 0; d < D; d++) {
                            accV[j * D + d] += wp * dout[doO + row * D + d];
                            accK[j * D + d] += ds * q[qO + row * D + d];
                        }
                    }
                }
            }
            for (int j = 0; j < S; j++) {
                int kr = kvRow(x, b, c * S + j, h);
                for (int d = 0; d < D; d++) {
                    dk[dkO + kr + d] = x.scale * accK[j * D + d];
                    dv[dvO + kr + d] = accV[j * D + d];
                }
            }
        });
    }

    /** Scores of one query row against chunk c into {@code s}; returns log(sum exp(s) + n), computed stably. */
    private static float chunkScores(float[] q, int qRow, float[] k, int kO, Dims x, int b, int c, int h, float[] s, float scale, int n) {
        float m = Float.NEGATIVE_INFINITY;
        for (int j = 0; j < x.S; j++) {
            int kr = kO + kvRow(x, b, c * x.S + j, h);
            float dot = 0f;
            for (int d = 0; d < x.D; d++) dot += q[qRow + d] * k[kr + d];
            s[j] = scale * dot;
            m = Math.max(m, s[j]);
        }
        float mm = n > 0 ? Math.max(m, 0f) : m;
        double sum = n > 0 ? n * Math.exp(-mm) : 0;
        for (int j = 0; j < x.S; j++) sum += Math.exp(s[j] - mm);
        return mm + (float) Math.log(sum);
    }

    /** Offset of row (b, position, h) in a [B, Lkv, H, D] tensor. */
    private static int kvRow(Dims x, int b, int position, int h) { return ((b * x.lkv() + position) * x.H + h) * x.D; }
}
