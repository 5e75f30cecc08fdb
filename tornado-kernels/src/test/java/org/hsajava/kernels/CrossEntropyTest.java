package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
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

class CrossEntropyTest {
    private static final int IGNORE = CrossEntropy.IGNORE_INDEX;

    /** Per-row loss in double (0 for ignored rows). */
    static double[] losses(double[] x, int[] targets, int rows, int v, int ignore) {
        double[] loss = new double[rows];
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignore) continue;
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
            for (int j = 0; j < v; j++) z += Math.exp(x[r * v + j] - m);
            loss[r] = Math.log(z) + m - x[r * v + targets[r]];
        }
        return loss;
    }

    /** (softmax - onehot) * scale in double, zero rows where ignored. */
    static double[] gradient(double[] x, int[] targets, int rows, int v, int ignore, double scale) {
        double[] g = new double[rows * v];
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignore) continue;
            double m = Double.NEGATIVE_INFINITY, z = 0;
            for (int j = 0; j < v; j++) m = Math.max(m, x[r * v + j]);
            for (int j = 0; j < v; j++) z += Math.exp(x[r * v + j] - m);
            for (int j = 0; j < v; j++) g[r * v + j] = (Math.exp(x[r * v + j] - m) / z - (j == targets[r] ? 1 : 0)) * scale;
        }
        return g;
    }

    static int[] targets(Rand r, int rows, int v, int ignore) {
        int[] t = r.ints(rows, v);
        for (int i = 0; i < rows; i += 3) if (i % 2 == 1) t[i] = ignore; // rows 3, 9, 15, ... ignored
        return t;
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1", "5, 2, 1", "4, 17, 10", "7, 300, 30", "3, 1000, 1", "2, 50257, 5", "10, 4099, 3"})
    void lossAndGradientMatchDoubleReference(int rows, int v, double std) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || (long) rows * v <= 3000);
        Rand r = new Rand(rows * 131L + v);
        float[] x = r.normal(rows * v, std);
        int[] t = targets(r, rows, v, IGNORE);
        int valid = CrossEntropy.checkTargets(t, v, IGNORE);
        float scale = 1f / Math.max(1, valid);
        double[] xd = CentralDifference.toDouble(x);
        double[] wantLoss = losses(xd, t, rows, v, IGNORE), wantGrad = gradient(xd, t, rows, v, IGNORE, scale);
        for (Device dev : CentralDifference.devices()) {
            Tensor loss = Tensor.f32("loss", rows), dx = Tensor.f32("dlogits", rows, v);
            KernelRunner.run(dev, CrossEntropy.FORWARD_BACKWARD, Tensor.of("logits", x, rows, v), Tensor.of("targets", t), loss, dx, rows, v, IGNORE, scale);
            assertClose("ce loss v=" + v + " on " + dev, wantLoss, loss.toF32Array(), 2e-6);
            assertClose("ce dlogits v=" + v + " on " + dev, wantGrad, dx.toF32Array(), 2e-6);
            Tensor lossOnly = Tensor.f32("loss", rows);
            KernelRunner.run(dev, CrossEntropy.LOSS, Tensor.of("logits", x, rows, v), Tensor.of("targets", t), lossOnly, rows, v, IGNORE);
            assertClose("ce loss-only v=" + v + " on " + dev, wantLoss, lossOnly.toF32Array(), 2e-6);
        }
    }

    @Test
    void hugeLogitsStayFinite() {
        int rows = 2, v = 37;
        float[] x = new Rand(4).normal(rows * v, 1);
        for (int i = 0; i < x.length; i++) x[i] += i % 2 == 0 ? 1e4f : -1e4f; // exp would overflow without the max shift
        int[] t = {3, 4};
        double[] xd = CentralDifference.toDouble(x);
        for (Device dev : CentralDifference.devices()) {
            Tensor loss = Tensor.f32("loss", rows), dx = Tensor.f32("dlogits", rows, v);
            KernelRunner.run(dev, CrossEntropy.FORWARD_BACKWARD, Tensor.of("logits", x, rows, v), Tensor.of("targets", t), loss, dx, rows, v, IGNORE, 0.5f);
            assertClose("ce loss with huge logits on " + dev, losses(xd, t, rows, v, IGNORE), loss.toF32Array(), 1e-6);
            assertClose("ce grad with huge logits on " + dev, gradient(xd, t, rows, v, IGNORE, 0.5), dx.toF32Array(), 1e-6);
        }
    }

    @Test
    void gradientMatchesFiniteDifferencesOfMeanLoss() {
        int rows = 4, v = 9, ignore = -1;
        Rand r = new Rand(17);
        float[] x = r.normal(rows * v, 2);
        int[] t = {2, ignore, 8, 0};
        float scale = 1f / 3;
        // L = scale * sum of the per-row losses (the mean over the valid rows), in double.
        double[] fd = CentralDifference.gradient(CentralDifference.toDouble(x), xx -> {
            double s = 0;
            for (double l : losses(xx, t, rows, v, ignore)) s += l;
            return s * scale;
        }, 1e-4);
        for (Device dev : CentralDifference.devices()) {
            Tensor loss = Tensor.f32("loss", rows), dx = Tensor.f32("dlogits", rows, v);
            KernelRunner.run(dev, CrossEntropy.FORWARD_BACKWARD, Tensor.of("logits", x, rows, v), Tensor.of("targets", t), loss, dx, rows, v, ignore, scale);
            assertClose("ce dlogits vs finite differences on " + dev, fd, dx.toF32Array(), 1e-5);
            assertEquals(0f, loss.toF32Array()[1], "ignored row's loss on " + dev);
        }
    }

    @Test
    void gradientMayOverwriteTheLogits() {
        int rows = 5, v = 700;
        Rand r = new Rand(23);
        float[] x = r.normal(rows * v, 3);
        int[] t = targets(r, rows, v, IGNORE);
        double[] xd = CentralDifference.toDouble(x);
        for (Device dev : CentralDifference.devices()) {
            Tensor logits = Tensor.of("logits", x.clone(), rows, v), loss = Tensor.f32("loss", rows);
            KernelRunner.run(dev, CrossEntropy.FORWARD_BACKWARD, logits, Tensor.of("targets", t), loss, logits, rows, v, IGNORE, 1f);
            assertClose("ce in-place loss on " + dev, losses(xd, t, rows, v, IGNORE), loss.toF32Array(), 2e-6);
            assertClose("ce in-place grad on " + dev, gradient(xd, t, rows, v, IGNORE, 1), logits.toF32Array(), 2e-6);
        }
    }

    @Test
    void badTargetsAreReportedOnTheHostAndNaNOnTheDevice() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CrossEntropy.checkTargets(new int[] {0, -100, 5, 1}, 5, IGNORE));
        assertTrue(e.getMessage().contains("row 2"), e.getMessage());
        assertEquals(2, CrossEntropy.checkTargets(new int[] {0, -100, 4}, 5, IGNORE));
        for (Device dev : CentralDifference.devices()) {
            e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(dev, CrossEntropy.FORWARD_BACKWARD, Tensor.f32("logits", 2, 3),
                    Tensor.of("targets", new int[] {1, 3}), Tensor.f32("loss", 2), Tensor.f32("dlogits", 2, 3), 2, 3, IGNORE, 1f));
            assertTrue(e.getMessage().contains("row 1"), e.getMessage());
            // Targets only the device holds escape the host check: that row becomes NaN.
            Tensor logits = Tensor.f32("logits", 2, 3), targets = Tensor.of("targets", new int[] {1, 2}), loss = Tensor.f32("loss", 2), dx = Tensor.f32("dlogits", 2, 3);
            TaskGraph g = new TaskGraph("ce").task("ce", CrossEntropy.FORWARD_BACKWARD, logits, targets, loss, dx, 2, 3, IGNORE, 1f)
                    .transferToHost(DataTransferMode.EVERY_EXECUTION, loss, dx);
            try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(dev)) {
                plan.transferToDevice(logits);
                targets.set(new int[] {1, 3});
                plan.transferToDevice(targets);
                targets.set(new int[] {1, 2});
                plan.execute();
            }
            assertTrue(!Float.isNaN(loss.toF32Array()[0]) && Float.isNaN(loss.toF32Array()[1]), "bad target on " + dev);
            assertTrue(Float.isNaN(dx.toF32Array()[4]) && !Float.isNaN(dx.toF32Array()[1]), "bad target's gradient on " + dev);
        }
    }
}
