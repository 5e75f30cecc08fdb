package org.hsajava.kernels;

import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;

/**
 * GEMMs split over K, deterministically, for problems whose output has too few blocks to keep a GPU
 * busy while K is long: the weight gradients {@code dW = dYᵀ·X}, where M x N is a layer's weight and
 * K the batch's tokens. small-gpu's 512 x 512 x 32768 is 16 blocks of 128 x 128 for the H100's 132
 * SMs: one launch runs on an eighth of the chip.
 *
 * <p>Split into s slices of K/s, the GEMM becomes two tasks:
 * <ol>
 *   <li>one batched {@link Gemm} launch whose batch item i is slice i (the batch strides step along K
 *       in A and B): {@code W[i] = alpha · op(A)[:, Ki] · op(B)[Ki, :]} into a workspace {@code [s][M][N]};
 *   <li>{@link Reduce#COLUMN_SUM}: {@code C = beta · C + Σ_i W[i]}, the slices added in order.
 * </ol>
 * No atomics: every run gives the same bits (not those of the unsplit GEMM, whose sums run in another
 * order). CPUs never split: there one work-group per core is already plenty. {@code -Dhsa.gemm.splitk=off}
 * switches splitting off (for comparisons).
 */
public final class GemmSplitK {
    private GemmSplitK() {}

    /** Floats in a workspace (32 MiB): enough for one wave of 128 x 128 blocks on any GPU of up to 512 compute units. */
    public static final int WORKSPACE_FLOATS = 8 << 20;
    /** The output block of the GPU GEMM kernels (gemm_tiled's GPU tiles, gemm_tc, gemm_bf16's default). */
    static final int BLOCK = 128;
    /** The shortest slice of K worth a launch: 8 K-steps of gemm_bf16, 64 of gemm_tiled. */
    static final int MIN_SLICE = 256;
    /** The most slices tried. */
    static final int MAX_SLICES = 64;

    /** False with {@code -Dhsa.gemm.splitk=off}. */
    static final boolean ENABLED = !TensorCores.isOff(System.getProperty("hsa.gemm.splitk"));

    /** A workspace for {@link #append}; a graph may share one between all its split GEMMs (they run one after another). */
    public static Tensor workspace(String name) { return Tensor.f32(name, WORKSPACE_FLOATS); }

    /**
     * How many slices of K a GEMM of M x N x K (batch 1) takes on this device: 1 on CPUs, when the
     * M x N output already fills the compute units, or when no split helps. Otherwise the divisor s of
     * K (slices of at least {@link #MIN_SLICE}, s·M·N within the workspace) that fills the waves of
     * work-groups best, counting one 128 x 128 block per compute unit at a time; the smallest such s.
     */
    public static int slices(DeviceInfo info, int m, int n, int k) { return slices(info, m, n, k, BLOCK, BLOCK, 1); }

    /** As above for a kernel of {@code blockM x blockN} output blocks whose K must be a multiple of {@code kMultiple}. */
    static int slices(DeviceInfo info, int m, int n, int k, int blockM, int blockN, int kMultiple) {
        if (!ENABLED || info.type() != DeviceInfo.Type.GPU && info.type() != DeviceInfo.Type.ACCELERATOR) return 1;
        int units = Math.max(1, info.computeUnits());
        long blocks = (long) ceilDiv(m, blockM) * ceilDiv(n, blockN);
        if (blocks >= units) return 1;
        int best = 1;
        double bestFill = (double) blocks / units;
        for (int s = 2; s <= MAX_SLICES; s++) {
            if (k % s != 0 || k / s < MIN_SLICE || (k / s) % kMultiple != 0 || (long) s * m * n > WORKSPACE_FLOATS) continue;
            long groups = blocks * s;
            double fill = (double) groups / ((groups + units - 1) / units * units);
            if (fill > bestFill + 0.02) {
                best = s;
                bestFill = fill;
            }
        }
        return best;
    }

