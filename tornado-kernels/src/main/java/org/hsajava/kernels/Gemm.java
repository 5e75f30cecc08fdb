package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.Checks;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.compute.java.Parallel;

/**
 * Batched row-major GEMM (source {@code kernels/gemm.cl}):
 * {@code C[b] = alpha * op(A[b]) * op(B[b]) + beta * C[b]} for {@code 0 <= b < batch}.
 *
 * <p>Arguments, in this order: {@code A, B, C, M, N, K, lda, ldb, ldc, strideA, strideB, strideC,
 * batch, alpha, beta}. op(A) is M x K, op(B) is K x N, C is M x N. {@code lda/ldb/ldc} are the row
 * strides of the matrices as stored (A is stored M x K, or K x M when transposed; B is stored K x N,
 * or N x K when transposed); {@code strideA/B/C} are the element distances between batch items (0
 * broadcasts one A or B to every item). With {@code beta == 0} C is write-only.
 *
 * <p>A GEMM needs no backward kernel: for {@code C = op(A) op(B)}, {@code d op(A) = dC op(B)^T}
 * and {@code d op(B) = op(A)^T dC}, which are GEMMs with other transposes.
 *
 * <p>Variants are cached: {@link #kernel(boolean, boolean)} (the tuned kernel, GPU tiles),
 * {@link #kernel(boolean, boolean, GemmTiling)}, {@link #exact} (no bounds guards, for sizes that
 * are tile multiples), {@link #naive} (the 16x16 baseline), {@link #cpu} (the CPU kernel) and
 * {@link #select}, which picks the CPU kernel on CPU devices, else the tiles for the device and the
 * unguarded variant when the sizes allow.
 */
public final class Gemm {
    private Gemm() {}

    private static final String SOURCE = "kernels/gemm.cl";
    private static final int NAIVE_TILE = 16;

    /**
     * A cached variant: entry point, transposes, tiles (gemm_tiled), unguarded or not, work-items per
     * group along M (gemm_cpu), the precision of its tensor-core variant (gemm_tiled).
     */
    private record Key(String entry, boolean transA, boolean transB, GemmTiling tiling, boolean exact, int group, Precision precision) {
        Key(String entry, boolean transA, boolean transB, GemmTiling tiling, boolean exact) { this(entry, transA, transB, tiling, exact, 0, Precision.FP32); }

        Key(String entry, boolean transA, boolean transB, GemmTiling tiling, boolean exact, Precision precision) {
            this(entry, transA, transB, tiling, exact, 0, precision);
        }
    }

    private static final Map<Key, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** The tuned kernel with the GPU tiles, guarded for any size. */
    public static KernelDef kernel(boolean transA, boolean transB) { return kernel(transA, transB, GemmTiling.GPU); }

    /** The tuned kernel with the given tiles, guarded for any size. */
    public static KernelDef kernel(boolean transA, boolean transB, GemmTiling tiling) {
        return CACHE.computeIfAbsent(new Key("gemm_tiled", transA, transB, tiling, false, precision), Gemm::build);
    }

    /** The tuned kernel without bounds guards: M, N and K must be positive multiples of the tiles. */
    public static KernelDef exact(boolean transA, boolean transB, GemmTiling tiling) {
        return CACHE.computeIfAbsent(new Key("gemm_tiled", transA, transB, tiling, true, precision), Gemm::build);
    }

    /** The deliberately naive baseline: 16x16 local-memory tiles, one element of C per work-item. */
    public static KernelDef naive(boolean transA, boolean transB) {
        return CACHE.computeIfAbsent(new Key("gemm_naive", transA, transB, null, false), Gemm::build);
    }

    /** As {@link #select(Device, boolean, boolean, int, int, int, int)} for one matrix (batch 1). */
    public static KernelDef select(Device device, boolean transA, boolean transB, int m, int n, int k) {
        return select(device, transA, transB, m, n, k, 1);
    }

    /**
     * The best variant for a device and sizes: on CPUs the {@link #cpu} kernel; elsewhere the tiles for the device type and problem size
     * ({@link GemmTiling#forProblem}), unguarded when they divide M, N and K.
     */
    public static KernelDef select(Device device, boolean transA, boolean transB, int m, int n, int k, int batch) {
        return useCpuKernel(device.info()) ? cpu(transA, transB, cpuGroup(m)) : tiled(device.info(), transA, transB, m, n, k, batch);
    }

