package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.DataTransferMode;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * {@link GemmBf16Cast} on the test device (the wgmma kernel emulated, 64 x 64 blocks) against the fp32
 * GEMM, on operands that are bf16 numbers already (so the copies are exact and only the order of the
 * sums differs), with strided A and both layouts of B.
 */
class GemmBf16CastTest {

    private static float[] bf16Numbers(int n, long seed) {
        float[] x = new Rand(seed).normal(n, 1);
        for (int i = 0; i < n; i++) x[i] = Bf16.round(x[i]);
        return x;
    }

    @ParameterizedTest
    @CsvSource({"64, 64, 64, true, 64", "128, 64, 192, false, 200", "64, 128, 128, true, 130"})
    void matchesTheFp32Gemm(int m, int n, int k, boolean transB, int lda) {
        float[] a = bf16Numbers((m - 1) * lda + k, m + k), b = bf16Numbers(n * k, n), c0 = new Rand(5).normal(m * n, 1);
        int ldb = transB ? k : n;
        Device cl = TestDevices.opencl();
        Tensor A = Tensor.of("A", a.clone()), B = Tensor.of("B", b.clone()), C = Tensor.of("C", c0.clone());
        GemmBf16Cast.Workspace ws = new GemmBf16Cast.Workspace(Tensor.bf16("wa", m * k), Tensor.bf16("wb", n * k));
        TaskGraph g = new TaskGraph("cast-gemm").transferToDevice(DataTransferMode.EVERY_EXECUTION, A, B, C);
        GemmBf16Cast.append(g, "mm", transB, A, B, C, m, n, k, lda, ldb, n, 1.5f, 0.5f, ws);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, C);
        try (ExecutionPlan p = new ExecutionPlan(g.snapshot()).withDevice(cl)) {
            p.execute();
        }
        Tensor want = Tensor.of("C", c0.clone());
        KernelRunner.run(TestDevices.java(), Gemm.naive(false, transB), Tensor.of("A", a), Tensor.of("B", b), want, m, n, k, lda, ldb, n, 0, 0, 0, 1, 1.5f, 0.5f);
        assertClose("m=" + m + " n=" + n + " k=" + k + " transB=" + transB, want.toF32Array(), C.toF32Array(), 1e-5);
    }
}
