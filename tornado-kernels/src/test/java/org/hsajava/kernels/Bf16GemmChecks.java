package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;

/** The check of the tests of the GEMMs on bf16 storage ({@link GemmBf16Async}, {@link GemmBf16Wgmma}). */
final class Bf16GemmChecks {
    private Bf16GemmChecks() {}

    static short[] bf16Random(int n, long seed) {
        float[] x = new Rand(seed).normal(n, 1);
        short[] s = new short[n];
        for (int i = 0; i < n; i++) s[i] = Bf16.fromFloat(x[i]);
        return s;
    }

    static float[] run(Device d, KernelDef kernel, int M, int N, int K, int ldc, int batch, float beta, short[] a, short[] b, float[] c0) {
        return run(d, kernel, M, N, K, K, K, ldc, batch, beta, a, b, c0);
    }

    /** As above with the operands' row strides (A [M x K] and B [N x K], or [K x M] and [K x N] MN-major). */
    static float[] run(Device d, KernelDef kernel, int M, int N, int K, int lda, int ldb, int ldc, int batch, float beta, short[] a, short[] b, float[] c0) {
        Tensor A = Tensor.bf16("A", a.length).set(a.clone()), B = Tensor.bf16("B", b.length).set(b.clone()), C = Tensor.of("C", c0.clone());
        KernelRunner.run(d, kernel, A, B, C, M, N, K, lda, ldb, ldc, M * K, N * K, M * ldc, batch, 1.25f, beta);
        return C.toF32Array();
    }

    /**
     * C = 1.25 A B^T + beta C on random bf16 operands (or with {@code mnMajor} the weight-gradient form
     * C = 1.25 A^T B + beta C, A stored [K x M] and B [K x N]): the test OpenCL device against the
     * kernel's Java reference (the same products, summed in another order) and against the fp32 GEMM
     * of the widened operands.
     */
    static void checkAgainstReferences(KernelDef kernel, int M, int N, int K, int batch, float beta, String at) {
        checkAgainstReferences(kernel, M, N, K, batch, beta, false, at);
    }

    static void checkAgainstReferences(KernelDef kernel, int M, int N, int K, int batch, float beta, boolean mnMajor, String at) {
        short[] a = bf16Random(batch * M * K, 1 + M), b = bf16Random(batch * N * K, 2 + N);
        float[] c0 = new Rand(3 + K).normal(batch * M * N, 1);
        int lda = mnMajor ? M : K, ldb = mnMajor ? N : K;
        float[] java = run(TestDevices.java(), kernel, M, N, K, lda, ldb, N, batch, beta, a, b, c0);
        float[] cl = run(TestDevices.opencl(), kernel, M, N, K, lda, ldb, N, batch, beta, a, b, c0);
        assertClose(at + ": OpenCL against its Java reference", java, cl, 1e-5);
        float[] fa = Tensor.bf16("a", a.length).set(a).bf16ToF32Array(), fb = Tensor.bf16("b", b.length).set(b).bf16ToF32Array();
        Tensor C = Tensor.of("C", c0.clone());
        KernelRunner.run(TestDevices.java(), Gemm.naive(mnMajor, !mnMajor), Tensor.of("A", fa), Tensor.of("B", fb), C, M, N, K, lda, ldb, N,
                M * K, N * K, M * N, batch, 1.25f, beta);
        assertClose(at + ": against the fp32 GEMM", C.toF32Array(), cl, 1e-5);
        for (float x : cl) assertTrue(Float.isFinite(x), at + ": non-finite output");
    }

    /** A 64 x 64 x k problem is refused, naming the K-tile ({@code "K of " + tk}). */
    static void assertRejectsK(KernelDef kernel, int k, int tk) {
        Tensor A = Tensor.bf16("A", 64 * k), B = Tensor.bf16("B", 64 * k), C = Tensor.f32("C", 64 * 64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new TaskGraph("g").task("gemm", kernel, A, B, C, 64, 64, k, k, k, 64, 0, 0, 0, 1, 1f, 0f));
        assertTrue(e.getMessage().contains("K of " + tk), e.getMessage());
    }
}
