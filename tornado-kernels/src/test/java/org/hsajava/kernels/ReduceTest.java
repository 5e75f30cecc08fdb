package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class ReduceTest {

    /** sum(x^2) through the two-stage graph on a device. */
    static float sumOfSquares(Device dev, float[] x, int parts) {
        Tensor tx = Tensor.of("x", x.length == 0 ? new float[1] : x), partials = Tensor.f32("partials", parts), out = Tensor.f32("out", 1);
        TaskGraph g = new TaskGraph("norm").transferToDevice(DataTransferMode.EVERY_EXECUTION, tx);
        Reduce.sumOfSquares(g, "sumsq", tx, x.length, partials, parts, out).transferToHost(DataTransferMode.EVERY_EXECUTION, out);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
            plan.execute();
        }
        return out.toF32Array()[0];
    }

    static double exact(float[] x) {
        double s = 0;
        for (float v : x) s += (double) v * v;
        return s;
    }

    @ParameterizedTest
    @CsvSource({"0, 1", "1, 1", "255, 3", "256, 1", "257, 2", "1000, 4", "100003, 512", "1000003, 37"})
    void sumOfSquaresMatchesDoubleSum(int n, int parts) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || (n <= 1000 && parts <= 4));
        float[] x = new Rand(n + parts).normal(n, 3);
        double want = exact(x);
        for (Device dev : CentralDifference.devices()) {
            float got = sumOfSquares(dev, x, parts);
            assertTrue(Math.abs(got - want) <= 3e-7 * want + 1e-30, "sum of squares n=" + n + " parts=" + parts + " on " + dev + ": " + got + " vs " + want);
        }
    }

    @Test
    void longPerItemRunsKeepTheLowBits() {
        Assumptions.assumeTrue(!TestDevices.underOclgrind());
        // x^2 = 1 + 2^-22 exactly in float. One group of 256 items, 65536 terms each: a plain float
        // running sum drops the 2^-22 once it passes 2^15 and ends at 2^24; the compensated sum keeps
        // it and every later addition (tree, partials) is exact, so the result is exactly 2^24 + 4.
        int n = 1 << 24;
        float x = 1f + 0x1p-23f;
        assertEquals(1f + 0x1p-22f, x * x);
        float[] xs = new float[n];
        java.util.Arrays.fill(xs, x);
        for (Device dev : CentralDifference.devices()) assertEquals(16777220f, sumOfSquares(dev, xs, 1), "one-group compensated sum on " + dev);
    }

    @Test
    void manyUniformTermsStayAccurate() {
        Assumptions.assumeTrue(!TestDevices.underOclgrind());
        int n = 1 << 22;
        float[] x = new Rand(1).uniform(n, 0.5, 1.5);
        double want = exact(x);
        for (Device dev : CentralDifference.devices()) {
            for (int parts : new int[] {1, Reduce.DEFAULT_PARTS}) {
                float got = sumOfSquares(dev, x, parts);
                assertTrue(Math.abs(got - want) <= 2e-7 * want, "sum parts=" + parts + " on " + dev + ": " + got + " vs " + want);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "3, 17", "64, 100", "200, 7"})
    void columnSumMatchesDoubleSum(int rows, int cols) {
        Rand r = new Rand(rows * 3L + cols);
        float[] in = r.normal(rows * cols, 1), base = r.normal(cols, 1);
        double[] want = new double[cols], wantAcc = new double[cols];
        for (int c = 0; c < cols; c++) {
            for (int row = 0; row < rows; row++) want[c] += in[row * cols + c];
            wantAcc[c] = want[c] + base[c];
        }
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.of("out", base.clone());
            KernelRunner.run(dev, Reduce.COLUMN_SUM, Tensor.of("in", in, rows, cols), out, rows, cols, 0);
            assertClose("column sum on " + dev, want, out.toF32Array(), 1e-6);
            Tensor acc = Tensor.of("out", base.clone());
            KernelRunner.run(dev, Reduce.COLUMN_SUM, Tensor.of("in", in, rows, cols), acc, rows, cols, 1);
            assertClose("column sum, accumulated, on " + dev, wantAcc, acc.toF32Array(), 1e-6);
        }
    }

    @ParameterizedTest
    @CsvSource({"100, 3", "255, 1", "5000, 7", "70000, 5"})
    void tallColumnSumsTakeTwoStagesAndMatchTheDoubleSum(int rows, int cols) {
        Rand r = new Rand(rows + 11L * cols);
        float[] in = r.normal(rows * cols, 1), base = r.normal(cols, 1);
        double[] want = new double[cols];
        for (int c = 0; c < cols; c++) {
            want[c] = base[c];
            for (int row = 0; row < rows; row++) want[c] += in[row * cols + c];
        }
        long scratch = Reduce.columnSumScratch(rows, cols);
        assertEquals(rows > 3 * Reduce.COLUMN_SUM_MIN_BLOCK, scratch > 0, "two stages for " + rows + " rows");
        float[] first = null;
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.of("out", base.clone()), tin = Tensor.of("in", in);
            TaskGraph g = new TaskGraph("colsum").transferToDevice(DataTransferMode.EVERY_EXECUTION, tin, out);
            Reduce.columnSum(g, "sum", tin, out, rows, cols, true, scratch == 0 ? null : Tensor.f32("scratch", (int) scratch));
            g.transferToHost(DataTransferMode.EVERY_EXECUTION, out);
            try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
                plan.execute();
            }
            assertClose("column sum of " + rows + " rows on " + dev, want, out.toF32Array(), 2e-6 * Math.sqrt(rows));
            if (first == null) first = out.toF32Array();
            else assertArrayEquals(first, out.toF32Array(), "both backends add in the same order");
        }
    }
}