    /** The tiled kernel for a device and sizes ({@link GemmTiling#forProblem}), unguarded when the tiles divide M, N and K. */
    static KernelDef tiled(DeviceInfo info, boolean transA, boolean transB, int m, int n, int k, int batch) {
        GemmTiling t = GemmTiling.forProblem(info, m, n, batch);
        return m > 0 && n > 0 && k > 0 && t.divides(m, n, k) ? exact(transA, transB, t) : kernel(transA, transB, t);
    }

    /**
     * What a GEMM's products are computed in on devices with tensor cores ({@link TensorCores#enabled}:
     * NVIDIA, compute capability 8.0 or more); every other device computes in fp32 whatever is asked.
     * Inputs and outputs stay fp32 in memory; accumulation is fp32 in every case.
     * <ul>
     *   <li>{@code FP32}: the portable fp32 kernels (the default);
     *   <li>{@code TF32}: {@link #tensorCores}, inputs rounded to TF32 (10 mantissa bits). Slower than
     *       fp32 where it matters: H100, 2026-11-24, 47.4 TFLOP/s at 4096³ against 40.7 for fp32 and
     *       small-gpu training at 66.9k tokens/s against 79.6k (BENCHMARKS.md);
     *   <li>{@code BF16}: {@link #bf16}, inputs rounded to bf16 (8 mantissa bits), as PyTorch's bf16
     *       autocast matmuls. H100, 2026-12-06 (BENCHMARKS.md): 138 TFLOP/s at 4096³; small-gpu
     *       training, with the weight gradients split over the tokens ({@link GemmSplitK}), at 136.5k
     *       tokens/s against 90.8k with fp32 GEMMs; losses within 0.0013 of fp32's over 60 steps.
     * </ul>
     */
    public enum Precision {
        FP32, TF32, BF16;

        /** "fp32" (also off/false/0/no), "tf32" (also on/true/1/yes, the old opt-in switch) or "bf16". */
        public static Precision parse(String text) {
            if (text == null || TensorCores.isOff(text) || text.trim().equalsIgnoreCase("fp32")) return FP32;
            if (TensorCores.isOn(text) || text.trim().equalsIgnoreCase("tf32")) return TF32;
            if (text.trim().equalsIgnoreCase("bf16")) return BF16;
            throw new IllegalArgumentException("GEMM precision must be fp32, tf32 or bf16, got '" + text + "'");
        }

        public String jsonName() { return name().toLowerCase(java.util.Locale.ROOT); }

        /** The names a config may give: fp32, tf32, bf16. */
        public static java.util.List<String> jsonNames() { return Arrays.stream(values()).map(Precision::jsonName).toList(); }
    }

    /** Property that sets the process's initial {@link #precision()}: {@code -Dhsa.tc.gemm=fp32|tf32|bf16}. */
    public static final String PRECISION_PROPERTY = "hsa.tc.gemm";

    private static volatile Precision precision = Precision.parse(System.getProperty(PRECISION_PROPERTY));

    /**
     * The precision of the GEMMs that {@link #kernel} and {@link #select} hand out from now on (their
     * tensor-core variant; a definition keeps the precision it was selected with).
     */
    public static Precision precision() { return precision; }

    /** Sets {@link #precision()} for GEMMs selected after this call (a training run sets its config's); returns the previous one. */
    public static Precision usePrecision(Precision p) {
        Precision old = precision;
        precision = java.util.Objects.requireNonNull(p, "precision");
        return old;
    }

    /** The tensor-core variant the tuned kernels take on devices where {@link TensorCores#enabled}, or null. */
    private static KernelDef tensorCoreVariant(DeviceInfo info, Precision p, boolean transA, boolean transB) {
        if (!TensorCores.enabled(info)) return null;
        return switch (p) {
            case FP32 -> null;
            case TF32 -> tensorCores(transA, transB);
            case BF16 -> bf16(transA, transB);
        };
    }

