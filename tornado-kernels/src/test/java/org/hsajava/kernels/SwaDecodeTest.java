package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import java.util.Arrays;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.SlidingWindowAttention.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The decoding kernel (one query against a ring-buffer KV cache) against the double-precision
 * sliding-window reference over the whole sequence: at position t the ring holds the keys of
 * positions max(0, t-W) .. t, key j in slot j mod (W+1), which is what the incremental decoder
 * keeps; slots not yet filled hold NaN and must not be read.
 */
class SwaDecodeTest {

    /** The ring of the keys (or values) visible at position t: [B, R, H, D], R = W + 1, unused slots NaN. */
    static float[] ring(float[] x, int B, int L, int H, int D, int W, int t) {
        int R = W + 1;
        float[] r = new float[B * R * H * D];
        Arrays.fill(r, Float.NaN);
        for (int b = 0; b < B; b++) {
            for (int j = Math.max(0, t - W); j <= t; j++) {
                System.arraycopy(x, (b * L + j) * H * D, r, (b * R + j % R) * H * D, H * D);
            }
        }
        return r;
    }

    static float[] decode(Device dev, float[] q, float[] kc, float[] vc, int B, int HQ, int H, int D, int R, int count) {
        Tensor tq = Tensor.of("q", q.clone()), tk = Tensor.of("kCache", kc.clone()), tv = Tensor.of("vCache", vc.clone());
        float[] nan = new float[B * HQ * D];
        Arrays.fill(nan, Float.NaN);
        Tensor o = Tensor.of("o", nan), scores = Tensor.f32("scores", B * HQ * R);
        TaskGraph g = new TaskGraph("decode").transferToDevice(DataTransferMode.EVERY_EXECUTION, tq, tk, tv, o)
                .task("dec", SlidingWindowAttention.decode(D), tq, tk, tv, o, scores, B, HQ, H, R, count, (float) (1 / Math.sqrt(D)))
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return o.toF32Array();
    }

    static Stream<Arguments> shapes() {
        return Stream.of(
                // B, L, HQ, H, D, W, small (also under oclgrind)
                Arguments.of(1, 1, 2, 1, 16, 4, true),       // the first token: one key
                Arguments.of(2, 9, 6, 2, 24, 0, true),       // W = 0: a ring of one slot; G = 3, D not a power of two
                Arguments.of(1, 20, 4, 4, 8, 5, true),       // the ring wraps many times
                Arguments.of(2, 40, 3, 1, 100, 70, true),    // D > work-group, ring bigger than the work-group, half filled
                Arguments.of(1, 300, 8, 2, 64, 129, false),  // wrapped, R = 130
                Arguments.of(1, 600, 16, 4, 128, 512, false));
    }

    @ParameterizedTest
    @MethodSource("shapes")
    void matchesSlidingWindowAttentionAtEveryKindOfPosition(int B, int L, int HQ, int H, int D, int W, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Rand r = new Rand(1000L * L + D);
        float[] q = r.normal(B * L * HQ * D, 1), k = r.normal(B * L * H * D, 1), v = r.normal(B * L * H * D, 1);
        Shape s = new Shape(B, L, HQ, H, D, W);
        double[] ref = SlidingWindowAttentionTest.referenceForward(s, SlidingWindowAttentionTest.toDouble(q),
                SlidingWindowAttentionTest.toDouble(k), SlidingWindowAttentionTest.toDouble(v));
        int R = W + 1;
        // first position, a half-filled ring, a just-full ring, the last (wrapped) position
        for (int t : new int[] {0, Math.min(L - 1, W / 2), Math.min(L - 1, W), L - 1}) {
            float[] qt = new float[B * HQ * D];
            double[] expect = new double[B * HQ * D];
            for (int b = 0; b < B; b++) {
                System.arraycopy(q, (b * L + t) * HQ * D, qt, b * HQ * D, HQ * D);
                System.arraycopy(ref, (b * L + t) * HQ * D, expect, b * HQ * D, HQ * D);
            }
            float[] kc = ring(k, B, L, H, D, W, t), vc = ring(v, B, L, H, D, W, t);
            int count = Math.min(t + 1, R);
            float[] java = decode(TestDevices.java(), qt, kc, vc, B, HQ, H, D, R, count);
            float[] cl = decode(TestDevices.opencl(), qt, kc, vc, B, HQ, H, D, R, count);
            String at = String.format("B=%d L=%d HQ=%d H=%d D=%d W=%d t=%d", B, L, HQ, H, D, W, t);
            assertClose(at + ": Java vs reference", expect, java, 2e-6);
            assertClose(at + ": OpenCL vs reference", expect, cl, 2e-6);
            assertClose(at + ": OpenCL vs Java", java, cl, 2e-6);
        }
    }

    @Test
    void resultsAreBitwiseRepeatableOnOpenCl() {
        Rand r = new Rand(5);
        int B = 1, HQ = 4, H = 2, D = 32, R = 97;
        float[] q = r.normal(B * HQ * D, 1), kc = r.normal(B * R * H * D, 1), vc = r.normal(B * R * H * D, 1);
        assertArrayEquals(decode(TestDevices.opencl(), q, kc, vc, B, HQ, H, D, R, R), decode(TestDevices.opencl(), q, kc, vc, B, HQ, H, D, R, R));
    }

    @Test
    void badArgumentsAreNamed() {
        Tensor q = Tensor.f32("q", 4 * 16), kc = Tensor.f32("kCache", 5 * 2 * 16), o = Tensor.f32("o", 4 * 16), sc = Tensor.f32("scores", 4 * 5);
        TaskGraph g = new TaskGraph("bad");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> g.task("dec", SlidingWindowAttention.decode(16), q, kc, kc, o, sc, 1, 4, 2, 5, 6, 0.25f));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("'count'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> g.task("dec2", SlidingWindowAttention.decode(16), q, kc, kc, o, sc, 1, 4, 2, 5, 0, 0.25f));
        org.junit.jupiter.api.Assertions.assertTrue(e.getMessage().contains("'count'"), e.getMessage());
    }
}
