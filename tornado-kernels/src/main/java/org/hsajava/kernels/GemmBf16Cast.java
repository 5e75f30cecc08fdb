package org.hsajava.kernels;

import org.hsajava.compute.DType;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;

/**
 * A GEMM on fp32 operands through the bf16-storage kernel: {@code C = alpha A op(B) + beta C} becomes
 * bf16 copies of A and B ({@link Bf16Cast}; B transposed when it is not already [N x K]) and
 * {@link GemmBf16Wgmma}. On Hopper that computes the bf16 products of {@link Gemm.Precision#BF16}
 * (the same rounding as {@code gemm_bf16}, which rounds while staging) at several times the speed of
 * {@code gemm_bf16}'s mma.sync, the copies included. A must not be transposed (the layer GEMMs
 * {@code x·Wᵀ} and {@code dy·W}); the weight gradients {@code dyᵀ·x} take
 * {@link GemmSplitK#appendBf16Wgmma} where {@link #appliesToWeightGradient}.
 * {@code -Dhsa.tc.wgmma=off} keeps every GEMM on the mma.sync kernels; {@code -Dhsa.tc.wgmma=emulated}
 * takes this path on any device (tests).
 */
public final class GemmBf16Cast {
    private GemmBf16Cast() {}

    /** bf16 elements of the workspace of A (128 MiB): small-gpu's largest activation, 32768 x 1408, fits. */
    public static final int WORKSPACE_A = 64 << 20;
    /** bf16 elements of the workspace of B (16 MiB): the weights. */
    public static final int WORKSPACE_B = 8 << 20;

    /** The bf16 copies of A and B; a graph may share one between all its GEMMs (they run one after another). */
    public record Workspace(Tensor a, Tensor b) {}

    public static Workspace workspace(String name) { return new Workspace(Tensor.bf16(name + ".a", WORKSPACE_A), Tensor.bf16(name + ".b", WORKSPACE_B)); }

    /**
     * Whether {@link #append} takes this GEMM (batch 1, A not transposed): bf16 GEMMs are asked for
     * ({@link Gemm#precision}), the device has warpgroup MMA (or {@link #emulated}), the sizes fit the
     * tiles of the kernel the device runs and the copies the workspace.
     */
    public static boolean applies(Device device, boolean transA, int m, int n, int k) {
        if (transA || !available(device)) return false;
        return onTiles(device, m, n, k) && (long) m * k <= WORKSPACE_A && (long) n * k <= WORKSPACE_B;
    }

    /**
     * Whether GEMMs selected now on {@code device} may take this path: bf16 GEMMs are asked for and the
     * device has warpgroup MMA (or {@link #emulated}). A model that keeps bf16 copies of its weights
     * and GEMM inputs asks this once, when it is built.
     */
    public static boolean available(Device device) {
        return Gemm.precision() == Gemm.Precision.BF16 && (TensorCores.warpgroupMma(device.info()) || emulated());
    }

    /**
     * {@code -Dhsa.tc.wgmma=emulated}: this path on any device, with wgmma emulated (correct and slow),
     * so that tests on CPUs run the wiring the layers use on Hopper.
     */
    static boolean emulated() { return "emulated".equalsIgnoreCase(System.getProperty(TensorCores.WGMMA_PROPERTY)); }

    /**
     * Appends {@code C = alpha A op(B) + beta C}: A [M x K] (row stride lda), B [N x K] when
     * {@code transB}, else [K x N] (row stride ldb), C [M x N] (row stride ldc).
     */
    public static void append(TaskGraph g, String name, boolean transB, Tensor a, Tensor b, Tensor c,
                              int m, int n, int k, int lda, int ldb, int ldc, float alpha, float beta, Workspace ws) {
        append(g, name, transB, a, null, b, null, c, m, n, k, lda, ldb, ldc, alpha, beta, ws);
    }

    /**
     * SwiGLU's up projection with the activation in its epilogue ({@link GemmBf16Wgmma#kernelSwiGlu}):
     * {@code u16 = bf16(A·Bᵀ)} and {@code act16 = bf16(silu(gate16)·u16)}, all [M x N] bf16 dense; A, B
     * and their copies as in {@link #append} with {@code transB} (a layer's {@code x·W_upᵀ}).
     */
    public static void appendSwiGlu(TaskGraph g, String name, Tensor a, Tensor a16, Tensor b, Tensor b16, Tensor u16, Tensor gate16, Tensor act16,
                                    int m, int n, int k, Workspace ws) {
        Tensor[] ops = operands(g, name, true, a, a16, b, b16, m, n, k, k, k, ws);
        g.task(name, GemmBf16Wgmma.kernelSwiGlu(n), ops[0], ops[1], u16, m, n, k, k, k, n, 0, 0, 0, 1, 1f, 0f, gate16, act16);
    }

