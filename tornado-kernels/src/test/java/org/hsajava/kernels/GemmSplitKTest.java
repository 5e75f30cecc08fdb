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
