package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.GemmTest.Problem;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The TF32 tensor-core GEMM ({@code gemm_tc}, NVIDIA) with its PTX emulated ({@link Gemm#tensorCoresEmulated}),
 * on the test OpenCL device, against a double-precision reference: the fragment bookkeeping (which lane
 * holds which element of which tile), the staging of all four transposes, the edges (sizes that are not
 * multiples of the 128 x 128 x 32 tiles), batches and the alpha/beta epilogue. Tolerance: TF32's, 2e-3
 * of the largest |C| (the inputs keep 10 mantissa bits; the errors seen are a few 1e-4).
 */
class GemmTcTest {
    static final double TF32_TOL = 2e-3;

    static Stream<Arguments> problems() {
        // transA, transB, M, N, K, pad, batch, broadcast B, alpha, beta, small (oclgrind)
        return Stream.of(
                Arguments.of(false, false, 5, 7, 3, 0, 1, false, 1f, 0f, true),         // far below one tile, K < 8
                Arguments.of(false, true, 37, 29, 41, 1, 2, false, 0.5f, 0f, true),     // two batch items, ragged edges
                Arguments.of(true, false, 130, 131, 33, 2, 1, false, 1f, 0.25f, false), // 2 x 2 blocks, K one past a tile, beta
                Arguments.of(true, true, 64, 200, 70, 0, 3, true, -1f, 1f, false),      // broadcast B, accumulate
                Arguments.of(false, false, 256, 128, 96, 0, 1, false, 1f, 0f, false));  // whole tiles
    }

    @ParameterizedTest
    @MethodSource("problems")
    void emulatedTensorCoreGemmMatchesTheReference(boolean transA, boolean transB, int m, int n, int k, int pad, int batch, boolean broadcastB,
                                                   float alpha, float beta, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Problem p = Problem.random(31L * m + n + k, transA, transB, m, n, k, pad, batch, broadcastB, alpha, beta);
        String at = String.format("transA=%s transB=%s M=%d N=%d K=%d batch=%d", transA, transB, m, n, k, batch);
        float[] got = p.run(TestDevices.opencl(), Gemm.tensorCoresEmulated(transA, transB));
        assertClose(at, p.expected(), got, TF32_TOL);
        if (k >= 8) {
            // really TF32: not the fp32 kernel's result
            float[] fp32 = p.run(TestDevices.opencl(), Gemm.kernel(transA, transB));
            assertFalse(Arrays.equals(fp32, got), at + ": TF32 path gave the fp32 kernel's bits");
        }
    }

    @org.junit.jupiter.api.Test
    void compilerOptionsGoAfterTheDefinesAndAreChecked() {
        KernelDef d = KernelDef.builder("gemm_tc", "kernels/gemm.cl").define("TRANS_A", 0).compilerOption("-cl-nv-maxrregcount=128")
                .java(a -> {}).grid(a -> org.hsajava.compute.WorkerGrid.of1D(1, 1)).build();
        assertEquals("-DTRANS_A=0 -cl-nv-maxrregcount=128", d.buildOptions());
        org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> KernelDef.builder("x", "kernels/gemm.cl").compilerOption("-DX=1; rm -rf /"));
    }

    @org.junit.jupiter.api.Test
    void theTestDeviceRunsThePortableKernels() {
        KernelDef tuned = Gemm.kernel(false, true);
        assertSame(tuned, tuned.forDevice(TestDevices.opencl().info()));
        assertFalse(Gemm.tensorCores(false, true).defines().containsKey("TC_EMULATE"));
    }
}
