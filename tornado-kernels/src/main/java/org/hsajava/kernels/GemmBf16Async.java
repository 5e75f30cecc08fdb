package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;
import org.hsajava.compute.opencl.TensorCores;

/**
 * GEMM on operands stored as bf16 (source {@code kernels/gemm_bf16_async.cl}): {@code C = alpha A B^T
 * + beta C}, A [M x K] and B [N x K] bf16 row-major, C fp32, with the arguments of {@link Gemm}
 * ({@code A, B, C, M, N, K, lda, ldb, ldc, strideA, strideB, strideC, batch, alpha, beta}). On NVIDIA
 * tensor cores: cp.async copies into a pipeline of local tiles, ldmatrix, mma.sync.m16n8k16 with fp32
 * accumulation. Where there are no tensor cores the definition runs the same source with the PTX
 * emulated (correct and slow: tests on PoCL).
 *
 * <p>Sizes: M, N multiples of the block tile (128, or 64 for the emulated variant), K of the K-tile (64, or 32; {@link #fits}),
 * lda and ldb multiples of 8. So far it serves the benchmark of bf16 storage ({@code bench gemm});
 * the model's GEMMs read fp32 operands ({@link Gemm#bf16}) until activations are stored as bf16.
 */
public final class GemmBf16Async {
    private GemmBf16Async() {}

    private static final String SOURCE = "kernels/gemm_bf16_async.cl";
    private static final Map<String, KernelDef> CACHE = new ConcurrentHashMap<>();

    /** Block tiles: tm x tn of C per group of warpsM x warpsN warps, a pipeline of {@code stages} K-tiles of tk (32 or 64). */
    record Tiling(int tm, int tn, int tk, int warpsM, int warpsN, int stages) {
        /** Warp tiles of 64 x 64, K-tiles of 64 in 3 stages: the best of the sweep in BENCHMARKS.md at its block size. */
        static final Tiling DEFAULT = new Tiling(128, 128, 64, 2, 2, 3);
        static final Tiling EMULATED = new Tiling(64, 64, 32, 2, 2, 2);

        /** {@code TMxTN[xTK]/WMxWN/STAGES}, e.g. {@code 128x128x64/2x4/3} (property hsa.tc.gemm.async.tiles, tuning runs; TK 32 if left out). */
        static Tiling parse(String text) {
            String[] p = text.trim().split("/");
            String[] t = p[0].split("x"), w = p.length == 3 ? p[1].split("x") : new String[0];
            if (p.length != 3 || (t.length != 2 && t.length != 3) || w.length != 2) {
                throw new IllegalArgumentException("hsa.tc.gemm.async.tiles: expected TMxTN[xTK]/WMxWN/STAGES, got '" + text + "'");
            }
            return new Tiling(Integer.parseInt(t[0]), Integer.parseInt(t[1]), t.length == 3 ? Integer.parseInt(t[2]) : 32,
                    Integer.parseInt(w[0]), Integer.parseInt(w[1]), Integer.parseInt(p[2]));
        }

        int threads() { return 32 * warpsM * warpsN; }

        /** Whether M x N x K is a whole number of blocks and K-tiles. */
        boolean fits(int m, int n, int k) { return m % tm == 0 && n % tn == 0 && k % tk == 0; }

        /** The tiles of the native kernel: {@link #DEFAULT}, or those of property hsa.tc.gemm.async.tiles. */
        static Tiling nativeTiling() {
            String tiles = System.getProperty("hsa.tc.gemm.async.tiles");
            return tiles != null ? parse(tiles) : DEFAULT;
        }
    }

    /** The kernel (emulated where tensor cores are missing; the native one where {@link TensorCores#enabled}). */
    public static KernelDef kernel() { return CACHE.computeIfAbsent("emulated", k -> build(Tiling.EMULATED, true)); }

    /** The emulated kernel at another tiling (tests of the other swizzle and pipeline depths). */
    static KernelDef emulated(Tiling t) { return CACHE.computeIfAbsent("emulated " + t, k -> build(t, true)); }

    private static KernelDef build(Tiling t, boolean emulated) {
        KernelDef.Builder b = signature("gemm_bf16_async", SOURCE, t.tm(), t.tn(), t.tk())
                .define("AS_TM", t.tm()).define("AS_TN", t.tn()).define("AS_TK", t.tk()).define("AS_WM", t.warpsM()).define("AS_WN", t.warpsN()).define("AS_STAGES", t.stages());
        if (emulated) b.define("TC_EMULATE", 1);
        // tuning runs on NVIDIA: a register cap, as for Gemm.bf16 (two groups of 256 per SM need <= 128)
        Integer maxrreg = Integer.getInteger("hsa.tc.gemm.maxrreg");
        if (maxrreg != null && !emulated) b.compilerOption("-cl-nv-maxrregcount=" + maxrreg);
        return b
                .grid(a -> WorkerGrid.of3D((long) (a.i("N") / t.tn()) * t.threads(), a.i("M") / t.tm(), a.i("batch"), t.threads(), 1, 1))
                .variant(!emulated ? null : info -> TensorCores.enabled(info) ? CACHE.computeIfAbsent("native", k -> build(Tiling.nativeTiling(), false)) : null)
                .build();
    }

