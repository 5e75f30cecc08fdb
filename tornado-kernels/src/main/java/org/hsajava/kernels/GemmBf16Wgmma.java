package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.opencl.TensorCores;

/**
 * GEMM on bf16 storage with Hopper's warpgroup MMA (source {@code kernels/gemm_bf16_wgmma.cl}):
 * {@code C = alpha A B^T + beta C}, A [M x K] and B [N x K] bf16 row-major, C fp32, the arguments of
 * {@link Gemm}, the contract of {@link GemmBf16Async}. Native on devices where
 * {@link TensorCores#warpgroupMma} holds (compute capability 9.x); elsewhere the definition runs the
 * same source with wgmma and cp.async emulated (correct and slow: tests on PoCL).
 *
 * <p>Sizes: M a multiple of the block's rows (128 natively, 64 emulated), N of its columns (256, 64),
 * K of 64, lda and ldb multiples of 8 ({@link #fits}).
 */
public final class GemmBf16Wgmma {
    private GemmBf16Wgmma() {}

    private static final String SOURCE = "kernels/gemm_bf16_wgmma.cl";
    private static final Map<String, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** Blocks of (64 groups) x n of C, one warpgroup per 64 rows, a pipeline of {@code stages} K-tiles of 64. */
    record Tiling(int groups, int n, int stages) {
        static final Tiling DEFAULT = new Tiling(2, 256, 4);
        /** For N a multiple of 128 but not of 256 (k/v projections of 4 heads of 32, SwiGLU widths such as 1408). */
        static final Tiling NARROW = new Tiling(2, 128, 3);
        /** For N a multiple of 64 only (the chunk encoder's SwiGLU width 1344). */
        static final Tiling SLIM = new Tiling(2, 64, 4);
        static final Tiling EMULATED = new Tiling(1, 64, 3);

        Tiling {
            if (groups < 1 || groups > 2 || (n != 64 && n != 128 && n != 256) || stages < 3) {
                throw new IllegalArgumentException("wgmma tiling: 1 or 2 warpgroups, N of 64, 128 or 256, 3 or more stages; got " + this);
            }
        }

        /** {@code GROUPSxN/STAGES}, e.g. {@code 2x256/4} (property hsa.tc.wgmma.tiles, tuning runs). */
        static Tiling parse(String text) {
            String[] p = text.trim().split("[x/]");
            if (p.length != 3) throw new IllegalArgumentException("hsa.tc.wgmma.tiles: expected GROUPSxN/STAGES, got '" + text + "'");
            return new Tiling(Integer.parseInt(p[0]), Integer.parseInt(p[1]), Integer.parseInt(p[2]));
        }

        int tm() { return 64 * groups; }

        /** Whether M x N x K is a whole number of blocks and K-tiles. */
        boolean fits(int m, int n, int k) { return m % tm() == 0 && n % this.n == 0 && k % 64 == 0; }

        int threads() { return 128 * groups; }

        /**
         * The native tiling for a C of {@code n} columns: {@link #DEFAULT}, {@link #NARROW} where n is
         * not a multiple of 256 (H200, 4096³: 398.9 and 348.9 TFLOP/s; BENCHMARKS.md), {@link #SLIM} where
         * it is not a multiple of 128 either. The property {@code hsa.tc.wgmma.tiles} overrides them.
         */
        static Tiling nativeTiling(int n) {
            String tiles = System.getProperty("hsa.tc.wgmma.tiles");
            if (tiles != null) return parse(tiles);
            return n % DEFAULT.n == 0 ? DEFAULT : n % NARROW.n == 0 ? NARROW : SLIM;
        }
    }

    /**
     * The forms of the kernel beyond {@code C = alpha A Bᵀ + beta C}: {@code mnMajor} the weight-gradient
     * contract {@code C = alpha Aᵀ B + beta C}; {@code cBf16} a bf16 C, written and not read (beta 0);
     * {@code bias} an fp32 bias of N added to every row of C in the epilogue (an extra last argument).
     */
    record Form(boolean mnMajor, boolean cBf16, boolean bias, boolean swiglu) {
        static final Form PLAIN = new Form(false, false, false);

        Form(boolean mnMajor, boolean cBf16, boolean bias) { this(mnMajor, cBf16, bias, false); }

        Form {
            if (swiglu && (!cBf16 || mnMajor || bias)) throw new IllegalArgumentException("the SwiGLU epilogue is for a bf16 C = A Bᵀ without bias");
        }

        String key() { return (mnMajor ? " mn" : "") + (cBf16 ? " c16" : "") + (bias ? " bias" : "") + (swiglu ? " swiglu" : ""); }
    }

