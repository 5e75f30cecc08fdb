package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.SegmentAttention.Shape;
import org.hsajava.kernels.SegmentAttention.Tiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class SegmentAttentionTest {

    record Result(float[] o, float[] lse, float[] dq, float[] dk, float[] dv) {}

    /** Forward then backward with upstream gradient dO on one device; tiles null = the defaults through the graph helpers. */
    static Result run(Device device, Shape s, Tiles tiles, float[] q, float[] k, float[] v, float[] dO) {
        int n = s.segments(), t = s.length(), hq = s.queryHeads(), h = s.kvHeads(), d = s.headDim();
        Tensor tq = Tensor.of("q", q.clone(), n, t, hq, d), tk = Tensor.of("k", k.clone(), n, t, h, d), tv = Tensor.of("v", v.clone(), n, t, h, d);
        Tensor tdo = Tensor.of("d_o", dO.clone(), n, t, hq, d);
        Tensor o = Tensor.f32("o", n, t, hq, d), lse = Tensor.f32("lse", n, t, hq), delta = Tensor.f32("delta", n, t, hq);
        Tensor dq = Tensor.f32("dq", n, t, hq, d), dk = Tensor.f32("dk", n, t, h, d), dv = Tensor.f32("dv", n, t, h, d);
        TaskGraph g = new TaskGraph("seg").transferToDevice(DataTransferMode.EVERY_EXECUTION, tq, tk, tv, tdo);
        if (tiles == null) {
            SegmentAttention.addForward(g, "", s, tq, tk, tv, o, lse);
            SegmentAttention.addBackward(g, "", s, tq, tk, tv, o, lse, tdo, delta, dq, dk, dv);
        } else {
            float sc = s.scale();
            g.task("fwd", SegmentAttention.forward(d, tiles), tq, tk, tv, o, lse, n, t, hq, h, sc)
                    .task("delta", SegmentAttention.backwardDelta(d), o, tdo, delta, s.rows())
                    .task("dq", SegmentAttention.backwardDq(d, tiles), tq, tk, tv, tdo, lse, delta, dq, n, t, hq, h, sc)
                    .task("dkdv", SegmentAttention.backwardDkDv(d, tiles), tq, tk, tv, tdo, lse, delta, dk, dv, n, t, hq, h, sc);
        }
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse, dq, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        return new Result(o.toF32Array(), lse.toF32Array(), dq.toF32Array(), dk.toF32Array(), dv.toF32Array());
    }

    // ------------------------------------------------------------------ double-precision reference

    /** Straight from the definition: every query sees every key of its own segment. */
    static double[] reference(Shape s, double[] q, double[] k, double[] v) {
        int segs = s.segments(), len = s.length(), hq = s.queryHeads(), h = s.kvHeads(), dim = s.headDim();
        double scale = 1.0 / Math.sqrt(dim);
        double[] o = new double[segs * len * hq * dim];
        double[] sc = new double[len];
        for (int n = 0; n < segs; n++) {
            for (int t = 0; t < len; t++) {
                for (int g = 0; g < hq; g++) {
                    int kh = g / (hq / h), qi = ((n * len + t) * hq + g) * dim;
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        double dot = 0;
                        for (int d = 0; d < dim; d++) dot += q[qi + d] * k[((n * len + j) * h + kh) * dim + d];
                        sc[j] = dot * scale;
                        max = Math.max(max, sc[j]);
                    }
                    double sum = 0;
                    for (int j = 0; j < len; j++) sum += Math.exp(sc[j] - max);
                    for (int j = 0; j < len; j++) {
                        double p = Math.exp(sc[j] - max) / sum;
                        for (int d = 0; d < dim; d++) o[qi + d] += p * v[((n * len + j) * h + kh) * dim + d];
                    }
                }
            }
        }
        return o;
    }

    static double loss(Shape s, double[] q, double[] k, double[] v, double[] dO) {
        double[] o = reference(s, q, k, v);
        double sum = 0;
        for (int i = 0; i < o.length; i++) sum += o[i] * dO[i];
        return sum;
    }

    // ------------------------------------------------------------------ OpenCL against Java

    static Stream<Arguments> shapes() {
        return Stream.of(
                // N, T, HQ, H, D, tiles (null: default)
                Arguments.of(1, 1, 2, 1, 8, null),               // T = 1
                Arguments.of(3, 5, 4, 4, 8, null),               // S = 4 chunks, G = 1
                Arguments.of(2, 17, 4, 2, 16, null),             // S = 16, G = 2
                Arguments.of(2, 17, 4, 2, 24, new Tiles(8, 5)),  // generic D, many tile edges
                Arguments.of(2, 65, 2, 1, 64, null),             // S = 64, G = 2, three query blocks
                Arguments.of(1, 65, 4, 4, 8, new Tiles(4, 3)),   // tiny tiles
                Arguments.of(5, 33, 8, 2, 32, null),             // G = 4
                Arguments.of(1, 129, 2, 2, 128, null),           // the largest: S = 128, D = 128
                Arguments.of(2, 129, 4, 1, 64, null));
    }

    @ParameterizedTest(name = "N={0} T={1} HQ={2} H={3} D={4} tiles={5}")
    @MethodSource("shapes")
    void openClMatchesJavaAndReference(int n, int t, int hq, int h, int d, Tiles tiles) {
        long work = (long) n * t * t * hq * d;
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || work <= 300_000, "shape too large for oclgrind");
        Shape s = new Shape(n, t, hq, h, d);
        Rand r = new Rand(17L * t + d + n);
        float[] q = r.normal(n * t * hq * d, 1), k = r.normal(n * t * h * d, 1), v = r.normal(n * t * h * d, 1), dO = r.normal(n * t * hq * d, 1);
        Result java = run(TestDevices.java(), s, tiles, q, k, v, dO);
        Result cl = run(TestDevices.opencl(), s, tiles, q, k, v, dO);
        String at = s.toString();
        assertClose(at + ": o", java.o(), cl.o(), 1e-4);
        assertClose(at + ": lse", java.lse(), cl.lse(), 1e-4);
        assertClose(at + ": dq", java.dq(), cl.dq(), 1e-4);
        assertClose(at + ": dk", java.dk(), cl.dk(), 1e-4);
        assertClose(at + ": dv", java.dv(), cl.dv(), 1e-4);
        assertClose(at + ": Java o vs double reference",
                reference(s, CentralDifference.toDouble(q), CentralDifference.toDouble(k), CentralDifference.toDouble(v)), java.o(), 1e-5);
    }

    @Test
    void openClIsDeterministic() {
        Shape s = new Shape(3, 17, 4, 2, 16);
        Rand r = new Rand(5);
        float[] q = r.normal(3 * 17 * 4 * 16, 1), k = r.normal(3 * 17 * 2 * 16, 1), v = r.normal(3 * 17 * 2 * 16, 1), dO = r.normal(3 * 17 * 4 * 16, 1);
        Tiles t = new Tiles(8, 4);
        Result a = run(TestDevices.opencl(), s, t, q, k, v, dO), c = run(TestDevices.opencl(), s, t, q, k, v, dO);
        assertArrayEquals(a.o(), c.o());
        assertArrayEquals(a.dq(), c.dq());
        assertArrayEquals(a.dk(), c.dk());
        assertArrayEquals(a.dv(), c.dv());
    }

    @Test
    void segmentsAreIndependent() {
        // Changing segment 1 must leave segment 0's output and lse bit for bit unchanged.
        Shape s = new Shape(2, 5, 2, 1, 8);
        Rand r = new Rand(3);
        float[] q = r.normal(2 * 5 * 2 * 8, 1), k = r.normal(2 * 5 * 8, 1), v = r.normal(2 * 5 * 8, 1), dO = r.normal(2 * 5 * 2 * 8, 1);
        for (Device dev : CentralDifference.devices()) {
            Result a = run(dev, s, null, q, k, v, dO);
            float[] k2 = k.clone(), v2 = v.clone();
            for (int i = 5 * 8; i < k2.length; i++) { k2[i] += 1; v2[i] -= 1; }
            Result b = run(dev, s, null, q, k2, v2, dO);
            int half = 5 * 2 * 8;
            assertArrayEquals(java.util.Arrays.copyOf(a.o(), half), java.util.Arrays.copyOf(b.o(), half), "segment 0 output on " + dev);
            assertArrayEquals(java.util.Arrays.copyOf(a.lse(), 10), java.util.Arrays.copyOf(b.lse(), 10), "segment 0 lse on " + dev);
        }
    }

    // ------------------------------------------------------------------ finite differences

    static Stream<Arguments> fdShapes() {
        return Stream.of(
                // N, T, HQ, H, D, tiles
                Arguments.of(2, 5, 2, 2, 8, null),             // T = 5, G = 1
                Arguments.of(2, 5, 4, 2, 3, new Tiles(2, 2)),  // T = 5, G = 2, generic D, tiles cross
                Arguments.of(1, 17, 2, 2, 8, null),            // T = 17, G = 1
                Arguments.of(2, 17, 4, 2, 4, new Tiles(8, 5)), // T = 17, G = 2
                Arguments.of(1, 65, 2, 2, 4, null),            // T = 65, G = 1
                Arguments.of(1, 65, 2, 1, 8, null));           // T = 65, G = 2
    }

    @ParameterizedTest(name = "N={0} T={1} HQ={2} H={3} D={4}")
    @MethodSource("fdShapes")
    void gradientsMatchDoubleFiniteDifferences(int n, int t, int hq, int h, int d, Tiles tiles) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || t <= 17, "shape too large for oclgrind");
        Shape s = new Shape(n, t, hq, h, d);
        Rand r = new Rand(99 + t + d);
        float[] q = r.normal(n * t * hq * d, 1), k = r.normal(n * t * h * d, 1), v = r.normal(n * t * h * d, 1), dO = r.normal(n * t * hq * d, 1);
        double[] qd = CentralDifference.toDouble(q), kd = CentralDifference.toDouble(k), vd = CentralDifference.toDouble(v), dOd = CentralDifference.toDouble(dO);
        for (Device dev : CentralDifference.devices()) {
            Result res = run(dev, s, tiles, q, k, v, dO);
            checkGradient(s + " dq on " + dev, qd, res.dq(), x -> loss(s, x, kd, vd, dOd));
            checkGradient(s + " dk on " + dev, kd, res.dk(), x -> loss(s, qd, x, vd, dOd));
            checkGradient(s + " dv on " + dev, vd, res.dv(), x -> loss(s, qd, kd, x, dOd));
        }
    }

    /** Central differences at up to 150 sampled coordinates, error relative to max |analytic|. */
    private static void checkGradient(String what, double[] x, float[] analytic, java.util.function.ToDoubleFunction<double[]> f) {
        double scale = 1e-12;
        for (float g : analytic) scale = Math.max(scale, Math.abs(g));
        SplittableRandom rng = new SplittableRandom(what.length());
        int samples = Math.min(150, x.length);
        for (int s = 0; s < samples; s++) {
            int i = samples == x.length ? s : rng.nextInt(x.length);
            double keep = x[i], eps = 1e-4;
            x[i] = keep + eps;
            double up = f.applyAsDouble(x);
            x[i] = keep - eps;
            double down = f.applyAsDouble(x);
            x[i] = keep;
            double numeric = (up - down) / (2 * eps);
            if (Math.abs(numeric - analytic[i]) / scale > 1e-4) {
                fail(String.format("%s: coordinate %d: finite difference %.6g, backward %.6g (max |grad| %.3g)", what, i, numeric, analytic[i], scale));
            }
        }
    }

    // ------------------------------------------------------------------ argument checks

    @Test
    void checksNameTheWrongArgument() {
        Tensor q = Tensor.f32("q", 2, 5, 2, 8), k = Tensor.f32("k", 2, 5, 1, 8), v = Tensor.f32("v", 2, 5, 1, 8);
        Tensor o = Tensor.f32("o", 2, 5, 2, 8);
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g")
                .task("f", SegmentAttention.forward(8), q, k, v, o, Tensor.f32("lse", 2, 5, 3), 2, 5, 2, 1, 0.3f));
        assertTrue(e.getMessage().contains("'lse'"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g")
                .task("f", SegmentAttention.forward(8), q, k, v, o, Tensor.f32("lse", 2, 5, 2), 2, 5, 2, 3, 0.3f));
        assertTrue(e2.getMessage().contains("'HQ'"), e2.getMessage());
        Tensor big = Tensor.f32("q", 1, 130, 2, 8), bk = Tensor.f32("k", 1, 130, 1, 8);
        var e3 = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g")
                .task("f", SegmentAttention.forward(8), big, bk, bk, big, Tensor.f32("lse", 1, 130, 2), 1, 130, 2, 1, 0.3f));
        assertTrue(e3.getMessage().contains("'T'"), e3.getMessage());
    }
}
