package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class AdamWTest {
    private static final float B1 = 0.9f, B2 = 0.95f, EPS = 1e-8f, WD = 0.1f;

    /** torch.optim.AdamW's single-tensor step, in double (betas etc. are the float values the kernel sees). */
    static void reference(double[] p, double[] g, double[] m, double[] v, double lr, double gradScale, int t) {
        double b1 = B1, b2 = B2, eps = EPS, wd = WD;
        double bc1 = 1 - Math.pow(b1, t), bc2 = 1 - Math.pow(b2, t);
        for (int i = 0; i < p.length; i++) {
            double gi = g[i] * gradScale;
            p[i] *= 1 - lr * wd;
            m[i] += (1 - b1) * (gi - m[i]);
            v[i] = b2 * v[i] + (1 - b2) * gi * gi;
            p[i] -= lr / bc1 * m[i] / (Math.sqrt(v[i]) / Math.sqrt(bc2) + eps);
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 17, 1000, 65537})
    void severalStepsMatchTorchOrderInDouble(int n) {
        int steps = 8;
        Rand r = new Rand(n);
        float[] p0 = r.normal(n, 1);
        float[][] grads = new float[steps][];
        for (int s = 0; s < steps; s++) grads[s] = r.normal(n, 0.1 * (s + 1));
        double[] p = CentralDifference.toDouble(p0), m = new double[n], v = new double[n];
        for (int s = 0; s < steps; s++) reference(p, CentralDifference.toDouble(grads[s]), m, v, lr(s), gradScale(s), s + 1);
        for (Device dev : CentralDifference.devices()) {
            Tensor tp = Tensor.of("param", p0.clone()), tg = Tensor.f32("grad", n), tm = Tensor.f32("m", n), tv = Tensor.f32("v", n);
            Scalar lr = Scalar.of("lr", 0), scale = Scalar.of("gradScale", 1), step = Scalar.of("step", 1);
            TaskGraph graph = new TaskGraph("opt")
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, tp)
                    .transferToDevice(DataTransferMode.EVERY_EXECUTION, tg)
                    .task("adamw", AdamW.STEP, tp, tg, tm, tv, n, lr, B1, B2, EPS, WD, scale, step);
            try (ExecutionPlan plan = new ExecutionPlan(graph.snapshot()).withDevice(dev)) {
                for (int s = 0; s < steps; s++) {
                    tg.set(grads[s]);
                    lr.set(lr(s));
                    scale.set(gradScale(s));
                    step.set(s + 1);
                    plan.execute();
                }
                plan.transferToHost(tp, tm, tv);
            }
            assertClose("adamw params after " + steps + " steps on " + dev, p, tp.toF32Array(), 2e-6);
            assertClose("adamw m on " + dev, m, tm.toF32Array(), 1e-5);
            assertClose("adamw v on " + dev, v, tv.toF32Array(), 1e-5);
        }
    }

    @Test
    void lateStepsUseAccurateBiasCorrections() {
        int n = 33;
        Rand r = new Rand(5);
        float[] p0 = r.normal(n, 1), g = r.normal(n, 1), m0 = r.normal(n, 0.1), v0 = r.uniform(n, 0.001, 0.01);
        for (int t : new int[] {1, 2, 1000, 1_000_000}) {
            double[] p = CentralDifference.toDouble(p0), m = CentralDifference.toDouble(m0), v = CentralDifference.toDouble(v0);
            reference(p, CentralDifference.toDouble(g), m, v, 1e-3, 1, t);
            for (Device dev : CentralDifference.devices()) {
                Tensor tp = Tensor.of("param", p0.clone());
                KernelRunner.run(dev, AdamW.STEP, tp, Tensor.of("grad", g), Tensor.of("m", m0.clone()), Tensor.of("v", v0.clone()), n, 1e-3f, B1, B2, EPS, WD, 1f, t);
                // Compare the update itself, not the parameter: it is ~1e-3 of it.
                float[] got = tp.toF32Array();
                double[] wantDelta = new double[n];
                float[] gotDelta = new float[n];
                for (int i = 0; i < n; i++) {
                    wantDelta[i] = p[i] - p0[i];
                    gotDelta[i] = (float) ((double) got[i] - p0[i]);
                }
                assertClose("adamw update at step " + t + " on " + dev, wantDelta, gotDelta, 2e-4);
            }
        }
    }

    @Test
    void checkRejectsBadArguments() {
        Tensor t = Tensor.f32("param", 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), AdamW.STEP,
                t, Tensor.f32("grad", 3), Tensor.f32("m", 4), Tensor.f32("v", 4), 4, 1e-3f, B1, B2, EPS, WD, 1f, 1));
        assertTrue(e.getMessage().contains("'grad'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), AdamW.STEP,
                t, Tensor.f32("grad", 4), Tensor.f32("m", 4), Tensor.f32("v", 4), 4, 1e-3f, B1, B2, EPS, WD, 1f, 0));
        assertTrue(e.getMessage().contains("'step'"), e.getMessage());
    }

    private static double lr(int s) { return 1e-3 * (s + 1) / 4.0; }

    private static double gradScale(int s) { return s % 3 == 0 ? 0.5 : 1.0; }
}
