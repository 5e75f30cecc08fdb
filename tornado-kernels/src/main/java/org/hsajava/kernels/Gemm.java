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

    /** A cached variant: entry point, transposes, tiles (gemm_tiled), unguarded or not, work-items per group along M (gemm_cpu). */
    private record Key(String entry, boolean transA, boolean transB, GemmTiling tiling, boolean exact, int group) {
        Key(String entry, boolean transA, boolean transB, GemmTiling tiling, boolean exact) { this(entry, transA, transB, tiling, exact, 0); }
    }

    private static final Map<Key, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** The tuned kernel with the GPU tiles, guarded for any size. */
    public static KernelDef kernel(boolean transA, boolean transB) { return kernel(transA, transB, GemmTiling.GPU); }

    /** The tuned kernel with the given tiles, guarded for any size. */
    public static KernelDef kernel(boolean transA, boolean transB, GemmTiling tiling) {
        return CACHE.computeIfAbsent(new Key("gemm_tiled", transA, transB, tiling, false), Gemm::build);
    }

    /** The tuned kernel without bounds guards: M, N and K must be positive multiples of the tiles. */
    public static KernelDef exact(boolean transA, boolean transB, GemmTiling tiling) {
        return CACHE.computeIfAbsent(new Key("gemm_tiled", transA, transB, tiling, true), Gemm::build);
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
     * Whether GEMMs use TF32 tensor cores where {@link TensorCores#enabled}: opt-in (property
     * {@code hsa.tc.gemm=on}) because this first version is slower where it matters. H100, 2026-11-24
     * ({@code ./hsa bench gemm --sizes 1024,2048,4096}): 47.4 TFLOP/s at 4096³ against 40.7 for the
     * fp32 kernel, and small-gpu training at 66.9k tokens/s against 79.6k with the fp32 GEMMs (loss
     * equal to 3e-5 after 30 steps). One 256-work-item group per SM (37 KiB of local memory, ~150
     * registers) with two barriers per K-step of 32 leaves the tensor cores waiting. Tuning runs:
     * {@code hsa.tc.gemm.tk=16} (54.8 TFLOP/s at 4096), {@code hsa.tc.gemm.maxrreg=N} (NVIDIA's register
     * cap: no measurable change). The next version needs double-buffered staging and bf16 inputs
     * (BENCHMARKS.md).
     */
    static final boolean TC_GEMM = TensorCores.isOn(System.getProperty("hsa.tc.gemm"));

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
        return CACHE.computeIfAbsent(new Key("gemm_cpu", transA, transB, null, false, group), Gemm::build);
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
        KernelDef.Builder b = signature(key.entry(), key);
        GemmTiling t = key.tiling();
        if (t == null) {
            return b.check(a -> checkArgs(a, key.transA(), key.transB()))
                    .grid(a -> WorkerGrid.of3D(a.i("N"), a.i("M"), a.i("batch"), NAIVE_TILE, NAIVE_TILE, 1))
                    .build();
        }
        b.define("GEMM_TM", t.tm()).define("GEMM_TN", t.tn()).define("GEMM_TK", t.tk())
                .define("GEMM_WM", t.wm()).define("GEMM_WN", t.wn()).define("GEMM_EXACT", key.exact() ? 1 : 0)
                .variant(info -> TC_GEMM && TensorCores.enabled(info) ? tensorCores(key.transA(), key.transB()) : null);
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
