package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.FakeDevices;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RmsNormTest {
    private static final float EPS = 1e-5f;

    /** The double forward the tests trust: y = x / sqrt(mean(x^2) + eps) * w (w null: no weight). */
    static double[] forward(double[] x, double[] w, int rows, int d, double eps) {
        double[] y = new double[rows * d];
        for (int r = 0; r < rows; r++) {
            double ss = 0;
            for (int c = 0; c < d; c++) ss += x[r * d + c] * x[r * d + c];
            double rs = 1 / Math.sqrt(ss / d + eps);
            for (int c = 0; c < d; c++) y[r * d + c] = x[r * d + c] * rs * (w == null ? 1 : w[c]);
        }
        return y;
    }

    static double dot(double[] a, float[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "3, 17", "37, 64", "5, 768", "2, 129", "300, 33"})
    void forwardMatchesDoubleReference(int rows, int d) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows * d <= 4000);
        Rand r = new Rand(rows * 1000L + d);
        float[] x = r.normal(rows * d, 2), w = r.normal(d, 1);
        double[] xd = CentralDifference.toDouble(x), wd = CentralDifference.toDouble(w);
        double[] yw = forward(xd, wd, rows, d, EPS), yn = forward(xd, null, rows, d, EPS);
        for (Device dev : CentralDifference.devices()) for (RmsNorm.Layout layout : layouts(dev)) {
            Tensor y = Tensor.f32("y", rows, d), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD, layout), Tensor.of("x", x, rows, d), Tensor.of("w", w), y, rstd, rows, d, EPS);
            assertClose("rmsnorm y rows=" + rows + " d=" + d + " on " + dev + " " + layout, yw, y.toF32Array(), 2e-6);
            for (int row = 0; row < rows; row++) {
                double ss = 0;
                for (int c = 0; c < d; c++) ss += xd[row * d + c] * xd[row * d + c];
                double want = 1 / Math.sqrt(ss / d + EPS);
                assertTrue(Math.abs(rstd.toF32Array()[row] - want) <= 2e-6 * want, "rstd row " + row + " on " + dev + " " + layout);
            }
            Tensor y2 = Tensor.f32("y", rows, d);
            KernelRunner.run(dev, def(RmsNorm.FORWARD_NO_WEIGHT, layout), Tensor.of("x", x, rows, d), y2, Tensor.f32("rstd", rows), rows, d, EPS);
            assertClose("rmsnorm (no weight) rows=" + rows + " d=" + d + " on " + dev + " " + layout, yn, y2.toF32Array(), 2e-6);
        }
    }

    /** The bf16 variant writes the same y, and y16 = bf16(y) bit for bit, in both layouts and backends. */
    @ParameterizedTest
    @CsvSource({"1, 1", "3, 17", "37, 64", "2, 129"})
    void bf16VariantAlsoWritesTheRoundedOutput(int rows, int d) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows * d <= 4000);
        Rand r = new Rand(rows * 31L + d);
        float[] x = r.normal(rows * d, 2), w = r.normal(d, 1);
        for (Device dev : CentralDifference.devices()) for (RmsNorm.Layout layout : layouts(dev)) {
            Tensor y = Tensor.f32("y", rows, d), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD, layout), Tensor.of("x", x, rows, d), Tensor.of("w", w), y, rstd, rows, d, EPS);
            Tensor y2 = Tensor.f32("y2", rows, d), y16 = Tensor.bf16("y16", rows, d), rstd2 = Tensor.f32("rstd2", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD_BF16, layout), Tensor.of("x", x, rows, d), Tensor.of("w", w), y2, y16, rstd2, rows, d, EPS);
            String where = "rows=" + rows + " d=" + d + " on " + dev + " " + layout;
            assertArrayEquals(y.toF32Array(), y2.toF32Array(), "y " + where);
            assertArrayEquals(rstd.toF32Array(), rstd2.toF32Array(), "rstd " + where);
            float[] yv = y2.toF32Array(), rounded = y16.bf16ToF32Array();
            for (int i = 0; i < yv.length; i++) assertEquals(Bf16.round(yv[i]), rounded[i], "y16[" + i + "] " + where);
        }
    }

    /**
     * The residual forms: {@code s = x + add} then the norm of s, bit for bit what the two steps give
     * (also with s written over x, as the decoder layer does); {@code dx = res + ∂/∂x} within rounding
     * of the separate sum (also accumulating into res itself).
     */
    @ParameterizedTest
    @CsvSource({"1, 1", "3, 17", "37, 64", "2, 129", "5, 768"})
    void residualFormsMatchTheSeparateSteps(int rows, int d) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows * d <= 4000);
        Rand r = new Rand(rows * 77L + d);
        int n = rows * d;
        float[] x = r.normal(n, 2), add = r.normal(n, 1), w = r.normal(d, 1), dy = r.normal(n, 1), res = r.normal(n, 1);
        float[] sum = new float[n];
        for (int i = 0; i < n; i++) sum[i] = x[i] + add[i];
        for (Device dev : CentralDifference.devices()) for (RmsNorm.Layout layout : layouts(dev)) {
            String where = "rows=" + rows + " d=" + d + " on " + dev + " " + layout;
            Tensor y = Tensor.f32("y", rows, d), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD, layout), Tensor.of("x", sum, rows, d), Tensor.of("w", w), y, rstd, rows, d, EPS);
            Tensor s = Tensor.f32("s", rows, d), y2 = Tensor.f32("y2", rows, d), rstd2 = Tensor.f32("rstd2", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD_ADD, layout), Tensor.of("x", x, rows, d), Tensor.of("add", add, rows, d), s, Tensor.of("w", w), y2, rstd2, rows, d, EPS);
            assertArrayEquals(sum, s.toF32Array(), "s " + where);
            assertArrayEquals(y.toF32Array(), y2.toF32Array(), "y " + where);
            assertArrayEquals(rstd.toF32Array(), rstd2.toF32Array(), "rstd " + where);
            // in place (s is x) with the bf16 copy
            Tensor inPlace = Tensor.of("h1", x.clone(), rows, d), y3 = Tensor.f32("y3", rows, d), y16 = Tensor.bf16("y16", rows, d);
            KernelRunner.run(dev, def(RmsNorm.FORWARD_ADD_BF16, layout), inPlace, Tensor.of("add", add, rows, d), inPlace, Tensor.of("w", w), y3, y16,
                    Tensor.f32("rstd3", rows), rows, d, EPS);
            assertArrayEquals(sum, inPlace.toF32Array(), "s written over x " + where);
            assertArrayEquals(y.toF32Array(), y3.toF32Array(), "y (in place) " + where);
            float[] rounded = y16.bf16ToF32Array(), yv = y3.toF32Array();
            for (int i = 0; i < n; i++) assertEquals(Bf16.round(yv[i]), rounded[i], "y16[" + i + "] " + where);

            Tensor tx = Tensor.of("x", sum, rows, d), dx = Tensor.f32("dx", rows, d);
            KernelRunner.run(dev, def(RmsNorm.BACKWARD_DX, layout), Tensor.of("dy", dy, rows, d), tx, Tensor.of("w", w), rstd, dx, rows, d);
            double[] want = new double[n];
            for (int i = 0; i < n; i++) want[i] = (double) res[i] + dx.toF32Array()[i];
            Tensor dx2 = Tensor.f32("dx2", rows, d), acc = Tensor.of("acc", res.clone(), rows, d);
            KernelRunner.run(dev, def(RmsNorm.BACKWARD_DX_ADD, layout), Tensor.of("dy", dy, rows, d), tx, Tensor.of("w", w), rstd, Tensor.of("res", res, rows, d), dx2, rows, d);
            KernelRunner.run(dev, def(RmsNorm.BACKWARD_DX_ADD, layout), Tensor.of("dy", dy, rows, d), tx, Tensor.of("w", w), rstd, acc, acc, rows, d);
            assertClose("dx = res + norm' " + where, want, dx2.toF32Array(), 1e-6);
            assertClose("dx += norm' (res is dx) " + where, want, acc.toF32Array(), 1e-6);
        }
    }

    @ParameterizedTest
    // d = 1 with a tiny eps is degenerate (y = sign(x), dx ~ eps: pure cancellation), so it gets a large eps.
    @CsvSource({"1, 1, 64, 0.5", "3, 17, 2, 1e-5", "5, 8, 64, 1e-5", "70, 9, 16, 1e-5", "4, 130, 3, 1e-5"})
    void backwardMatchesFiniteDifferences(int rows, int d, int blockRows, float eps) {
        Rand r = new Rand(rows * 97L + d);
        float[] x = r.normal(rows * d, 1.5), w = r.normal(d, 1), dy = r.normal(rows * d, 1);
        double[] xd = CentralDifference.toDouble(x), wd = CentralDifference.toDouble(w);
        // L = sum(dy * y) in double; its gradients are what the backward kernels must give.
        double[] fdx = CentralDifference.gradient(xd, xx -> dot(forward(xx, wd, rows, d, eps), dy), 1e-4);
        double[] fdw = CentralDifference.gradient(wd, ww -> dot(forward(xd, ww, rows, d, eps), dy), 1e-4);
        double[] fdxNoWeight = CentralDifference.gradient(xd, xx -> dot(forward(xx, null, rows, d, eps), dy), 1e-4);
        for (Device dev : CentralDifference.devices()) for (RmsNorm.Layout layout : layouts(dev)) {
            Tensor tx = Tensor.of("x", x, rows, d), tw = Tensor.of("w", w), tdy = Tensor.of("dy", dy, rows, d);
            Tensor rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(dev, def(RmsNorm.FORWARD, layout), tx, tw, Tensor.f32("y", rows, d), rstd, rows, d, eps);
            Tensor dx = Tensor.f32("dx", rows, d);
            KernelRunner.run(dev, def(RmsNorm.BACKWARD_DX, layout), tdy, tx, tw, rstd, dx, rows, d);
            assertClose("rmsnorm dx rows=" + rows + " d=" + d + " on " + dev + " " + layout, fdx, dx.toF32Array(), 1e-4);
            float[] dw = weightGradient(dev, tdy, tx, rstd, rows, d, blockRows, null);
            assertClose("rmsnorm dw rows=" + rows + " d=" + d + " on " + dev, fdw, dw, 1e-4);
            // accumulate = 1 adds onto what dw held.
            float[] base = r.normal(d, 1);
            float[] acc = weightGradient(dev, tdy, tx, rstd, rows, d, blockRows, base);
            double[] wantAcc = new double[d];
            for (int c = 0; c < d; c++) wantAcc[c] = base[c] + fdw[c];
            assertClose("rmsnorm dw accumulated on " + dev, wantAcc, acc, 1e-4);

            Tensor rstdN = Tensor.f32("rstd", rows), dxN = Tensor.f32("dx", rows, d);
            KernelRunner.run(dev, def(RmsNorm.FORWARD_NO_WEIGHT, layout), tx, Tensor.f32("y", rows, d), rstdN, rows, d, eps);
            KernelRunner.run(dev, def(RmsNorm.BACKWARD_DX_NO_WEIGHT, layout), tdy, tx, rstdN, dxN, rows, d);
            assertClose("rmsnorm (no weight) dx on " + dev + " " + layout, fdxNoWeight, dxN.toF32Array(), 1e-4);
        }
    }

    /** The layouts to run on a device: both on OpenCL devices (whatever their type), the Java loop once. */
    private static List<RmsNorm.Layout> layouts(Device dev) {
        return dev.info().type() == DeviceInfo.Type.JAVA ? List.of(RmsNorm.Layout.GROUP_PER_ROW) : List.of(RmsNorm.Layout.values());
    }

    private static KernelDef def(KernelDef byDevice, RmsNorm.Layout layout) { return RmsNorm.layout(byDevice, layout); }

    @Test
    void cpuDevicesGetOneWorkItemPerRow() {
        DeviceInfo cpu = FakeDevices.cpu(48 << 10), gpu = FakeDevices.gpu(132);
        for (KernelDef k : List.of(RmsNorm.FORWARD, RmsNorm.FORWARD_BF16, RmsNorm.FORWARD_ADD, RmsNorm.FORWARD_ADD_BF16, RmsNorm.BACKWARD_DX_ADD, RmsNorm.FORWARD_NO_WEIGHT, RmsNorm.BACKWARD_DX, RmsNorm.BACKWARD_DX_NO_WEIGHT)) {
            assertEquals("1", k.forDevice(cpu).defines().get("RMS_ITEM_PER_ROW"), k.name());
            assertNull(k.forDevice(gpu).defines().get("RMS_ITEM_PER_ROW"), k.name());
        }
    }

    @Test
    void largeRowsAgreeBetweenBackends() {
        Assumptions.assumeTrue(!TestDevices.underOclgrind());
        int rows = 257, d = 768;
        Rand r = new Rand(11);
        float[] x = r.normal(rows * d, 1), w = r.normal(d, 1), dy = r.normal(rows * d, 1);
        float[][] results = new float[2][];
        Device[] devs = CentralDifference.devices();
        for (int k = 0; k < 2; k++) {
            Tensor tx = Tensor.of("x", x, rows, d), tw = Tensor.of("w", w), tdy = Tensor.of("dy", dy, rows, d), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(devs[k], RmsNorm.FORWARD, tx, tw, Tensor.f32("y", rows, d), rstd, rows, d, EPS);
            Tensor dx = Tensor.f32("dx", rows, d);
            KernelRunner.run(devs[k], RmsNorm.BACKWARD_DX, tdy, tx, tw, rstd, dx, rows, d);
            float[] dw = weightGradientGraph(devs[k], tdy, tx, rstd, rows, d);
            float[] both = new float[rows * d + d];
            System.arraycopy(dx.toF32Array(), 0, both, 0, rows * d);
            System.arraycopy(dw, 0, both, rows * d, d);
            results[k] = both;
        }
        assertClose("rmsnorm backward OpenCL vs Java", results[0], results[1], 1e-5);
    }

    @Test
    void manyRowsTakeLargerDwBlocks() {
        Assumptions.assumeTrue(!TestDevices.underOclgrind());
        int rows = 3 * RmsNorm.DW_MAX_BLOCKS * RmsNorm.DW_BLOCK_ROWS + 5, d = 3;   // beyond DW_MAX_BLOCKS blocks of 64
        assertEquals(3 * RmsNorm.DW_BLOCK_ROWS + 1, RmsNorm.dwBlockRows(rows));
        assertEquals(RmsNorm.DW_BLOCK_ROWS, RmsNorm.dwBlockRows(1000));
        Rand r = new Rand(12);
        float[] x = r.normal(rows * d, 1), dy = r.normal(rows * d, 1), rstd = r.normal(rows, 1);
        double[] want = new double[d];
        for (int i = 0; i < rows; i++) for (int c = 0; c < d; c++) want[c] += (double) dy[i * d + c] * x[i * d + c] * rstd[i];
        for (Device dev : CentralDifference.devices()) {
            float[] dw = weightGradientGraph(dev, Tensor.of("dy", dy, rows, d), Tensor.of("x", x, rows, d), Tensor.of("rstd", rstd), rows, d);
            assertClose("dw of " + rows + " rows on " + dev, want, dw, 1e-4);
        }
    }

    @Test
    void checkNamesTheShortArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), RmsNorm.FORWARD,
                Tensor.f32("x", 2, 8), Tensor.f32("w", 7), Tensor.f32("y", 2, 8), Tensor.f32("rstd", 2), 2, 8, EPS));
        assertTrue(e.getMessage().contains("'w'"), e.getMessage());
    }

    /** dw through {@link RmsNorm#weightGradient} in one task graph. */
    private static float[] weightGradientGraph(Device dev, Tensor dy, Tensor x, Tensor rstd, int rows, int d) {
        Tensor partials = Tensor.f32("partials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS), d), dw = Tensor.f32("dw", d);
        TaskGraph g = new TaskGraph("dw").transferToDevice(DataTransferMode.EVERY_EXECUTION, dy, x, rstd);
        RmsNorm.weightGradient(g, "dw", dy, x, rstd, partials, dw, rows, d, false).transferToHost(DataTransferMode.EVERY_EXECUTION, dw);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return dw.toF32Array();
    }

    /** dw through the two deterministic stages; {@code base} non-null: accumulate onto it. */
    private static float[] weightGradient(Device dev, Tensor dy, Tensor x, Tensor rstd, int rows, int d, int blockRows, float[] base) {
        int blocks = RmsNorm.blocks(rows, blockRows);
        Tensor partials = Tensor.f32("partials", blocks, d);
        KernelRunner.run(dev, RmsNorm.DW_PARTIALS, dy, x, rstd, partials, rows, d, blockRows);
        Tensor dw = base == null ? Tensor.f32("dw", d) : Tensor.of("dw", base.clone());
        KernelRunner.run(dev, Reduce.COLUMN_SUM, partials, dw, blocks, d, base == null ? 0 : 1);
        return dw.toF32Array();
    }
}
