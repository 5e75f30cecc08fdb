package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.stream.Stream;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link GemmBf16Wgmma} with wgmma and cp.async emulated on the test OpenCL device (the swizzled tile
 * layout, the pipeline, the accumulator layout, the epilogue), against the Java reference on the same
 * bf16 operands and against the fp32 GEMM of the widened operands. The native instruction's
 * descriptors are checked on the H100 by {@code ./hsa selfcheck}.
 */
class GemmBf16WgmmaTest {

    static Stream<Arguments> shapes() {
        // M, N, K, batch, beta, tiling, small (also under oclgrind)
        GemmBf16Wgmma.Tiling one = GemmBf16Wgmma.Tiling.EMULATED, two = new GemmBf16Wgmma.Tiling(2, 128, 4);
        GemmBf16Wgmma.Tiling slim = GemmBf16Wgmma.Tiling.SLIM;
        return Stream.of(
                Arguments.of(64, 64, 64, 1, 0f, one, true),       // one block, one K-tile
                Arguments.of(64, 128, 192, 2, 0.5f, one, true),   // three K-tiles through three stages, batch, beta
                Arguments.of(128, 128, 256, 1, 1f, two, false),   // two warpgroups, N = 128, four stages
                Arguments.of(192, 64, 320, 1, 0f, one, false),
                Arguments.of(256, 192, 320, 1, 0.5f, slim, false)); // two warpgroups, blocks of 64 columns
    }

    /** Each shape in both forms: C = A B^T, and the weight-gradient form C = A^T B (MN-major tiles). */
    static Stream<Arguments> shapesInBothForms() {
        return shapes().flatMap(a -> Stream.of(false, true).map(mn -> {
            Object[] v = java.util.Arrays.copyOf(a.get(), a.get().length + 1);
            v[v.length - 1] = mn;
            return Arguments.of(v);
        }));
    }