    /**
     * What GEMMs asked for at precision {@code p} compute in on this device, e.g. "bf16-tc", "fp32 (bf16
     * needs tensor cores)", or on a device with tensor cores "fp32 (bf16 available: matmul_precision)".
     */
    public static String describe(DeviceInfo info, Precision p) {
        if (p == Precision.FP32) return TensorCores.enabled(info) ? "fp32 (bf16 available: matmul_precision)" : "fp32";
        return TensorCores.enabled(info) ? p.jsonName() + "-tc" : "fp32 (" + p.jsonName() + " needs tensor cores)";
    }

    /**
     * The bf16 tensor-core kernel ({@code gemm_bf16}: fp32 matrices in and out, inputs rounded to bf16
     * when staged, mma.sync.m16n8k16 with fp32 accumulation; NVIDIA, compute capability 8.0 or more),
     * guarded for any size. Block tiles {@link Bf16Tiling#DEFAULT}, or properties
     * {@code hsa.tc.gemm.bf16.tiles=TMxTNxTK/WARPS_MxWARPS_N} for tuning runs.
     */
    static KernelDef bf16(boolean transA, boolean transB) {
        return CACHE.computeIfAbsent(new Key("gemm_bf16", transA, transB, null, false), Gemm::build);
    }

    /** {@link #bf16} with its PTX emulated in portable OpenCL C and 64 x 64 blocks of 2 x 2 warps, for tests on PoCL and oclgrind. */
    static KernelDef bf16Emulated(boolean transA, boolean transB) {
        return CACHE.computeIfAbsent(new Key("gemm_bf16_emulated", transA, transB, null, false), Gemm::build);
    }

    /** Blocks of gemm_bf16: a group of warpsM x warpsN warps computes tm x tn of C per K-tile of tk. */
    record Bf16Tiling(int tm, int tn, int tk, int warpsM, int warpsN) {
        static final Bf16Tiling DEFAULT = new Bf16Tiling(128, 128, 32, 2, 4);
        static final Bf16Tiling EMULATED = new Bf16Tiling(64, 64, 32, 2, 2);

        Bf16Tiling {
            int threads = 32 * warpsM * warpsN;
            if (tk % 16 != 0 || tm % (16 * warpsM) != 0 || tn % (16 * warpsN) != 0 || tm * tk / 2 % threads != 0 || tn * tk / 2 % threads != 0) {
                throw new IllegalArgumentException("bf16 GEMM tiles " + this + ": TK must be a multiple of 16, the warp tiles of 16, and each staged tile a whole number of pairs per work-item");
            }
        }

        int threads() { return 32 * warpsM * warpsN; }

        /** Parses {@code TMxTNxTK/WMxWN}, e.g. {@code 128x128x32/2x4}. */
        static Bf16Tiling parse(String text) {
            String[] parts = text.trim().split("/");
            String[] t = parts[0].split("x");
            String[] w = parts.length == 2 ? parts[1].split("x") : new String[0];
            if (t.length != 3 || w.length != 2) throw new IllegalArgumentException("hsa.tc.gemm.bf16.tiles: expected TMxTNxTK/WMxWN, got '" + text + "'");
            return new Bf16Tiling(Integer.parseInt(t[0]), Integer.parseInt(t[1]), Integer.parseInt(t[2]), Integer.parseInt(w[0]), Integer.parseInt(w[1]));
        }

        @Override
        public String toString() { return tm + "x" + tn + "x" + tk + "/" + warpsM + "x" + warpsN; }
    }

    private static KernelDef buildBf16(Key key, boolean emulated) {
        String tiles = System.getProperty("hsa.tc.gemm.bf16.tiles");
        Bf16Tiling t = emulated ? Bf16Tiling.EMULATED : tiles != null ? Bf16Tiling.parse(tiles) : Bf16Tiling.DEFAULT;
        KernelDef.Builder b = signature("gemm_bf16", key).define("GEMM_BF16", 1)
                .define("BF_TM", t.tm()).define("BF_TN", t.tn()).define("BF_TK", t.tk())
                .define("BF_WARPS_M", t.warpsM()).define("BF_WARPS_N", t.warpsN());
        if (emulated) b.define("TC_EMULATE", 1);
        // comparisons: -Dhsa.tc.gemm.bf16.interior=off guards every fetch (gemm_bf16_fetch)
        if (TensorCores.isOff(System.getProperty("hsa.tc.gemm.bf16.interior"))) b.define("BF_FETCH_INTERIOR", 0);
        // tuning runs on NVIDIA: a register cap (2 groups of 256 per SM need <= 128)
        Integer maxrreg = Integer.getInteger("hsa.tc.gemm.maxrreg");
        if (maxrreg != null && !emulated) b.compilerOption("-cl-nv-maxrregcount=" + maxrreg);
        return b.check(a -> checkArgs(a, key.transA(), key.transB()))
                .grid(a -> WorkerGrid.of3D((long) ceilDiv(a.i("N"), t.tn()) * t.threads(), ceilDiv(a.i("M"), t.tm()), a.i("batch"), t.threads(), 1, 1))
                .build();
    }

