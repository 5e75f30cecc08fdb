package org.hsajava.kernels;

import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.stream.Stream;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link GemmBf16Async} with its PTX (cp.async, ldmatrix, mma.sync) emulated on the test OpenCL device,
 * against its Java reference on the same bf16 operands (they differ only in summation order) and
 * against the fp32 GEMM of the widened operands.
 */
class GemmBf16AsyncTest {

    static Stream<Arguments> shapes() {
        // M, N, K, batch, beta, small (also under oclgrind)
        return Stream.of(
                Arguments.of(64, 64, 32, 1, 0f, true),        // one block, one K-tile
                Arguments.of(64, 128, 96, 2, 0.5f, true),     // three K-tiles through the 2-stage pipeline, batch, beta
                Arguments.of(192, 64, 160, 1, 1f, false));
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedKernelMatchesTheReferences(int M, int N, int K, int batch, float beta, boolean small) {
        check(GemmBf16Async.kernel(), M, N, K, batch, beta, small);
    }

    /** K-tiles of 64 (the other swizzle: a row per 128-byte line) in a 3-stage pipeline. */
    @ParameterizedTest
    @MethodSource("shapes")
    void emulatedKernelWithKTilesOf64(int M, int N, int K, int batch, float beta, boolean small) {
        check(GemmBf16Async.emulated(new GemmBf16Async.Tiling(64, 64, 64, 2, 2, 3)), M, N, 2 * K, batch, beta, small);
    }

    private static void check(KernelDef kernel, int M, int N, int K, int batch, float beta, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Bf16GemmChecks.checkAgainstReferences(kernel, M, N, K, batch, beta, String.format("M=%d N=%d K=%d batch=%d beta=%s", M, N, K, batch, beta));
    }

    @Test
    void rejectsSizesOffTheTiles() { Bf16GemmChecks.assertRejectsK(GemmBf16Async.kernel(), 40, 32); }
}