    @ParameterizedTest
    @MethodSource("shapesInBothForms")
    void emulatedKernelMatchesTheReferences(int M, int N, int K, int batch, float beta, GemmBf16Wgmma.Tiling tiling, boolean small, boolean mnMajor) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Bf16GemmChecks.checkAgainstReferences(GemmBf16Wgmma.emulated(tiling, GemmBf16Wgmma.Tiling.DEFAULT, mnMajor), M, N, K, batch, beta, mnMajor,
                String.format("%s M=%d N=%d K=%d batch=%d beta=%s %s", mnMajor ? "A^T B" : "A B^T", M, N, K, batch, beta, tiling));
    }

    /**
     * The bf16-output form writes, on each device, the fp32 form's C rounded to nearest even (the same
     * sums), with even and odd row strides of C (pair stores and single ones); it rejects beta != 0.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1})
    void bf16OutputIsTheFp32OutputRounded(int pad) {
        int M = 128, N = 192, K = 128, ldc = N + pad;
        short[] a = Bf16GemmChecks.bf16Random(M * K, 11), b = Bf16GemmChecks.bf16Random(N * K, 12);
        GemmBf16Wgmma.Tiling t = GemmBf16Wgmma.Tiling.EMULATED;
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            float[] c = Bf16GemmChecks.run(d, GemmBf16Wgmma.emulated(t, t, false), M, N, K, ldc, 1, 0f, a, b, new float[M * ldc]);
            Tensor A = Tensor.bf16("A", a.length).set(a.clone()), B = Tensor.bf16("B", b.length).set(b.clone());
            short[] sentinel = new short[M * ldc];
            java.util.Arrays.fill(sentinel, (short) 0x7fc1);
            Tensor C16 = Tensor.bf16("C16", M * ldc).set(sentinel.clone());
            KernelRunner.run(d, GemmBf16Wgmma.emulated(t, t, new GemmBf16Wgmma.Form(false, true, false)), A, B, C16, M, N, K, K, K, ldc, M * K, N * K, M * ldc, 1, 1.25f, 0f);
            short[] c16 = C16.bf16();
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < ldc; n++) {
                    int i = m * ldc + n;
                    short want = n < N ? Bf16.fromFloat(c[i]) : sentinel[i];
                    assertEquals(want, c16[i], "C[" + m + ", " + n + "] on " + d + " (ldc " + ldc + ")");
                }
            }
            assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(d, GemmBf16Wgmma.kernelBf16Out(N), A, B, C16,
                    M, N, K, K, K, ldc, M * K, N * K, M * ldc, 1, 1f, 1f), "beta != 0 with a bf16 C");
        }
    }

    /**
     * The bias epilogue: {@code alpha A Bᵀ + beta C + bias} is, on each device, the plain kernel's C plus
     * the bias (the same float operations, the bias added last), for an fp32 C with beta and for a bf16 C.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(booleans = {false, true})
    void biasEpilogueAddsTheBiasLast(boolean cBf16) {
        int M = 128, N = 128, K = 64;
        short[] a = Bf16GemmChecks.bf16Random(M * K, 13), b = Bf16GemmChecks.bf16Random(N * K, 14);
        float[] bias = new Rand(15).normal(N, 1), c0 = cBf16 ? new float[M * N] : new Rand(16).normal(M * N, 1);
        float beta = cBf16 ? 0f : 0.5f;
        GemmBf16Wgmma.Tiling t = GemmBf16Wgmma.Tiling.EMULATED;
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            float[] plain = Bf16GemmChecks.run(d, GemmBf16Wgmma.emulated(t, t, false), M, N, K, N, 1, beta, a, b, c0);
            Tensor A = Tensor.bf16("A", a.length).set(a.clone()), B = Tensor.bf16("B", b.length).set(b.clone());
            Tensor C = cBf16 ? Tensor.bf16("C", M * N) : Tensor.of("C", c0.clone());
            KernelRunner.run(d, GemmBf16Wgmma.emulated(t, t, new GemmBf16Wgmma.Form(false, cBf16, true)), A, B, C, M, N, K, K, K, N,
                    M * K, N * K, M * N, 1, 1.25f, beta, Tensor.of("bias", bias));
            float[] got = cBf16 ? C.bf16ToF32Array() : C.toF32Array();
            for (int i = 0; i < M * N; i++) {
                float want = plain[i] + bias[i % N];
                if (cBf16) want = Bf16.toFloat(Bf16.fromFloat(want));
                assertEquals(want, got[i], "C[" + i + "] on " + d + (cBf16 ? " (bf16 C)" : ""));
            }
        }
        assertEquals("1", GemmBf16Wgmma.kernelWithBias(512, false).defines().get("WG_BIAS"));
    }

    /**
     * The SwiGLU epilogue writes, on each device, the bf16-output GEMM's u and {@link SwiGlu#FORWARD_16}'s
     * activation of (gate, u), bit for bit, with an odd row stride too; it rejects a batch.
     */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(ints = {0, 1})
    void swigluEpilogueComputesTheActivationOfTheSeparateKernel(int pad) {
        int M = 128, N = 128, K = 64, ldc = N + pad;
        short[] a = Bf16GemmChecks.bf16Random(M * K, 17), b = Bf16GemmChecks.bf16Random(N * K, 18), gate = Bf16GemmChecks.bf16Random(M * ldc, 19);
        GemmBf16Wgmma.Tiling t = GemmBf16Wgmma.Tiling.EMULATED;
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            Tensor u = Tensor.bf16("u", M * ldc), act = Tensor.bf16("act", M * ldc);
            KernelRunner.run(d, GemmBf16Wgmma.emulated(t, t, new GemmBf16Wgmma.Form(false, true, false)), Tensor.bf16("A", a.length).set(a.clone()),
                    Tensor.bf16("B", b.length).set(b.clone()), u, M, N, K, K, K, ldc, M * K, N * K, M * ldc, 1, 1f, 0f);
            KernelRunner.run(d, SwiGlu.FORWARD_16, Tensor.bf16("g16", gate.length).set(gate.clone()), Tensor.bf16("u16", M * ldc).set(u.bf16().clone()), act, M * ldc);
            Tensor u2 = Tensor.bf16("u2", M * ldc), act2 = Tensor.bf16("act2", M * ldc);
            KernelRunner.run(d, GemmBf16Wgmma.emulated(t, t, new GemmBf16Wgmma.Form(false, true, false, true)), Tensor.bf16("A", a.length).set(a.clone()),
                    Tensor.bf16("B", b.length).set(b.clone()), u2, M, N, K, K, K, ldc, M * K, N * K, M * ldc, 1, 1f, 0f,
                    Tensor.bf16("gate", gate.length).set(gate.clone()), act2);
            for (int m = 0; m < M; m++) {
                for (int n = 0; n < N; n++) {
                    int i = m * ldc + n;
                    assertEquals(u.bf16()[i], u2.bf16()[i], "u[" + m + ", " + n + "] on " + d);
                    assertEquals(act.bf16()[i], act2.bf16()[i], "act[" + m + ", " + n + "] on " + d);
                }
            }
        }
        assertThrows(IllegalArgumentException.class, () -> new GemmBf16Wgmma.Form(false, false, false, true), "the epilogue writes bf16");
    }

    /** An odd row stride of C: the epilogue cannot store column pairs as float2 and stores them one by one. */
    @Test
    void oddRowStrideOfC() {
        int M = 64, N = 64, K = 128, ldc = N + 1;
        short[] a = Bf16GemmChecks.bf16Random(M * K, 5), b = Bf16GemmChecks.bf16Random(N * K, 6);
        float[] c0 = new Rand(7).normal(M * ldc, 1);
        float[][] out = new float[2][];
        Device[] devices = {TestDevices.java(), TestDevices.opencl()};
        for (int i = 0; i < 2; i++) out[i] = Bf16GemmChecks.run(devices[i], GemmBf16Wgmma.kernel(N), M, N, K, ldc, 1, 0.5f, a, b, c0);
        assertClose("ldc = " + ldc, out[0], out[1], 1e-5);
        for (int m = 0; m < M; m++) assertTrue(out[1][m * ldc + N] == c0[m * ldc + N], "the column past N is left alone");
    }

    @Test
    void rejectsSizesOffTheTiles() { Bf16GemmChecks.assertRejectsK(GemmBf16Wgmma.kernel(64), 96, 64); }

    /** N not a multiple of 256 (k/v projections of 128 columns, SwiGLU's 1408) takes blocks of 128 natively, else of 64 (1344). */
    @Test
    void nativeTilingFollowsTheWidthOfC() {
        assumeFalse(System.getProperty("hsa.tc.wgmma.tiles") != null, "the property overrides the choice");
        assertEquals(GemmBf16Wgmma.Tiling.DEFAULT, GemmBf16Wgmma.Tiling.nativeTiling(512));
        assertEquals(GemmBf16Wgmma.Tiling.NARROW, GemmBf16Wgmma.Tiling.nativeTiling(1408));
        assertTrue(GemmBf16Wgmma.fits(256, 1408, 512));
        assertTrue(GemmBf16Wgmma.fits(256, 128, 512));
        assertEquals(GemmBf16Wgmma.Tiling.SLIM, GemmBf16Wgmma.Tiling.nativeTiling(1344));
        assertTrue(GemmBf16Wgmma.fits(256, 1344, 512));
        assertFalse(GemmBf16Wgmma.fits(256, 1312, 512), "N not a multiple of 64");
        assertFalse(GemmBf16Wgmma.fits(64, 512, 512), "M below the block's 128 rows");
    }

    @Test
    void rejectsTilingsTheKernelCannotRun() {
        assertThrows(IllegalArgumentException.class, () -> new GemmBf16Wgmma.Tiling(3, 256, 4));
        assertThrows(IllegalArgumentException.class, () -> GemmBf16Wgmma.Tiling.parse("2x96/4"));
        assertThrows(IllegalArgumentException.class, () -> GemmBf16Wgmma.Tiling.parse("2x256/2"));
    }
}