    /** The kernel for C of {@code n} columns: native where {@link TensorCores#warpgroupMma} holds, emulated elsewhere. */
    public static KernelDef kernel(int n) { return emulated(Tiling.EMULATED, Tiling.nativeTiling(n), Form.PLAIN); }

    /**
     * The weight-gradient form for C of {@code n} columns: {@code C = alpha Aᵀ B + beta C} with A [K x M]
     * and B [K x N] on bf16 storage (MN-major tiles, wgmma.h), e.g. {@code dW = dyᵀ·x}; same sizes as
     * {@link #kernel}, lda and ldb multiples of 8.
     */
    public static KernelDef weightGradientKernel(int n) { return emulated(Tiling.EMULATED, Tiling.nativeTiling(n), new Form(true, false, false)); }

    /**
     * {@link #kernel} writing a bf16 C (beta must be 0): {@code C = bf16(alpha A Bᵀ)}, for GEMMs whose
     * consumers read bf16 (the activations the model stores only in bf16).
     */
    public static KernelDef kernelBf16Out(int n) { return emulated(Tiling.EMULATED, Tiling.nativeTiling(n), new Form(false, true, false)); }

    /**
     * {@link #kernel} (or, with {@code cBf16}, {@link #kernelBf16Out}) that adds a bias in its epilogue:
     * {@code C = alpha A Bᵀ + beta C + bias} with {@code bias} [N] fp32, an extra last argument; a
     * projection's {@code x·Wᵀ + b} in one launch.
     */
    public static KernelDef kernelWithBias(int n, boolean cBf16) { return emulated(Tiling.EMULATED, Tiling.nativeTiling(n), new Form(false, cBf16, true)); }

    /**
     * {@link #kernelBf16Out} for SwiGLU's up projection with the activation in its epilogue: writes
     * {@code C = u = bf16(alpha A Bᵀ)} and {@code act = bf16(silu(gate) · u)} ({@link SwiGlu#FORWARD_16}'s
     * values, bit for bit), gate and act [M x N] bf16 with C's row stride: two extra last arguments.
     */
    public static KernelDef kernelSwiGlu(int n) { return emulated(Tiling.EMULATED, Tiling.nativeTiling(n), new Form(false, true, false, true)); }

    /** The emulated kernel at a tiling (tests), with the native variant for Hopper at {@code native_}. */
    static KernelDef emulated(Tiling t, Tiling native_, boolean mnMajor) { return emulated(t, native_, new Form(mnMajor, false, false)); }

    static KernelDef emulated(Tiling t, Tiling native_, Form form) {
        return CACHE.computeIfAbsent("emulated " + t + " native " + native_ + form.key(), k -> build(t, true, native_, form));
    }

    /** Whether an M x N x K problem fits the tiles of the native kernel. */
    public static boolean fits(int m, int n, int k) { return Tiling.nativeTiling(n).fits(m, n, k); }

    private static KernelDef build(Tiling t, boolean emulated, Tiling native_, Form form) {
        KernelDef.Builder b = GemmBf16Async.signature("gemm_bf16_wgmma", SOURCE, t.tm(), t.n(), 64, form.mnMajor(), form.cBf16(), form.bias())
                .define("WG_GROUPS", t.groups()).define("WG_N", t.n()).define("WG_STAGES", t.stages());
        if (form.swiglu()) {
            b.in("gate", BF16).out("act", BF16).define("WG_SWIGLU", 1)
                    .alsoCheck(a -> {
                        if (a.i("batch") != 1) throw new IllegalArgumentException("the SwiGLU epilogue runs one GEMM (batch 1), got batch " + a.i("batch"));
                        org.hsajava.compute.Checks.atLeast(a, "gate", (long) (a.i("M") - 1) * a.i("ldc") + a.i("N"));
                        org.hsajava.compute.Checks.atLeast(a, "act", (long) (a.i("M") - 1) * a.i("ldc") + a.i("N"));
                    })
                    .java(a -> {
                        GemmBf16Async.reference(a, false);
                        SwiGlu.actFromGate(a);
                    });
        }
        if (form.mnMajor()) b.define("WG_MN_MAJOR", 1);
        if (form.cBf16()) b.define("WG_C_BF16", 1);
        if (form.bias()) b.define("WG_BIAS", 1);
        if (emulated) b.define("TC_EMULATE", 1);  // natively the backend rebuilds the PTX for sm_90a (wgmma.h)
        return b
                .grid(a -> WorkerGrid.of3D((long) (a.i("N") / t.n()) * t.threads(), a.i("M") / t.tm(), a.i("batch"), t.threads(), 1, 1))
                .variant(!emulated ? null : info -> TensorCores.warpgroupMma(info)
                        ? CACHE.computeIfAbsent("native " + native_ + form.key(), k -> build(native_, false, native_, form)) : null)
                .build();
    }
}
