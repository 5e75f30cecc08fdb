package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.stream.Stream;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.GemmTest.Problem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The bf16 tensor-core GEMM ({@code gemm_bf16}, NVIDIA) with its PTX emulated ({@link Gemm#bf16Emulated}),
 * on the test OpenCL device: the fragment-order staging (which lane's slot holds which pair of which
 * tile, the swizzle), all four transposes, ragged edges (sizes that are not multiples of the 64 x 64 x 32
 * blocks, odd K), batches and the alpha/beta epilogue.
 *
 * <p>Reference: the same problem with A and B first rounded to bf16 here, by choosing the nearer of the
 * two neighbouring bf16 values in double precision (ties to the even one), then multiplied in double.
 * The kernel must match it to fp32 accumulation error (2e-5 of the largest |C|); and against the
 * unrounded fp32 problem it must be off by bf16's error, not match it bit for bit.
 */
class GemmBf16Test {
    static Stream<Arguments> problems() {
        // transA, transB, M, N, K, pad, batch, broadcast B, alpha, beta, small (oclgrind)
        return Stream.of(
                Arguments.of(false, false, 5, 7, 3, 0, 1, false, 1f, 0f, true),         // far below one block, odd K < 16
                Arguments.of(false, true, 37, 29, 41, 1, 2, false, 0.5f, 0f, true),     // two batch items, ragged edges
                Arguments.of(true, false, 70, 131, 33, 2, 1, false, 1f, 0.25f, false),  // 2 x 3 blocks, K one past a tile, beta
                Arguments.of(true, true, 64, 100, 70, 0, 3, true, -1f, 1f, false),      // broadcast B, accumulate
                Arguments.of(false, false, 128, 64, 96, 0, 1, false, 1f, 0f, false),    // whole blocks, 3 K-tiles
                Arguments.of(false, true, 128, 70, 64, 1, 1, false, 1f, 0f, false));    // interior and edge blocks, padded rows
    }

    @ParameterizedTest
    @MethodSource("problems")
    void emulatedBf16GemmMatchesTheRoundedReference(boolean transA, boolean transB, int m, int n, int k, int pad, int batch, boolean broadcastB,
                                                    float alpha, float beta, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Problem p = Problem.random(17L * m + n + 3L * k, transA, transB, m, n, k, pad, batch, broadcastB, alpha, beta);
        Problem rounded = new Problem(transA, transB, m, n, k, p.lda(), p.ldb(), p.ldc(), p.strideA(), p.strideB(), p.strideC(), batch, alpha, beta,
                roundToBf16(p.a()), roundToBf16(p.b()), p.c());
        String at = String.format("transA=%s transB=%s M=%d N=%d K=%d batch=%d", transA, transB, m, n, k, batch);
        float[] got = p.run(TestDevices.opencl(), Gemm.bf16Emulated(transA, transB));
        assertClose(at + " vs bf16-rounded inputs", rounded.expected(), got, 2e-5);
        assertClose(at + " vs fp32 inputs", p.expected(), got, 2e-2);
        float[] fp32 = p.run(TestDevices.opencl(), Gemm.kernel(transA, transB));
        assertFalse(java.util.Arrays.equals(fp32, got), at + ": bf16 path gave the fp32 kernel's bits");
    }

    @Test
    void roundingToBf16IsToNearestWithTiesToEven() {
        assertEquals(1.0f, roundToBf16(1.0f + 0x1p-9f));                    // halfway between 1 and 1 + 2^-7: even (1)
        assertEquals(1.0f + 0x1p-6f, roundToBf16(1.0f + 0x1p-7f + 0x1p-8f)); // halfway, odd below: up
        assertEquals(1.0f + 0x1p-7f, roundToBf16(1.0f + 0x1p-8f + 0x1p-12f));
        assertEquals(-3.0f, roundToBf16(-3.0f));
    }

    @Test
    void tilingsAreChecked() {
        assertEquals(Gemm.Bf16Tiling.DEFAULT, Gemm.Bf16Tiling.parse("128x128x32/2x4"));
        assertThrows(IllegalArgumentException.class, () -> Gemm.Bf16Tiling.parse("128x128x24/2x4"));
        assertThrows(IllegalArgumentException.class, () -> Gemm.Bf16Tiling.parse("128x128x32"));
    }

    /** Each value rounded to the nearer bf16 (an fp32 with the low 16 bits zero), ties to an even last mantissa bit. */
    static float[] roundToBf16(float[] x) {
        float[] out = new float[x.length];
        for (int i = 0; i < x.length; i++) out[i] = roundToBf16(x[i]);
        return out;
    }

    static float roundToBf16(float x) {
        int bits = Float.floatToRawIntBits(x);
        float down = Float.intBitsToFloat(bits & 0xffff0000);            // toward zero
        float up = Float.intBitsToFloat((bits & 0xffff0000) + 0x10000);  // away from zero, one bf16 step
        double dd = Math.abs((double) x - down), du = Math.abs((double) up - x);
        if (dd != du) return dd < du ? down : up;
        return (Float.floatToRawIntBits(down) & 0x10000) == 0 ? down : up;
    }
}