    /** Block tile of the tensor-core kernel ({@code gemm_tc}): 128 x 128, 256 work-items. */
    static final int TC_TILE = 128, TC_THREADS = 256;

    /**
     * The tensor-core kernel ({@code gemm_tc}: TF32 mma.sync, fp32 accumulation; the variant that
     * {@link KernelDef#forDevice} picks for the tuned kernels on NVIDIA GPUs of compute capability
     * 8.0 or more), guarded for any size.
     */
    static KernelDef tensorCores(boolean transA, boolean transB) {
        return CACHE.computeIfAbsent(new Key("gemm_tc", transA, transB, null, false), Gemm::build);
    }

    /**
     * {@link #tensorCores} with its PTX emulated in portable OpenCL C and 64 x 64 blocks (warp tiles
     * 32 x 16): tests on PoCL and oclgrind check the fragment bookkeeping.
     */
    static KernelDef tensorCoresEmulated(boolean transA, boolean transB) {
        return CACHE.computeIfAbsent(new Key("gemm_tc_emulated", transA, transB, null, false), Gemm::build);
    }

    /**
     * Whether {@link #select} picks {@link #cpu}: on CPU devices, unless switched off
     * ({@code -Dhsa.cpu.gemm=off}, for comparisons).
     */
    static boolean useCpuKernel(DeviceInfo info) { return CPU_GEMM && info.type() == DeviceInfo.Type.CPU; }

    static final boolean CPU_GEMM = !TensorCores.isOff(System.getProperty("hsa.cpu.gemm"));

    /**
     * The CPU kernel ({@code gemm_cpu}): each work-item's block of C in float16 vectors for the whole
     * K loop, one pair of barriers per K-block (gemm.cl says why that matters on PoCL). Guarded for
     * any size. PoCL, 2 cores (AMD EPYC, AVX-512), 2026-12-05: see BENCHMARKS.md.
     */
    public static KernelDef cpu(boolean transA, boolean transB) { return cpu(transA, transB, CPU_GY); }

    /** {@link #cpu} with {@code group} work-items per group along M (a power of two). */
    static KernelDef cpu(boolean transA, boolean transB, int group) {
        if (group < 1 || Integer.bitCount(group) != 1) throw new IllegalArgumentException("gemm_cpu group must be a power of two, got " + group);
        return CACHE.computeIfAbsent(new Key("gemm_cpu", transA, transB, null, false, group, Precision.FP32), Gemm::build);
    }

    /**
     * Work-items per gemm_cpu group along M for M rows: {@link #CPU_GY}, or fewer (down to 4) where
     * rounding the row blocks up to whole groups would leave more than an eighth of the work-items
     * idle. The weight gradients have M = a layer's output size: M = 64 left half of the 16 idle
     * (35 against 56 GFLOP/s with 8, PoCL, 2026-12-05, {@code ./hsa bench gemm --shapes 64x128x4096:tn}),
     * the LM head's 260 a third (41 against 55 with 4).
     */
    static int cpuGroup(int m) {
        int blocks = Math.max(1, ceilDiv(m, CPU_RM));
        int g = CPU_GY;
        while (g > 4 && (long) (ceilDiv(blocks, g) * g - blocks) * 8 > blocks) g /= 2;
        return g;
    }

