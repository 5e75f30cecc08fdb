package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Golden;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.SlidingWindowAttention.Shape;
import org.hsajava.kernels.SlidingWindowAttention.Tiles;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

class SlidingWindowAttentionTest {

    /** Everything one forward + backward produces. */
    record Result(float[] o, float[] lse, float[] dq, float[] dk, float[] dv) {}

    /** Runs forward, then backward with upstream gradient {@code dO}, on one device (tiles null: the defaults, through the task-graph helpers). */
    static Result run(Device device, Shape s, Tiles tiles, float[] q, float[] k, float[] v, float[] dO) {
        int b = s.batch(), l = s.length(), hq = s.queryHeads(), h = s.kvHeads(), d = s.headDim();
        Tensor tq = Tensor.of("q", q.clone(), b, l, hq, d), tk = Tensor.of("k", k.clone(), b, l, h, d), tv = Tensor.of("v", v.clone(), b, l, h, d);
        Tensor tdo = Tensor.of("d_o", dO.clone(), b, l, hq, d);
        Tensor o = Tensor.f32("o", b, l, hq, d), lse = Tensor.f32("lse", b, l, hq), delta = Tensor.f32("delta", b, l, hq);
        Tensor dq = Tensor.f32("dq", b, l, hq, d), dk = Tensor.f32("dk", b, l, h, d), dv = Tensor.f32("dv", b, l, h, d);
        Object[] dims = {b, l, hq, h, s.window(), s.scale()};
        TaskGraph g = new TaskGraph("swa").transferToDevice(DataTransferMode.EVERY_EXECUTION, tq, tk, tv, tdo);
        if (tiles == null) {
            // the task-graph helpers the model uses (default tiles)
            SlidingWindowAttention.addForward(g, "", s, tq, tk, tv, o, lse);
            SlidingWindowAttention.addBackward(g, "", s, tq, tk, tv, o, lse, tdo, delta, dq, dk, dv);
        } else {
            g.task("fwd", SlidingWindowAttention.forward(d, tiles), cat(new Object[] {tq, tk, tv, o, lse}, dims))
                    .task("delta", SlidingWindowAttention.backwardDelta(d), o, tdo, delta, s.rows())
                    .task("dq", SlidingWindowAttention.backwardDq(d, tiles), cat(new Object[] {tq, tk, tv, tdo, lse, delta, dq}, dims))
                    .task("dkdv", SlidingWindowAttention.backwardDkDv(d, tiles), cat(new Object[] {tq, tk, tv, tdo, lse, delta, dk, dv}, dims));
        }
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, o, lse, dq, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        return new Result(o.toF32Array(), lse.toF32Array(), dq.toF32Array(), dk.toF32Array(), dv.toF32Array());
    }

