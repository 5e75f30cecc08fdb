package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
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
import org.hsajava.kernels.HsaAttentionTest.Case;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link HsaAttention#forwardAt}: HSA attention for a window of query positions against a memory
 * sized on its own. A window cut out of a training-shaped problem gives exactly the training
 * forward's rows, whatever lies in the memory beyond the chunks the window may read; and positions
 * past the end of the memory read only the chunks it holds.
 */
class HsaAttentionAtTest {

    record Out(float[] o, float[] lse) {}

    /** Runs one kernel launch; outputs start as NaN so that an unwritten element shows. */
    static Out run(Device dev, boolean at, float[] q, float[] k, float[] v, int[] idx, float[] w,
                   int B, int L, int HQ, int H, int D, int S, int K, int n, int t0, int C) {
        Tensor tq = Tensor.of("q", q.clone()), tk = Tensor.of("k", k.clone()), tv = Tensor.of("v", v.clone());
        Tensor ti = Tensor.of("indices", idx.clone()), tw = Tensor.of("weights", w.clone());
        Tensor o = nan("o", B * L * HQ * D), lse = nan("lse", B * L * HQ * K);
        float scale = (float) (1 / Math.sqrt(D));
        TaskGraph g = new TaskGraph("hsa").transferToDevice(DataTransferMode.EVERY_EXECUTION, tq, tk, tv, ti, tw, o, lse);
        if (at) g.task("fwd", HsaAttention.forwardAt(D, S, HQ / H), tq, tk, tv, ti, tw, o, lse, B, L, HQ, H, K, n, scale, t0, C);
        else g.task("fwd", HsaAttention.forward(D, S, HQ / H), tq, tk, tv, ti, tw, o, lse, B, L, HQ, H, K, n, scale);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return new Out(o.toF32Array(), lse.toF32Array());
    }

    private static Tensor nan(String name, int n) {
        float[] a = new float[n];
        Arrays.fill(a, Float.NaN);
        return Tensor.of(name, a);
    }

    /** Rows [i0, i0 + rows) of each sequence of a [B, L, width] array. */
    static float[] rows(float[] x, int B, int L, int width, int i0, int rows) {
        float[] r = new float[B * rows * width];
        for (int b = 0; b < B; b++) System.arraycopy(x, (b * L + i0) * width, r, b * rows * width, rows * width);
        return r;
    }

    static int[] rows(int[] x, int B, int L, int width, int i0, int rows) {
        int[] r = new int[B * rows * width];
        for (int b = 0; b < B; b++) System.arraycopy(x, (b * L + i0) * width, r, b * rows * width, rows * width);
        return r;
    }

    /** A [B, C·S, H, D] memory grown to C + extra chunks per sequence, the new chunks NaN (never to be read). */
    static float[] grow(float[] kv, int B, int C, int extra, int S, int H, int D) {
        int per = C * S * H * D, perBig = (C + extra) * S * H * D;
        float[] r = new float[B * perBig];
        Arrays.fill(r, Float.NaN);
        for (int b = 0; b < B; b++) System.arraycopy(kv, b * per, r, b * perBig, per);
        return r;
    }

    static Stream<Arguments> windows() {
        return Stream.of(
                // B, L, HQ, H, D, S, K, n, first row, rows, extra memory chunks, small (also under oclgrind)
                Arguments.of(1, 53, 2, 2, 16, 16, 2, 1, 50, 3, 0, true),        // the last rows, memory exactly C
                Arguments.of(2, 67, 16, 1, 16, 16, 3, 0, 10, 40, 5, true),      // B = 2: the batch stride is C + extra chunks
                Arguments.of(1, 40, 4, 1, 32, 16, 4, 1, 0, 40, 2, true),        // t0 = 0: the whole sequence
                Arguments.of(1, 33, 4, 2, 16, 16, 2, 0, 32, 1, 7, true),        // one token (decoding)
                Arguments.of(3, 101, 16, 1, 32, 16, 8, 1, 64, 37, 3, false),
                Arguments.of(1, 300, 16, 1, 128, 128, 2, 0, 257, 43, 1, false));
    }

    @ParameterizedTest
    @MethodSource("windows")
    void windowRowsEqualTheTrainingForward(int B, int L, int HQ, int H, int D, int S, int K, int n, int i0, int rows, int extra, boolean small) {
        assumeFalse(TestDevices.underOclgrind() && !small, "too large for the simulator");
        Case cs = Case.random(17L * L + i0, B, L, HQ, H, D, S, K, n);
        int C = L / S;
        float[] q = rows(cs.q(), B, L, HQ * D, i0, rows), w = rows(cs.w(), B, L, H * K, i0, rows);
        int[] idx = rows(cs.idx(), B, L, H * K, i0, rows);
        float[] k = grow(cs.k(), B, C, extra, S, H, D), v = grow(cs.v(), B, C, extra, S, H, D);
        String at = String.format("B=%d L=%d HQ=%d H=%d D=%d S=%d K=%d rows [%d, %d) extra %d", B, L, HQ, H, D, S, K, i0, i0 + rows, extra);
        for (Device dev : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            Out full = run(dev, false, cs.q(), cs.k(), cs.v(), cs.idx(), cs.w(), B, L, HQ, H, D, S, K, n, 0, 0);
            Out win = run(dev, true, q, k, v, idx, w, B, rows, HQ, H, D, S, K, n, i0, C + extra);
            // the same arithmetic on the same device: equal to the last bit
            assertArrayEquals(rows(full.o(), B, L, HQ * D, i0, rows), win.o(), at + ": o on " + dev);
            assertArrayEquals(rows(full.lse(), B, L, HQ * K, i0, rows), win.lse(), at + ": lse on " + dev);
        }
    }