    /**
     * What the GEMMs on bf16 storage share ({@link GemmBf16Wgmma} too): the arguments of {@link Gemm}
     * with A and B bf16, the Java oracle, and the check that M, N, K are multiples of the block
     * {@code tm x tn x tk} and the bf16 rows 16-byte aligned.
     */
    static KernelDef.Builder signature(String entry, String source, int tm, int tn, int tk) {
        return signature(entry, source, tm, tn, tk, false);
    }

    /**
     * As above; {@code mnMajor}: the contract {@code C = alpha Aᵀ B + beta C} with A stored [K x M]
     * and B [K x N] instead (the weight gradient {@code dyᵀ·x}).
     */
    static KernelDef.Builder signature(String entry, String source, int tm, int tn, int tk, boolean mnMajor) {
        return signature(entry, source, tm, tn, tk, mnMajor, false, false);
    }

    /**
     * As above; {@code cBf16}: C is bf16 and only written (beta must be 0), each value rounded to nearest
     * even; {@code bias}: a last argument {@code bias} [N] fp32 added to every row of C.
     */
    static KernelDef.Builder signature(String entry, String source, int tm, int tn, int tk, boolean mnMajor, boolean cBf16, boolean bias) {
        KernelDef.Builder b = KernelDef.builder(entry, source).in("A", BF16).in("B", BF16);
        b = (cBf16 ? b.out("C", BF16) : b.inOut("C", F32))
                .intArg("M").intArg("N").intArg("K").intArg("lda").intArg("ldb").intArg("ldc")
                .intArg("strideA").intArg("strideB").intArg("strideC").intArg("batch")
                .floatArg("alpha").floatArg("beta");
        if (bias) b.in("bias", F32);
        return b.check(a -> {
                    Gemm.checkArgs(a, mnMajor, !mnMajor);
                    if (bias) Checks.atLeast(a, "bias", a.i("N"));
                    int m = a.i("M"), n = a.i("N"), k = a.i("K");
                    if (cBf16 && a.f("beta") != 0f) throw new IllegalArgumentException(entry + " with a bf16 C writes it without reading it: beta must be 0, got " + a.f("beta"));
                    if (m % tm != 0 || n % tn != 0 || k % tk != 0 || a.i("lda") % 8 != 0 || a.i("ldb") % 8 != 0
                            || a.i("strideA") % 8 != 0 || a.i("strideB") % 8 != 0) {
                        throw new IllegalArgumentException(entry + " needs M a multiple of " + tm + ", N of " + tn + ", K of " + tk
                                + " and lda, ldb, strideA, strideB of 8; got M=" + m + ", N=" + n + ", K=" + k + ", lda=" + a.i("lda") + ", ldb=" + a.i("ldb"));
                    }
                })
                .java(a -> reference(a, mnMajor));
    }

    /** Whether an M x N x K problem fits the tiles of the kernel a device with tensor cores runs. */
    public static boolean fits(int m, int n, int k) { return Tiling.nativeTiling().fits(m, n, k); }

    /**
     * The Java oracle, shared with {@link GemmBf16Wgmma}: fp32 sums of the widened bf16 products; A and
     * B stored [M x K] and [N x K], or with {@code mnMajor} [K x M] and [K x N].
     */
    static void reference(KernelArgs a, boolean mnMajor) {
        short[] A = a.bf16("A"), B = a.bf16("B");
        boolean cBf16 = a.tensor("C").dtype() == BF16;
        float[] C = cBf16 ? null : a.f32("C");
        short[] C16 = cBf16 ? a.bf16("C") : null;
        int aO = a.off("A"), bO = a.off("B"), cO = a.off("C");
        int M = a.i("M"), N = a.i("N"), K = a.i("K"), lda = a.i("lda"), ldb = a.i("ldb"), ldc = a.i("ldc");
        int sA = a.i("strideA"), sB = a.i("strideB"), sC = a.i("strideC"), batch = a.i("batch");
        float alpha = a.f("alpha"), beta = a.f("beta");
        float[] bias = a.kernel().params().stream().anyMatch(p -> p.name().equals("bias")) ? a.f32("bias") : null;
        int biasO = bias == null ? 0 : a.off("bias");
        Parallel.forEach(batch * M, bm -> {
            int b = bm / M, m = bm % M;
            for (int n = 0; n < N; n++) {
                float s = 0f;
                for (int k = 0; k < K; k++) {
                    int ia = mnMajor ? k * lda + m : m * lda + k, ib = mnMajor ? k * ldb + n : n * ldb + k;
                    s += Bf16.toFloat(A[aO + b * sA + ia]) * Bf16.toFloat(B[bO + b * sB + ib]);
                }
                int i = cO + b * sC + m * ldc + n;
                float bn = bias == null ? 0f : bias[biasO + n];
                if (cBf16) C16[i] = Bf16.fromFloat(alpha * s + bn);
                else C[i] = (beta == 0f ? alpha * s : alpha * s + beta * C[i]) + bn;
            }
        });
    }
}