    /** The bf16 A and B of a GEMM: the copies given, or ones made in the workspace by cast tasks. */
    private static Tensor[] operands(TaskGraph g, String name, boolean transB, Tensor a, Tensor a16, Tensor b, Tensor b16,
                                     int m, int n, int k, int lda, int ldb, Workspace ws) {
        if (a16 == null) {
            a16 = ws.a();
            g.task(name + ".a16", Bf16Cast.TO_BF16, a, a16, m, k, lda);
        }
        if (b16 == null) {
            b16 = ws.b();
            if (transB) g.task(name + ".b16", Bf16Cast.TO_BF16, b, b16, n, k, ldb);
            else g.task(name + ".b16", Bf16Cast.TO_BF16_T, b, b16, k, n, ldb);
        }
        return new Tensor[] {a16, b16};
    }

    /**
     * Whether a weight gradient {@code C [m x n] (+)= Aᵀ·B} with A [k x m] and B [k x n] (k the tokens)
     * takes {@link GemmSplitK#appendBf16Wgmma}: bf16 GEMMs on a device with warpgroup MMA (or
     * {@link #emulated}), sizes on its tiles, and bf16 copies of A and B that fit a workspace's A.
     */
    public static boolean appliesToWeightGradient(Device device, int m, int n, int k) {
        if (!available(device)) return false;
        return onTiles(device, m, n, k) && (long) m * k <= WORKSPACE_A && (long) n * k <= WORKSPACE_A;
    }

    /** Whether M x N x K is whole tiles of the wgmma kernel the device runs (native or emulated). */
    private static boolean onTiles(Device device, int m, int n, int k) {
        return TensorCores.warpgroupMma(device.info()) ? GemmBf16Wgmma.fits(m, n, k) : GemmBf16Wgmma.Tiling.EMULATED.fits(m, n, k);
    }

    /**
     * As {@link #append(TaskGraph, String, boolean, Tensor, Tensor, Tensor, int, int, int, int, int, int, float, float, Workspace)},
     * taking the bf16 copies that already exist: {@code a16} = bf16(A) [M x K] dense (written by the
     * kernel that produced A), {@code b16} = bf16(op(B)ᵀ) [N x K] dense (a weight's copy, refreshed
     * once per step). A null copy is made in the workspace, as above. A bf16 {@code c} is written
     * rounded ({@link GemmBf16Wgmma#kernelBf16Out}; beta must be 0). Returns the bf16 A it read.
     */
    public static Tensor append(TaskGraph g, String name, boolean transB, Tensor a, Tensor a16, Tensor b, Tensor b16, Tensor c,
                              int m, int n, int k, int lda, int ldb, int ldc, float alpha, float beta, Workspace ws) {
        return append(g, name, transB, a, a16, b, b16, c, m, n, k, lda, ldb, ldc, alpha, beta, ws, null);
    }

    /** As above, adding {@code bias} [N] (fp32, null: none) to every row of C in the GEMM's epilogue. */
    public static Tensor append(TaskGraph g, String name, boolean transB, Tensor a, Tensor a16, Tensor b, Tensor b16, Tensor c,
                              int m, int n, int k, int lda, int ldb, int ldc, float alpha, float beta, Workspace ws, Tensor bias) {
        Tensor[] ops = operands(g, name, transB, a, a16, b, b16, m, n, k, lda, ldb, ws);
        a16 = ops[0];
        b16 = ops[1];
        boolean cBf16 = c.dtype() == DType.BF16;
        if (bias != null) {
            g.task(name, GemmBf16Wgmma.kernelWithBias(n, cBf16), a16, b16, c, m, n, k, k, k, ldc, 0, 0, 0, 1, alpha, beta, bias);
        } else {
            g.task(name, cBf16 ? GemmBf16Wgmma.kernelBf16Out(n) : GemmBf16Wgmma.kernel(n), a16, b16, c, m, n, k, k, k, ldc, 0, 0, 0, 1, alpha, beta);
        }
        return a16;
    }
}