    /** Double-precision HSA output of query rows at positions t0 + i against a memory of C chunks. */
    static double[] reference(float[] q, float[] k, float[] v, int[] idx, float[] w, int B, int L, int HQ, int H, int D, int S, int K, int n, int t0, int C) {
        int G = HQ / H;
        double scale = 1 / Math.sqrt(D);
        double[] o = new double[B * L * HQ * D];
        for (int b = 0; b < B; b++) {
            for (int i = 0; i < L; i++) {
                int valid = Math.min(K, Math.min(C, (t0 + i) / S));
                for (int hq = 0; hq < HQ; hq++) {
                    int h = hq / G, row = (b * L + i) * HQ + hq;
                    for (int slot = 0; slot < valid; slot++) {
                        int sel = ((b * L + i) * H + h) * K + slot, c = idx[sel];
                        double[] e = new double[S];
                        double z = n;
                        for (int j = 0; j < S; j++) {
                            int kr = ((b * C * S + c * S + j) * H + h) * D;
                            double s = 0;
                            for (int d = 0; d < D; d++) s += (double) q[row * D + d] * k[kr + d];
                            e[j] = Math.exp(s * scale);
                            z += e[j];
                        }
                        for (int j = 0; j < S; j++) {
                            int vr = ((b * C * S + c * S + j) * H + h) * D;
                            for (int d = 0; d < D; d++) o[row * D + d] += w[sel] * e[j] / z * v[vr + d];
                        }
                    }
                }
            }
        }
        return o;
    }

    @ParameterizedTest
    @MethodSource("capped")
    void positionsPastTheMemoryReadOnlyItsChunks(int B, int L, int HQ, int H, int D, int S, int K, int n, int t0, int C) {
        // Slots at or past min(K, C) hold an index far outside the memory: they must not be read.
        Rand r = new Rand(3L * t0 + C);
        int[] idx = new int[B * L * H * K];
        float[] w = new float[B * L * H * K];
        for (int row = 0; row < B * L * H; row++) {
            int valid = Math.min(K, Math.min(C, (t0 + row / H % L) / S));
            for (int slot = 0; slot < K; slot++) {
                idx[row * K + slot] = slot < valid ? valid - 1 - slot : 1 << 20;
                w[row * K + slot] = slot < valid ? (float) (0.1 + 0.8 * r.nextDouble()) : Float.NaN;
            }
        }
        float[] q = r.normal(B * L * HQ * D, 1), k = r.normal(B * C * S * H * D, 1), v = r.normal(B * C * S * H * D, 1);
        double[] expect = reference(q, k, v, idx, w, B, L, HQ, H, D, S, K, n, t0, C);
        String at = String.format("B=%d L=%d t0=%d C=%d", B, L, t0, C);
        Out java = run(TestDevices.java(), true, q, k, v, idx, w, B, L, HQ, H, D, S, K, n, t0, C);
        Out cl = run(TestDevices.opencl(), true, q, k, v, idx, w, B, L, HQ, H, D, S, K, n, t0, C);
        assertClose(at + ": Java vs reference", expect, java.o(), 1e-5);
        assertClose(at + ": OpenCL vs reference", expect, cl.o(), 1e-5);
        assertClose(at + ": OpenCL lse vs Java", java.lse(), cl.lse(), 1e-5);
    }

    static Stream<Arguments> capped() {
        return Stream.of(
                // B, L, HQ, H, D, S, K, n, t0, C
                Arguments.of(1, 5, 2, 1, 16, 16, 4, 0, 200, 2),      // far past the memory: K' = C = 2
                Arguments.of(2, 20, 4, 2, 16, 16, 3, 1, 40, 9),      // from 2 valid slots (t < 48) to K
                Arguments.of(1, 3, 16, 1, 32, 32, 8, 0, 31, 1),      // the first chunk completes inside the window
                Arguments.of(1, 4, 2, 2, 16, 16, 2, 1, 7, 0));       // an empty memory: every output 0
    }

    @Test
    void rejectsBadGeometry() {
        Tensor q = Tensor.f32("q", 2 * 16), kv = Tensor.f32("k", 3 * 16 * 16), idx = Tensor.i32("indices", 2), w = Tensor.f32("weights", 2);
        Tensor o = Tensor.f32("o", 2 * 16), lse = Tensor.f32("lse", 2 * 2);
        KernelDefCall call = (t0, c) -> new TaskGraph("bad").task("fwd", HsaAttention.forwardAt(16, 16, 2), q, kv, kv, idx, w, o, lse, 1, 1, 2, 1, 2, 0, 0.25f, t0, c);
        var e = assertThrows(IllegalArgumentException.class, () -> call.run(-1, 3));
        assertTrue(e.getMessage().contains("'t0'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> call.run(0, 4));  // memory of 3 chunks given for C = 4
        assertTrue(e.getMessage().contains("'k'"), e.getMessage());
        call.run(100, 3);
    }

    @FunctionalInterface
    private interface KernelDefCall {
        void run(int t0, int c);
    }
}