    static Object[] cat(Object[] a, Object[] b) {
        Object[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    // ------------------------------------------------------------------ double-precision reference

    /** Independent double-precision forward: o[B, L, HQ, D], straight from the definition. */
    static double[] referenceForward(Shape s, double[] q, double[] k, double[] v) {
        int bs = s.batch(), len = s.length(), hq = s.queryHeads(), h = s.kvHeads(), dim = s.headDim();
        int w = (int) Math.min(s.window(), (long) len);
        double scale = 1.0 / Math.sqrt(dim);
        double[] o = new double[bs * len * hq * dim];
        for (int b = 0; b < bs; b++) {
            for (int t = 0; t < len; t++) {
                for (int g = 0; g < hq; g++) {
                    int kh = g / (hq / h), qi = ((b * len + t) * hq + g) * dim;
                    double[] sc = new double[len];
                    double max = Double.NEGATIVE_INFINITY;
                    for (int j = 0; j < len; j++) {
                        if (!(t - w <= j && j <= t)) continue;
                        double dot = 0;
                        for (int d = 0; d < dim; d++) dot += q[qi + d] * k[((b * len + j) * h + kh) * dim + d];
                        sc[j] = dot * scale;
                        max = Math.max(max, sc[j]);
                    }
                    double sum = 0;
                    for (int j = Math.max(0, t - w); j <= t; j++) sum += Math.exp(sc[j] - max);
                    for (int j = Math.max(0, t - w); j <= t; j++) {
                        double p = Math.exp(sc[j] - max) / sum;
                        for (int d = 0; d < dim; d++) o[qi + d] += p * v[((b * len + j) * h + kh) * dim + d];
                    }
                }
            }
        }
        return o;
    }

    static double loss(Shape s, double[] q, double[] k, double[] v, double[] dO) {
        double[] o = referenceForward(s, q, k, v);
        double sum = 0;
        for (int i = 0; i < o.length; i++) sum += o[i] * dO[i];
        return sum;
    }

    static double[] toDouble(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }

    static Device[] devices() { return new Device[] {TestDevices.java(), TestDevices.opencl()}; }

    // ------------------------------------------------------------------ golden vectors

    @ParameterizedTest
    @ValueSource(strings = {"swa_w32", "swa_w7_l1"})
    void matchesGoldenVectors(String name) {
        Golden gv = Golden.load(name);
        Shape s = new Shape(gv.metaInt("B"), gv.metaInt("L"), gv.metaInt("HQ"), gv.metaInt("H"), gv.metaInt("D"), gv.metaInt("window"));
        for (Device dev : devices()) {
            Result r = run(dev, s, null, gv.f32("q"), gv.f32("k"), gv.f32("v"), gv.f32("d_out"));
            String at = name + " on " + dev;
            assertClose(at + ": o", gv.f32("o"), r.o(), 1e-4);
            assertClose(at + ": grad_q", gv.f32("grad_q"), r.dq(), 1e-4);
            assertClose(at + ": grad_k", gv.f32("grad_k"), r.dk(), 1e-4);
            assertClose(at + ": grad_v", gv.f32("grad_v"), r.dv(), 1e-4);
        }
    }

    // ------------------------------------------------------------------ OpenCL against Java

    static Stream<Arguments> shapes() {
        return Stream.of(
                // B, L, HQ, H, D, W, tiles (null: default)
                Arguments.of(1, 1, 2, 1, 16, 4, null),            // L = 1
                Arguments.of(1, 1, 4, 4, 32, 0, null),            // L = 1, W = 0
                Arguments.of(2, 37, 4, 1, 32, 0, null),           // W = 0: each token sees itself only; G = 4
                Arguments.of(1, 70, 4, 4, 16, 100, null),         // W >= L: full causal, G = 1, two query blocks
                Arguments.of(1, 70, 2, 1, 16, Integer.MAX_VALUE, null), // "infinite" window must not overflow
                Arguments.of(2, 53, 4, 2, 24, 13, new Tiles(8, 5)),   // generic D, many tile edges
                Arguments.of(1, 97, 2, 1, 16, 97, new Tiles(16, 7)),  // W = L exactly, small tiles
                Arguments.of(1, 41, 1, 1, 16, 1, new Tiles(8, 3)),    // W = 1
                Arguments.of(3, 131, 8, 2, 64, 50, null),         // B = 3, G = 4, prime L, D = 64
                Arguments.of(1, 67, 2, 1, 128, 20, null),         // D = 128
                Arguments.of(1, 150, 2, 2, 64, 1000, null));      // full causal over three query blocks
    }

    @ParameterizedTest(name = "B={0} L={1} HQ={2} H={3} D={4} W={5} tiles={6}")
    @MethodSource("shapes")
    void openClMatchesJavaAndReference(int b, int l, int hq, int h, int d, int w, Tiles tiles) {
        long work = (long) b * l * hq * Math.min(w + 1L, l) * d;
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || work <= 400_000, "shape too large for oclgrind");
        Shape s = new Shape(b, l, hq, h, d, w);
        Rand r = new Rand(31L * l + 7L * w + d);
        float[] q = r.normal(b * l * hq * d, 1), k = r.normal(b * l * h * d, 1), v = r.normal(b * l * h * d, 1), dO = r.normal(b * l * hq * d, 1);
        Result java = run(TestDevices.java(), s, tiles, q, k, v, dO);
        Result cl = run(TestDevices.opencl(), s, tiles, q, k, v, dO);
        String at = s.toString();
        assertClose(at + ": o", java.o(), cl.o(), 1e-4);
        assertClose(at + ": lse", java.lse(), cl.lse(), 1e-4);
        assertClose(at + ": dq", java.dq(), cl.dq(), 1e-4);
        assertClose(at + ": dk", java.dk(), cl.dk(), 1e-4);
        assertClose(at + ": dv", java.dv(), cl.dv(), 1e-4);
        // and the oracle itself against the independent double-precision forward
        assertClose(at + ": Java o vs double reference", referenceForward(s, toDouble(q), toDouble(k), toDouble(v)), java.o(), 1e-5);
    }

    @Test
    void openClIsDeterministic() {
        Shape s = new Shape(1, 45, 4, 2, 16, 9);
        Rand r = new Rand(5);
        float[] q = r.normal(45 * 4 * 16, 1), k = r.normal(45 * 2 * 16, 1), v = r.normal(45 * 2 * 16, 1), dO = r.normal(45 * 4 * 16, 1);
        Tiles t = new Tiles(8, 4);
        Result a = run(TestDevices.opencl(), s, t, q, k, v, dO), c = run(TestDevices.opencl(), s, t, q, k, v, dO);
        assertArrayEquals(a.o(), c.o());
        assertArrayEquals(a.dq(), c.dq());
        assertArrayEquals(a.dk(), c.dk());
        assertArrayEquals(a.dv(), c.dv());
    }

    // ------------------------------------------------------------------ finite differences

    static Stream<Arguments> fdShapes() {
        return Stream.of(
                Arguments.of(1, 6, 4, 2, 16, 2, new Tiles(4, 3)),   // G = 2, window inside the sequence, tiles cross
                Arguments.of(2, 5, 2, 1, 3, 9, new Tiles(2, 2)));   // generic D = 3, W >= L, B = 2
    }

    @ParameterizedTest(name = "B={0} L={1} HQ={2} H={3} D={4} W={5}")
    @MethodSource("fdShapes")
    void gradientsMatchDoubleFiniteDifferences(int b, int l, int hq, int h, int d, int w, Tiles tiles) {
        Shape s = new Shape(b, l, hq, h, d, w);
        Rand r = new Rand(99 + l);
        float[] q = r.normal(b * l * hq * d, 1), k = r.normal(b * l * h * d, 1), v = r.normal(b * l * h * d, 1), dO = r.normal(b * l * hq * d, 1);
        double[] qd = toDouble(q), kd = toDouble(k), vd = toDouble(v), dOd = toDouble(dO);
        double[] fdq = new double[q.length], fdk = new double[k.length], fdv = new double[v.length];
        double eps = 1e-4;
        for (double[][] pair : new double[][][] {{qd, fdq}, {kd, fdk}, {vd, fdv}}) {
            double[] x = pair[0], grad = pair[1];
            for (int i = 0; i < x.length; i++) {
                double keep = x[i];
                x[i] = keep + eps;
                double up = loss(s, qd, kd, vd, dOd);
                x[i] = keep - eps;
                double down = loss(s, qd, kd, vd, dOd);
                x[i] = keep;
                grad[i] = (up - down) / (2 * eps);
            }
        }
        for (Device dev : devices()) {
            Result res = run(dev, s, tiles, q, k, v, dO);
            assertClose(s + " dq on " + dev, fdq, res.dq(), 1e-4);
            assertClose(s + " dk on " + dev, fdk, res.dk(), 1e-4);
            assertClose(s + " dv on " + dev, fdv, res.dv(), 1e-4);
        }
    }

    // ------------------------------------------------------------------ argument checks

    @Test
    void checksNameTheWrongArgument() {
        Tensor q = Tensor.f32("q", 1, 4, 2, 16), k = Tensor.f32("k", 1, 4, 1, 16), v = Tensor.f32("v", 1, 4, 1, 16);
        Tensor o = Tensor.f32("o", 1, 4, 2, 16), badLse = Tensor.f32("lse", 1, 4, 3);
        var e = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g")
                .task("f", SlidingWindowAttention.forward(16), q, k, v, o, badLse, 1, 4, 2, 1, 3, 0.25f));
        assertTrue(e.getMessage().contains("'lse'"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> new TaskGraph("g")
                .task("f", SlidingWindowAttention.forward(16), q, k, v, o, Tensor.f32("lse", 1, 4, 2), 1, 4, 2, 3, 3, 0.25f));
        assertTrue(e2.getMessage().contains("'HQ'"), e2.getMessage());
    }
}
