package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.FakeDevices;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class GemmTest {

    /** Float32 sums of up to a few hundred terms against a double reference, relative to max |C|. */
    private static final double TOL = 2e-5;

    /** A small tiling that makes multi-tile and edge cases cheap enough for oclgrind. */
    private static final GemmTiling SMALL = new GemmTiling(16, 32, 8, 4, 4);

    /**
     * One GEMM problem in stored form: A, B, C arrays (with padded row strides and batch strides)
     * and the arguments that describe them.
     */
    record Problem(boolean transA, boolean transB, int m, int n, int k, int lda, int ldb, int ldc,
                   int strideA, int strideB, int strideC, int batch, float alpha, float beta,
                   float[] a, float[] b, float[] c) {

        static Problem random(long seed, boolean transA, boolean transB, int m, int n, int k, int pad, int batch, boolean broadcastB, float alpha, float beta) {
            Rand r = new Rand(seed);
            int lda = (transA ? m : k) + pad, ldb = (transB ? k : n) + pad, ldc = n + pad;
            int rowsA = transA ? k : m, rowsB = transB ? n : k;
            int strideA = rowsA * lda + 3, strideB = broadcastB ? 0 : rowsB * ldb + 1, strideC = m * ldc + 2;
            float[] a = r.normal((batch - 1) * strideA + rowsA * lda, 1);
            float[] b = r.normal((batch - 1) * strideB + rowsB * ldb, 1);
            float[] c = r.normal((batch - 1) * strideC + m * ldc, 1);
            return new Problem(transA, transB, m, n, k, lda, ldb, ldc, strideA, strideB, strideC, batch, alpha, beta, a, b, c);
        }

        double opA(int bi, int i, int kk) { return transA ? a[bi * strideA + kk * lda + i] : a[bi * strideA + i * lda + kk]; }

        double opB(int bi, int kk, int j) { return transB ? b[bi * strideB + j * ldb + kk] : b[bi * strideB + kk * ldb + j]; }

        /** Independent double-precision result (elements of C outside the matrices stay as they were). */
        double[] expected() {
            double[] out = new double[c.length];
            for (int i = 0; i < c.length; i++) out[i] = c[i];
            for (int bi = 0; bi < batch; bi++)
                for (int i = 0; i < m; i++)
                    for (int j = 0; j < n; j++) {
                        double s = 0;
                        for (int kk = 0; kk < k; kk++) s += opA(bi, i, kk) * opB(bi, kk, j);
                        int at = bi * strideC + i * ldc + j;
                        out[at] = alpha * s + (beta == 0 ? 0 : beta * (double) c[at]);
                    }
            return out;
        }

        Object[] args(Tensor ta, Tensor tb, Tensor tc) {
            return new Object[] {ta, tb, tc, m, n, k, lda, ldb, ldc, strideA, strideB, strideC, batch, alpha, beta};
        }

        /** Runs {@code kernel} on plain tensors holding copies of the arrays; returns C. */
        float[] run(Device d, KernelDef kernel) {
            Tensor tc = Tensor.of("C", c.clone());
            KernelRunner.run(d, kernel, args(Tensor.of("A", a.clone()), Tensor.of("B", b.clone()), tc));
            return tc.toF32Array();
        }
    }

    /** Every kernel variant that must agree with the references on {@code d}. */
    private static List<KernelDef> variants(boolean ta, boolean tb) {
        List<KernelDef> ks = new ArrayList<>(List.of(Gemm.naive(ta, tb), Gemm.kernel(ta, tb, SMALL)));
        ks.add(Gemm.cpu(ta, tb));
        ks.add(Gemm.cpu(ta, tb, 4));
        if (!TestDevices.underOclgrind()) ks.addAll(productionVariants(ta, tb));
        return ks;
    }

    /** The tilings the library picks on real devices (checked under oclgrind on the small shapes only). */
    private static List<KernelDef> productionVariants(boolean ta, boolean tb) {
        return List.of(Gemm.kernel(ta, tb, GemmTiling.GPU), Gemm.kernel(ta, tb, GemmTiling.GPU_SMALL), Gemm.kernel(ta, tb, GemmTiling.CPU));
    }

    static Stream<Arguments> shapes() {
        // 1x1x1, primes, non-multiples of every tile (4, 8, 16, 32, 64, 128), K = 1, tall-skinny, wide-short
        int[][] all = {{1, 1, 1}, {37, 53, 29}, {67, 131, 1}, {133, 3, 17}, {2, 150, 9}, {129, 65, 40}};
        int[][] small = {{1, 1, 1}, {37, 53, 29}, {19, 3, 1}};
        List<Arguments> out = new ArrayList<>();
        for (int[] s : TestDevices.underOclgrind() ? small : all)
            for (int t = 0; t < 4; t++) out.add(Arguments.of((t & 1) != 0, (t & 2) != 0, s[0], s[1], s[2]));
        return out.stream();
    }

    @ParameterizedTest(name = "transA={0} transB={1} M={2} N={3} K={4}")
    @MethodSource("shapes")
    void everyVariantMatchesDoubleReferenceAndJavaLoop(boolean ta, boolean tb, int m, int n, int k) {
        Problem p = Problem.random(m * 1000L + n * 10 + k, ta, tb, m, n, k, 3, 1, false, 1.5f, 0f);
        double[] want = p.expected();
        float[] java = p.run(TestDevices.java(), Gemm.kernel(ta, tb));
        assertClose("java loop vs double", want, java, TOL);
        Device cl = TestDevices.opencl();
        List<KernelDef> kernels = variants(ta, tb);
        if (TestDevices.underOclgrind()) kernels.addAll(productionVariants(ta, tb));
        for (KernelDef kd : kernels) {
            float[] got = p.run(cl, kd);
            assertClose(kd.name() + " vs double", want, got, TOL);
            assertClose(kd.name() + " vs java loop", java, got, TOL);
        }
    }

    static Stream<Arguments> transposes() {
        return Stream.of(Arguments.of(false, false), Arguments.of(true, false), Arguments.of(false, true), Arguments.of(true, true));
    }

    @ParameterizedTest(name = "transA={0} transB={1}")
    @MethodSource("transposes")
    void batchedWithStridesAlphaBetaAndBroadcast(boolean ta, boolean tb) {
        int m = 23, n = 41, k = 19, batch = TestDevices.underOclgrind() ? 2 : 3;
        Problem p = Problem.random(7, ta, tb, m, n, k, 5, batch, true, -0.75f, 0.5f);
        double[] want = p.expected();
        assertClose("java", want, p.run(TestDevices.java(), Gemm.kernel(ta, tb)), TOL);
        for (KernelDef kd : variants(ta, tb)) assertClose(kd.name(), want, p.run(TestDevices.opencl(), kd), TOL);
    }

    @ParameterizedTest(name = "transA={0} transB={1}")
    @MethodSource("transposes")
    void unguardedVariantOnTileMultiples(boolean ta, boolean tb) {
        // one block (two batch items) under oclgrind; several blocks and K-steps otherwise
        int f = TestDevices.underOclgrind() ? 1 : 2;
        for (GemmTiling t : List.of(SMALL, GemmTiling.GPU, GemmTiling.GPU_SMALL, GemmTiling.CPU)) {
            Problem p = Problem.random(11, ta, tb, t.tm() * f, t.tn() * f, t.tk() * (f + 1), f == 1 ? 0 : 4, 2, false, 1f, -1f);
            assertClose("exact " + t, p.expected(), p.run(TestDevices.opencl(), Gemm.exact(ta, tb, t)), TOL);
        }
    }

    @Test
    void selectPicksUnguardedOnlyWhenTilesDivide() {
        Device cl = TestDevices.opencl();
        GemmTiling t = GemmTiling.forProblem(cl.info(), 1024, 1024, 1);
        KernelDef exact = Gemm.tiled(cl.info(), false, false, 1024, 1024, 256, 1);
        assertEquals("1", exact.defines().get("GEMM_EXACT"));
        assertEquals(String.valueOf(t.tm()), exact.defines().get("GEMM_TM"));
        assertEquals("0", Gemm.tiled(cl.info(), false, false, 1025, 1024, 256, 1).defines().get("GEMM_EXACT"));
        assertEquals("0", Gemm.tiled(cl.info(), false, false, 1024, 1024, 255, 1).defines().get("GEMM_EXACT"));
        assertSame(Gemm.kernel(true, false), Gemm.kernel(true, false), "variants are cached");
    }

    @Test
    void selectPicksTheBarrierFreeKernelOnCpusOnly() {
        assertTrue(Gemm.useCpuKernel(FakeDevices.cpu(48 << 10)));
        assertEquals(16, Gemm.cpuGroup(8192));
        assertEquals(16, Gemm.cpuGroup(384));   // 48 row blocks of 8: 3 whole groups
        assertEquals(8, Gemm.cpuGroup(64));     // 8 row blocks: a group of 16 would idle half
        assertEquals(4, Gemm.cpuGroup(260));    // 33 row blocks: 36 with groups of 4, 40 with 8, 48 with 16
        assertEquals(4, Gemm.cpuGroup(1));
        assertFalse(Gemm.useCpuKernel(FakeDevices.gpu(132)));
        Device cl = TestDevices.opencl();
        if (cl.info().type() == DeviceInfo.Type.CPU) {
            for (int t = 0; t < 4; t++) assertEquals("gemm_cpu", Gemm.select(cl, (t & 1) != 0, (t & 2) != 0, 64, 64, 64).entryPoint());
        }
    }

    @Test
    void gpuTilesShrinkWhenLargeBlocksWouldLeaveComputeUnitsIdle() {
        DeviceInfo gpu = FakeDevices.gpu(132), cpu = FakeDevices.cpu(48 << 10);
        assertEquals(GemmTiling.GPU_SMALL, GemmTiling.forProblem(gpu, 1024, 1024, 1));  // 64 blocks < 132 CUs
        assertEquals(GemmTiling.GPU, GemmTiling.forProblem(gpu, 2048, 2048, 1));        // 256 blocks
        assertEquals(GemmTiling.GPU, GemmTiling.forProblem(gpu, 1024, 1024, 4));        // batch fills the device
        assertEquals(GemmTiling.CPU, GemmTiling.forProblem(cpu, 1024, 1024, 1));
    }

    @Test
    void tilingsThatCannotShareLoadsEvenlyAreRejected() {
        assertThrows(IllegalArgumentException.class, () -> new GemmTiling(64, 64, 16, 6, 4));   // micro-tile not float4
        assertThrows(IllegalArgumentException.class, () -> new GemmTiling(64, 48, 16, 4, 32));  // block not a micro-tile multiple
        assertThrows(IllegalArgumentException.class, () -> new GemmTiling(128, 128, 1, 4, 4));  // 1024 work-items, 128-element loads
    }

    @Test
    void betaZeroNeverReadsC() {
        Problem p = Problem.random(3, false, true, 33, 17, 9, 0, 2, false, 2f, 0f);
        java.util.Arrays.fill(p.c(), Float.NaN);
        double[] want = p.expected();
        for (int i = 0; i < want.length; i++) if (Double.isNaN(want[i])) want[i] = Float.NaN;  // gaps between batch items stay NaN
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()})
            for (KernelDef kd : variants(false, true)) {
                float[] got = p.run(d, kd);
                assertClose(kd.name() + " on " + d, want, got, TOL);
                assertFalse(Float.isNaN(got[0]), "C[0] must be written, not read");
            }
    }

    @Test
    void viewsAtOffsetsOfLargerTensors() {
        // A, B and C are views of one flat buffer (like the model's parameter buffer), at offsets
        // aligned to the devices' sub-buffer base alignment (512 bytes).
        int m = 29, n = 45, k = 31;
        Problem p = Problem.random(5, false, false, m, n, k, 0, 1, false, 1f, 1f);
        int offA = 128, offB = offA + align(p.a().length), offC = offB + align(p.b().length), total = offC + align(p.c().length);
        double[] want = p.expected();
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()})
            for (KernelDef kd : variants(false, false)) {
                Tensor flat = Tensor.f32("flat", total);
                Tensor va = flat.view("A", offA, p.a().length).set(p.a());
                Tensor vb = flat.view("B", offB, p.b().length).set(p.b());
                Tensor vc = flat.view("C", offC, p.c().length).set(p.c());
                KernelRunner.run(d, kd, p.args(va, vb, vc));
                assertClose(kd.name() + " on " + d, want, vc.toF32Array(), TOL);
            }
    }

    private static int align(int n) { return (n + 127) / 128 * 128; }

    @Test
    void argumentErrorsNameTheArgument() {
        Device d = TestDevices.java();
        KernelDef kd = Gemm.kernel(false, false);
        Tensor a = Tensor.f32("A", 4 * 5), b = Tensor.f32("B", 5 * 6), c = Tensor.f32("C", 4 * 6), small = Tensor.f32("tiny", 10);
        assertMessage("'A'", () -> KernelRunner.run(d, kd, small, b, c, 4, 6, 5, 5, 6, 6, 0, 0, 0, 1, 1f, 0f));
        assertMessage("'B'", () -> KernelRunner.run(d, kd, a, small, c, 4, 6, 5, 5, 6, 6, 0, 0, 0, 1, 1f, 0f));
        assertMessage("'C'", () -> KernelRunner.run(d, kd, a, b, small, 4, 6, 5, 5, 6, 6, 0, 0, 0, 1, 1f, 0f));
        assertMessage("'lda'", () -> KernelRunner.run(d, kd, a, b, c, 4, 6, 5, 4, 6, 6, 0, 0, 0, 1, 1f, 0f));
        assertMessage("'ldc'", () -> KernelRunner.run(d, kd, a, b, c, 4, 6, 5, 5, 6, 5, 0, 0, 0, 1, 1f, 0f));
        assertMessage("'batch'", () -> KernelRunner.run(d, kd, a, b, c, 4, 6, 5, 5, 6, 6, 0, 0, 0, 0, 1f, 0f));
        assertMessage("'strideC'", () -> KernelRunner.run(d, kd, a, b, Tensor.f32("C2", 48), 4, 6, 5, 5, 6, 6, 0, 0, 10, 2, 1f, 0f));
        assertMessage("'A'", () -> KernelRunner.run(d, kd, a, b, Tensor.f32("C2", 48), 4, 6, 5, 5, 6, 6, 20, 0, 24, 2, 1f, 0f));
        assertMessage("'M'", () -> KernelRunner.run(d, Gemm.exact(false, false, SMALL), a, b, c, 4, 6, 5, 5, 6, 6, 0, 0, 0, 1, 1f, 0f));
        // transposed A is stored K x M: lda must cover M columns
        assertMessage("'lda'", () -> KernelRunner.run(d, Gemm.kernel(true, false), Tensor.f32("At", 5 * 4), b, c, 4, 6, 5, 3, 6, 6, 0, 0, 0, 1, 1f, 0f));
    }

    private static void assertMessage(String part, Runnable r) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, r::run);
        assertTrue(e.getMessage().contains(part), "message should name " + part + ": " + e.getMessage());
    }

    // ------------------------------------------------------------------- backward = GEMMs, vs FD

    /**
     * For L = sum(G * (op(A) op(B))), the gradients of the STORED matrices are GEMMs:
     * dA = G op(B)^T (or its transpose op(B) G^T when A is stored transposed), and
     * dB = op(A)^T G (or G^T op(A)). Computed with the GEMM kernels, checked against central
     * finite differences of a double-precision forward written here.
     */
    @ParameterizedTest(name = "transA={0} transB={1}")
    @MethodSource("transposes")
    void backwardIdentitiesMatchFiniteDifferences(boolean ta, boolean tb) {
        int m = 7, n = 5, k = 6;
        Rand r = new Rand(99);
        int lda = ta ? m : k, ldb = tb ? k : n;
        float[] a = r.normal(m * k, 1), b = r.normal(k * n, 1), g = r.normal(m * n, 1);
        double[] fdA = new double[a.length], fdB = new double[b.length];
        double h = 1e-3;
        double[] ad = toDouble(a), bd = toDouble(b);
        for (int i = 0; i < a.length; i++) fdA[i] = centralDiff(ad, i, h, () -> lossD(ad, bd, g, ta, tb, m, n, k));
        for (int i = 0; i < b.length; i++) fdB[i] = centralDiff(bd, i, h, () -> lossD(ad, bd, g, ta, tb, m, n, k));
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            Tensor tA = Tensor.of("A", a.clone()), tB = Tensor.of("B", b.clone()), tG = Tensor.of("G", g.clone());
            Tensor dA = Tensor.f32("dA", a.length), dB = Tensor.f32("dB", b.length);
            if (!ta) gemm(d, false, !tb, tG, tB, dA, m, k, n, n, ldb, k);        // dA = G op(B)^T, M x K
            else gemm(d, tb, true, tB, tG, dA, k, m, n, ldb, n, m);              // stored K x M: op(B) G^T
            if (!tb) gemm(d, !ta, false, tA, tG, dB, k, n, m, lda, n, n);        // dB = op(A)^T G, K x N
            else gemm(d, true, ta, tG, tA, dB, n, k, m, n, lda, k);              // stored N x K = G^T op(A)
            assertClose("dA on " + d, fdA, dA.toF32Array(), 1e-4);
            assertClose("dB on " + d, fdB, dB.toF32Array(), 1e-4);
        }
    }

    private static void gemm(Device d, boolean ta, boolean tb, Tensor a, Tensor b, Tensor c, int m, int n, int k, int lda, int ldb, int ldc) {
        KernelDef kd = d.isJava() ? Gemm.kernel(ta, tb) : Gemm.kernel(ta, tb, SMALL);
        KernelRunner.run(d, kd, a, b, c, m, n, k, lda, ldb, ldc, 0, 0, 0, 1, 1f, 0f);
    }

    private static double centralDiff(double[] x, int i, double h, java.util.function.DoubleSupplier f) {
        double x0 = x[i];
        x[i] = x0 + h;
        double up = f.getAsDouble();
        x[i] = x0 - h;
        double down = f.getAsDouble();
        x[i] = x0;
        return (up - down) / (2 * h);
    }

    /** The forward in double precision, written independently of the kernels: sum(G * op(A) op(B)). */
    private static double lossD(double[] a, double[] b, float[] g, boolean ta, boolean tb, int m, int n, int k) {
        double s = 0;
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++) {
                double c = 0;
                for (int kk = 0; kk < k; kk++) c += (ta ? a[kk * m + i] : a[i * k + kk]) * (tb ? b[j * k + kk] : b[kk * n + j]);
                s += g[i * n + j] * c;
            }
        return s;
    }

    private static double[] toDouble(float[] x) {
        double[] d = new double[x.length];
        for (int i = 0; i < x.length; i++) d[i] = x[i];
        return d;
    }
}