    /**
     * Appends {@code C = alpha · op(A) · op(B) + beta · C} (batch 1; A, B, C stored as for {@link Gemm},
     * C contiguous with row stride N) as task {@code name}: split over K by {@link #slices} when
     * {@code beta} is 0 or 1 (then with a second task {@code name + ".sum"}), else one launch.
     */
    public static void append(TaskGraph g, String name, Device device, boolean transA, boolean transB, Tensor a, Tensor b, Tensor c,
                              int m, int n, int k, int lda, int ldb, float alpha, float beta, Tensor workspace) {
        int s = beta == 0f || beta == 1f ? slices(device.info(), m, n, k) : 1;
        append(g, name, device, transA, transB, a, b, c, m, n, k, lda, ldb, alpha, beta, workspace, s);
    }

    /** {@link #append} with a given number of slices (a divisor of K; 1: one plain launch). Tests force splits with it. */
    static void append(TaskGraph g, String name, Device device, boolean transA, boolean transB, Tensor a, Tensor b, Tensor c,
                       int m, int n, int k, int lda, int ldb, float alpha, float beta, Tensor workspace, int s) {
        append(g, name, s == 1 ? Gemm.select(device, transA, transB, m, n, k) : Gemm.select(device, transA, transB, m, n, k / s, s),
                transA, transB, a, b, c, m, n, k, lda, ldb, alpha, beta, workspace, s);
    }

    /**
     * The weight gradient {@code C = alpha · Aᵀ · B + beta · C} on bf16 storage (A [K x M], B [K x N],
     * row strides lda and ldb; C [M x N] contiguous) on Hopper's warpgroup MMA
     * ({@link GemmBf16Wgmma#weightGradientKernel}), split over K for its blocks of 128 x 256 (or 128).
     * The sizes must fit the kernel's tiles ({@link GemmBf16Wgmma#fits}).
     */
    public static void appendBf16Wgmma(TaskGraph g, String name, Device device, Tensor a, Tensor b, Tensor c,
                                       int m, int n, int k, int lda, int ldb, float alpha, float beta, Tensor workspace) {
        int s = beta == 0f || beta == 1f ? slices(device.info(), m, n, k, 128, GemmBf16Wgmma.Tiling.nativeTiling(n).n(), 64) : 1;
        appendBf16Wgmma(g, name, a, b, c, m, n, k, lda, ldb, alpha, beta, workspace, s);
    }

    /** {@link #appendBf16Wgmma} in {@code s} slices (K / s a multiple of 64). Tests force splits with it. */
    static void appendBf16Wgmma(TaskGraph g, String name, Tensor a, Tensor b, Tensor c,
                                int m, int n, int k, int lda, int ldb, float alpha, float beta, Tensor workspace, int s) {
        append(g, name, GemmBf16Wgmma.weightGradientKernel(n), true, false, a, b, c, m, n, k, lda, ldb, alpha, beta, workspace, s);
    }

    /** {@link #append} with the kernel of the launch (of K/s when split; its contract that of {@link Gemm}). */
    private static void append(TaskGraph g, String name, KernelDef kernel, boolean transA, boolean transB, Tensor a, Tensor b, Tensor c,
                               int m, int n, int k, int lda, int ldb, float alpha, float beta, Tensor workspace, int s) {
        if (s == 1) {
            g.task(name, kernel, a, b, c, m, n, k, lda, ldb, n, 0, 0, 0, 1, alpha, beta);
            return;
        }
        if (s < 1 || k % s != 0) throw new IllegalArgumentException(name + ": " + s + " slices do not divide K = " + k);
        if (beta != 0f && beta != 1f) throw new IllegalArgumentException(name + ": a split GEMM needs beta 0 or 1, got " + beta);
        if ((long) s * m * n > workspace.size()) {
            throw new IllegalArgumentException(name + ": " + s + " slices of " + m + " x " + n + " need " + (long) s * m * n + " floats of workspace, " + workspace + " has " + workspace.size());
        }
        int ks = k / s;
        // slice i starts at row i*ks of a stored K x M (transposed) A, at column i*ks of a stored M x K one; likewise for B
        int strideA = transA ? ks * lda : ks, strideB = transB ? ks : ks * ldb;
        g.task(name, kernel, a, b, workspace, m, n, ks, lda, ldb, n, strideA, strideB, m * n, s, alpha, 0f);
        g.task(name + ".sum", Reduce.COLUMN_SUM, workspace, c, s, m * n, beta == 0f ? 0 : 1);
    }

    private static int ceilDiv(int a, int b) { return (a + b - 1) / b; }
}