    /**
     * gemm_cpu's blocks: a work-item owns CPU_RM rows x CPU_CN float16 vectors of columns of C; a
     * group has CPU_GY work-items along M and steps through K in blocks of CPU_KB (tuning runs:
     * properties hsa.cpu.gemm.rm, .cn, .gy, .kb).
     */
    static final int CPU_RM = Integer.getInteger("hsa.cpu.gemm.rm", 8), CPU_CN = Integer.getInteger("hsa.cpu.gemm.cn", 2),
            CPU_GY = Integer.getInteger("hsa.cpu.gemm.gy", 16), CPU_KB = Integer.getInteger("hsa.cpu.gemm.kb", 128);

    private static KernelDef buildCpu(Key key) {
        return signature("gemm_cpu", key).define("GEMM_CPU", 1)
                .define("CPU_RM", CPU_RM).define("CPU_CN", CPU_CN).define("CPU_GY", key.group()).define("CPU_KB", CPU_KB)
                .check(a -> checkArgs(a, key.transA(), key.transB()))
                .grid(a -> WorkerGrid.of3D(ceilDiv(a.i("N"), 16 * CPU_CN), ceilDiv(a.i("M"), CPU_RM), a.i("batch"), 1, key.group(), 1))
                .build();
    }

    private static KernelDef build(Key key) {
        if (key.entry().equals("gemm_cpu")) return buildCpu(key);
        if (key.entry().startsWith("gemm_tc")) return buildTensorCores(key, key.entry().endsWith("emulated"));
        if (key.entry().startsWith("gemm_bf16")) return buildBf16(key, key.entry().endsWith("emulated"));
        KernelDef.Builder b = signature(key.entry(), key);
        GemmTiling t = key.tiling();
        if (t == null) {
            return b.check(a -> checkArgs(a, key.transA(), key.transB()))
                    .grid(a -> WorkerGrid.of3D(a.i("N"), a.i("M"), a.i("batch"), NAIVE_TILE, NAIVE_TILE, 1))
                    .build();
        }
        b.define("GEMM_TM", t.tm()).define("GEMM_TN", t.tn()).define("GEMM_TK", t.tk())
                .define("GEMM_WM", t.wm()).define("GEMM_WN", t.wn()).define("GEMM_EXACT", key.exact() ? 1 : 0)
                .variant(info -> tensorCoreVariant(info, key.precision(), key.transA(), key.transB()));
        return b.check(a -> {
                    checkArgs(a, key.transA(), key.transB());
                    if (key.exact()) checkTileMultiples(a, t);
                })
                .grid(a -> WorkerGrid.of3D(
                        (long) ceilDiv(a.i("N"), t.tn()) * t.workGroupX(), (long) ceilDiv(a.i("M"), t.tm()) * t.workGroupY(), a.i("batch"),
                        t.workGroupX(), t.workGroupY(), 1))
                .build();
    }

    /** What every GEMM kernel shares: the arguments, the transposes and the Java reference. */
    private static KernelDef.Builder signature(String entry, Key key) {
        return KernelDef.builder(entry, SOURCE)
                .in("A", F32).in("B", F32).inOut("C", F32)
                .intArg("M").intArg("N").intArg("K").intArg("lda").intArg("ldb").intArg("ldc")
                .intArg("strideA").intArg("strideB").intArg("strideC").intArg("batch")
                .floatArg("alpha").floatArg("beta")
                .define("TRANS_A", key.transA() ? 1 : 0).define("TRANS_B", key.transB() ? 1 : 0)
                .java(a -> reference(a, key.transA(), key.transB()));
    }

    private static KernelDef buildTensorCores(Key key, boolean emulated) {
        KernelDef.Builder b = signature("gemm_tc", key).define("GEMM_TC", 1).define("GEMM_EXACT", 0);
        // the emulation (tests) with 64 x 64 blocks: its local memory then fits oclgrind's 32 KiB
        int tile = emulated ? 64 : TC_TILE;
        if (emulated) b.define("TC_EMULATE", 1).define("TC_TM", tile).define("TC_TN", tile);
        // tuning runs on NVIDIA: K-step (16 or 32) and a register cap for more groups per SM
        Integer tk = Integer.getInteger("hsa.tc.gemm.tk"), maxrreg = Integer.getInteger("hsa.tc.gemm.maxrreg");
        if (tk != null) b.define("TC_TK", tk);
        if (maxrreg != null && !emulated) b.compilerOption("-cl-nv-maxrregcount=" + maxrreg);
        return b.check(a -> checkArgs(a, key.transA(), key.transB()))
                .grid(a -> WorkerGrid.of3D((long) ceilDiv(a.i("N"), tile) * TC_THREADS, ceilDiv(a.i("M"), tile), a.i("batch"), TC_THREADS, 1, 1))
                .build();
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }

