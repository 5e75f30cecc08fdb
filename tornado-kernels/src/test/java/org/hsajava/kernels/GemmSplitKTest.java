package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.FakeDevices;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class GemmSplitKTest {

    /** An H100's 132 SMs. */
    private static final DeviceInfo H100 = FakeDevices.gpu(132);

    @Test
    void weightGradientsOfFewBlocksSplitToFillTheDevice() {
        // small-gpu's weight gradients (K = 8 x 4096 tokens): q/o projections, the MLP, the k/v projections, the LM head
        assertEquals(8, GemmSplitK.slices(H100, 512, 512, 32768));     // 16 blocks -> 128 groups
        assertEquals(8, GemmSplitK.slices(H100, 1408, 512, 32768));    // 44 blocks -> 352 groups: 3 full waves
        assertEquals(32, GemmSplitK.slices(H100, 128, 512, 32768));    // 4 blocks -> 128 groups
        assertEquals(32, GemmSplitK.slices(H100, 260, 512, 32768));    // 12 blocks -> 384 of 396 slots
    }

    @Test
    void noSplitWhereItCannotHelpOrIsNotAllowed() {
        assertEquals(1, GemmSplitK.slices(H100, 4096, 4096, 4096), "256 blocks fill the device");
        assertEquals(1, GemmSplitK.slices(FakeDevices.cpu(512 << 10), 512, 512, 32768), "CPUs never split");
        assertEquals(1, GemmSplitK.slices(H100, 512, 512, 32771), "a prime K has no equal slices");
        assertEquals(1, GemmSplitK.slices(H100, 512, 512, 256), "slices would be shorter than " + GemmSplitK.MIN_SLICE);
        assertEquals(2, GemmSplitK.slices(H100, 512, 512, 512));
        int s = GemmSplitK.slices(H100, 2048, 64, 1 << 20);
        assertEquals(8, s, "16 blocks");
        // the workspace bounds the split: 64 blocks on 512 units would want 8 slices or more, and 8 is all 8M floats hold
        assertEquals(8, GemmSplitK.slices(FakeDevices.gpu(512), 1024, 1024, 1 << 16));
        assertEquals(4, GemmSplitK.slices(FakeDevices.gpu(512), 1024, 2048, 1 << 16));
    }

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    static Stream<Arguments> problems() {
        List<Arguments> cases = new ArrayList<>();
        for (Device d : List.of(TestDevices.java(), TestDevices.opencl())) {
            // (transA, transB, M, N, K, slices, beta): ragged block edges, odd slice lengths, accumulate or overwrite
            cases.add(Arguments.of(d, true, false, 37, 70, 615, 5, 1f));
            cases.add(Arguments.of(d, true, false, 64, 64, 512, 2, 0f));
            cases.add(Arguments.of(d, false, false, 19, 33, 99, 3, 1f));
            cases.add(Arguments.of(d, false, true, 21, 8, 64, 4, 0f));
            cases.add(Arguments.of(d, true, true, 5, 130, 300, 6, 1f));
        }
        return cases.stream();
    }

    @ParameterizedTest(name = "{0} {1}{2} {3}x{4}x{5} in {6} slices, beta {7}")
    @MethodSource("problems")
    void aSplitGemmEqualsTheProduct(Device d, boolean ta, boolean tb, int m, int n, int k, int slices, float beta) {
        GemmTest.Problem p = GemmTest.Problem.random(31 + m, ta, tb, m, n, k, 0, 1, false, 0.75f, beta);
        float[] c0 = p.c().clone();
        if (beta == 0f) java.util.Arrays.fill(c0, Float.NaN);   // beta 0: C is write-only, garbage must not leak
        float[] split = run(d, p, c0, slices);
        assertClose("split over " + slices, p.expected(), split, 2e-5);
        assertArrayEquals(split, run(d, p, c0, slices), "a split GEMM is deterministic");
        assertClose("split vs one launch", run(d, p, c0, 1), split, 2e-5);
    }

    /** The wgmma weight gradient's blocks of 128 x 256 (or 128) and K-tiles of 64 shape its split. */
    @Test
    void wgmmaWeightGradientsSplitForTheirBlocks() {
        assertEquals(16, GemmSplitK.slices(H100, 512, 512, 32768, 128, 256, 64));   // 8 blocks -> 128 groups
        assertEquals(4, GemmSplitK.slices(H100, 1408, 512, 32768, 128, 256, 64));   // 22 blocks -> 88 groups
        assertEquals(1, GemmSplitK.slices(H100, 512, 512, 64 * 521, 128, 256, 64), "521 K-tiles (a prime) have no equal slices");
    }

    /**
     * {@link GemmSplitK#appendBf16Wgmma} (emulated wgmma on MN-major tiles) in 1, 2 and 4 slices, beta
     * 0 and 1: the same sums as the fp32 GEMM of the widened bf16 operands, on both backends.
     */
    @ParameterizedTest(name = "{0}")
    @MethodSource("devices")
    void aSplitWgmmaWeightGradientEqualsTheProduct(Device d) {
        int m = 64, n = 128, k = 512;
        short[] a = Bf16GemmChecks.bf16Random(k * m, 41), b = Bf16GemmChecks.bf16Random(k * n, 42);
        float[] c0 = new org.hsajava.compute.testing.Rand(43).normal(m * n, 1);
        float[] fa = Tensor.bf16("a", a.length).set(a).bf16ToF32Array(), fb = Tensor.bf16("b", b.length).set(b).bf16ToF32Array();
        for (float beta : new float[] {0f, 1f}) {
            Tensor want = Tensor.of("C", c0.clone());
            org.hsajava.compute.KernelRunner.run(TestDevices.java(), Gemm.naive(true, false), Tensor.of("A", fa), Tensor.of("B", fb), want,
                    m, n, k, m, n, n, 0, 0, 0, 1, 0.5f, beta);
            for (int slices : new int[] {1, 2, 4}) {
                Tensor ta = Tensor.bf16("A", a.length).set(a.clone()), tb = Tensor.bf16("B", b.length).set(b.clone()), tc = Tensor.of("C", c0.clone());
                TaskGraph g = new TaskGraph("dw").transferToDevice(DataTransferMode.EVERY_EXECUTION, ta, tb, tc);
                GemmSplitK.appendBf16Wgmma(g, "dw", ta, tb, tc, m, n, k, m, n, 0.5f, beta, Tensor.f32("ws", slices * m * n), slices);
                g.transferToHost(DataTransferMode.EVERY_EXECUTION, tc);
                try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
                    plan.execute();
                }
                assertClose(slices + " slices, beta " + beta + " on " + d, want.toF32Array(), tc.toF32Array(), 1e-5);
            }
        }
    }

    @Test
    void refusesWhatItCannotSplit() {
        Device d = TestDevices.java();
        GemmTest.Problem p = GemmTest.Problem.random(3, true, false, 8, 8, 30, 0, 1, false, 1f, 0.5f);
        assertThrows(IllegalArgumentException.class, () -> run(d, p, p.c(), 4), "4 slices do not divide K = 30");
        assertThrows(IllegalArgumentException.class, () -> run(d, p, p.c(), 3), "beta 0.5 cannot be split");
        TaskGraph g = new TaskGraph("tooSmall");
        Tensor a = Tensor.f32("A", 64 * 64), c = Tensor.f32("C", 64 * 64);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> GemmSplitK.append(g, "mm", d, true, false, a, a, c, 64, 64, 64, 64, 64, 1f, 0f, Tensor.f32("ws", 100), 2));
        assertEquals(true, e.getMessage().contains("workspace"), e.getMessage());
    }

    private static float[] run(Device d, GemmTest.Problem p, float[] c0, int slices) {
        Tensor a = Tensor.of("A", p.a().clone()), b = Tensor.of("B", p.b().clone()), c = Tensor.of("C", c0.clone());
        Tensor ws = Tensor.f32("ws", slices * p.m() * p.n());
        TaskGraph g = new TaskGraph("splitk").transferToDevice(DataTransferMode.EVERY_EXECUTION, a, b, c);
        GemmSplitK.append(g, "mm", d, p.transA(), p.transB(), a, b, c, p.m(), p.n(), p.k(), p.lda(), p.ldb(), p.alpha(), p.beta(), ws, slices);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, c);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(d)) {
            plan.execute();
        }
        return c.toF32Array();
    }
}