    // ------------------------------------------------------------------------------------ checks

    static void checkArgs(KernelArgs a, boolean transA, boolean transB) {
        for (String s : new String[] {"M", "N", "K", "strideA", "strideB", "strideC"}) Checks.positive(a, s, true);
        Checks.positive(a, "batch", false);
        int m = a.i("M"), n = a.i("N"), k = a.i("K"), batch = a.i("batch");
        // stored shapes: rows x cols with row stride ld
        checkMatrix(a, "A", "lda", "strideA", transA ? k : m, transA ? m : k, batch);
        checkMatrix(a, "B", "ldb", "strideB", transB ? n : k, transB ? k : n, batch);
        checkMatrix(a, "C", "ldc", "strideC", m, n, batch);
        long footprintC = m == 0 || n == 0 ? 0 : (long) (m - 1) * a.i("ldc") + n;
        if (batch > 1 && a.i("strideC") < footprintC) {
            throw new IllegalArgumentException("argument 'strideC' (" + a.i("strideC") + ") is smaller than one C matrix (" + footprintC
                    + " elements): batch items would overlap and race");
        }
    }

    private static void checkMatrix(KernelArgs a, String buf, String ld, String stride, int rows, int cols, int batch) {
        int l = a.i(ld);
        if (l < Math.max(1, cols)) throw new IllegalArgumentException("argument '" + ld + "' (" + l + ") is smaller than the " + cols + " columns of stored " + buf);
        if (rows == 0 || cols == 0) return;
        long needed = (long) (batch - 1) * a.i(stride) + (long) (rows - 1) * l + cols;
        Checks.atLeast(a, buf, needed);
    }

    private static void checkTileMultiples(KernelArgs a, GemmTiling t) {
        int[] tile = {t.tm(), t.tn(), t.tk()};
        String[] dim = {"M", "N", "K"};
        for (int i = 0; i < 3; i++) {
            int v = a.i(dim[i]);
            if (v <= 0 || v % tile[i] != 0) {
                throw new IllegalArgumentException("argument '" + dim[i] + "' (" + v + ") must be a positive multiple of " + tile[i] + " for the unguarded GEMM with tiles " + t);
            }
        }
    }

    // --------------------------------------------------------------------------- Java reference

    /** The obvious loop, row by row of C (over all batch items), summing over k in order. */
    private static void reference(KernelArgs a, boolean transA, boolean transB) {
        float[] A = a.f32("A"), B = a.f32("B"), C = a.f32("C");
        int ao = a.off("A"), bo = a.off("B"), co = a.off("C");
        int m = a.i("M"), n = a.i("N"), k = a.i("K"), lda = a.i("lda"), ldb = a.i("ldb"), ldc = a.i("ldc");
        int sa = a.i("strideA"), sb = a.i("strideB"), sc = a.i("strideC"), batch = a.i("batch");
        float alpha = a.f("alpha"), beta = a.f("beta");
        if (m == 0 || n == 0) return;
        int grain = Math.max(1, (1 << 16) / Math.max(1, n * Math.max(1, k)));
        Parallel.forRange(batch * m, grain, (lo, hi) -> {
            float[] row = new float[n];
            for (int r = lo; r < hi; r++) {
                int b = r / m, i = r % m;
                int ab = ao + b * sa, bb = bo + b * sb, cb = co + b * sc + i * ldc;
                Arrays.fill(row, 0f);
                for (int kk = 0; kk < k; kk++) {
                    float aik = transA ? A[ab + kk * lda + i] : A[ab + i * lda + kk];
                    if (transB) {
                        for (int j = 0; j < n; j++) row[j] += aik * B[bb + j * ldb + kk];
                    } else {
                        int bk = bb + kk * ldb;
                        for (int j = 0; j < n; j++) row[j] += aik * B[bk + j];
                    }
                }
                for (int j = 0; j < n; j++) C[cb + j] = beta == 0f ? alpha * row[j] : alpha * row[j] + beta * C[cb + j];
            }
        });
    }
}
