package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SwiGluTest {

    static double silu(double g) { return g / (1 + Math.exp(-g)); }

    /** L = sum(dh * silu(g) * u) in double: the function whose gradients the backward must give. */
    static double loss(double[] g, double[] u, float[] dh) {
        double s = 0;
        for (int i = 0; i < g.length; i++) s += dh[i] * silu(g[i]) * u[i];
        return s;
    }

    /** g and u rows packed as the fused projection output [rows, 2f]: gate first. */
    static float[] fuse(float[] g, float[] u, int rows, int f) {
        float[] gu = new float[rows * 2 * f];
        for (int r = 0; r < rows; r++) {
            System.arraycopy(g, r * f, gu, r * 2 * f, f);
            System.arraycopy(u, r * f, gu, r * 2 * f + f, f);
        }
        return gu;
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "1, 17", "3, 61", "20, 50", "7, 1000"})
    void forwardMatchesDoubleReferenceInBothLayouts(int rows, int f) {
        Assumptions.assumeTrue(!TestDevices.underOclgrind() || rows * f <= 2000);
        Rand r = new Rand(rows * 7L + f);
        int n = rows * f;
        float[] g = r.normal(n, 3), u = r.normal(n, 1);
        g[0] = -90f; // exp overflow side: silu -> -0, must stay finite
        double[] want = new double[n];
        for (int i = 0; i < n; i++) want[i] = silu(g[i]) * u[i];
        float[] gu = fuse(g, u, rows, f);
        for (Device dev : CentralDifference.devices()) {
            Tensor h = Tensor.f32("h", n);
            KernelRunner.run(dev, SwiGlu.FORWARD, Tensor.of("g", g), Tensor.of("u", u), h, n);
            assertClose("swiglu h on " + dev, want, h.toF32Array(), 1e-6);
            Tensor h2 = Tensor.f32("h2", n), h16 = Tensor.bf16("h16", n);
            KernelRunner.run(dev, SwiGlu.FORWARD_BF16, Tensor.of("g", g), Tensor.of("u", u), h2, h16, n);
            assertArrayEquals(h.toF32Array(), h2.toF32Array(), "the bf16 variant's h on " + dev);
            float[] rounded = h16.bf16ToF32Array();
            for (int i = 0; i < n; i++) assertEquals(Bf16.round(h2.toF32Array()[i]), rounded[i], "h16[" + i + "] on " + dev);
            Tensor hf = Tensor.f32("h", rows, f);
            KernelRunner.run(dev, SwiGlu.FORWARD_FUSED, Tensor.of("gu", gu, rows, 2 * f), hf, rows, f);
            assertClose("swiglu fused h on " + dev, want, hf.toF32Array(), 1e-6);
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "2, 5", "3, 13"})
    void backwardMatchesFiniteDifferencesInBothLayouts(int rows, int f) {
        Rand r = new Rand(rows * 5L + f);
        int n = rows * f;
        float[] g = r.normal(n, 2.5), u = r.normal(n, 1), dh = r.normal(n, 1);
        double[] gd = CentralDifference.toDouble(g), ud = CentralDifference.toDouble(u);
        double[] fdg = CentralDifference.gradient(gd, gg -> loss(gg, ud, dh), 1e-4);
        double[] fdu = CentralDifference.gradient(ud, uu -> loss(gd, uu, dh), 1e-4);
        float[] gu = fuse(g, u, rows, f);
        for (Device dev : CentralDifference.devices()) {
            Tensor dg = Tensor.f32("dg", n), du = Tensor.f32("du", n);
            KernelRunner.run(dev, SwiGlu.BACKWARD, Tensor.of("g", g), Tensor.of("u", u), Tensor.of("dh", dh), dg, du, n);
            assertClose("swiglu dg on " + dev, fdg, dg.toF32Array(), 1e-5);
            assertClose("swiglu du on " + dev, fdu, du.toF32Array(), 1e-5);
            Tensor dg2 = Tensor.f32("dg2", n), du2 = Tensor.f32("du2", n), dg16 = Tensor.bf16("dg16", n), du16 = Tensor.bf16("du16", n);
            KernelRunner.run(dev, SwiGlu.BACKWARD_BF16, Tensor.of("g", g), Tensor.of("u", u), Tensor.of("dh", dh), dg2, du2, dg16, du16, n);
            assertArrayEquals(dg.toF32Array(), dg2.toF32Array(), "the bf16 variant's dg on " + dev);
            assertArrayEquals(du.toF32Array(), du2.toF32Array(), "the bf16 variant's du on " + dev);
            float[] rg = dg16.bf16ToF32Array(), ru = du16.bf16ToF32Array();
            for (int i = 0; i < n; i++) {
                assertEquals(Bf16.round(dg2.toF32Array()[i]), rg[i], "dg16[" + i + "] on " + dev);
                assertEquals(Bf16.round(du2.toF32Array()[i]), ru[i], "du16[" + i + "] on " + dev);
            }
            Tensor dgu = Tensor.f32("dgu", rows, 2 * f);
            KernelRunner.run(dev, SwiGlu.BACKWARD_FUSED, Tensor.of("gu", gu, rows, 2 * f), Tensor.of("dh", dh, rows, f), dgu, rows, f);
            float[] got = dgu.toF32Array(), gotG = new float[n], gotU = new float[n];
            for (int row = 0; row < rows; row++) {
                System.arraycopy(got, row * 2 * f, gotG, row * f, f);
                System.arraycopy(got, row * 2 * f + f, gotU, row * f, f);
            }
            assertClose("swiglu fused dg on " + dev, fdg, gotG, 1e-5);
            assertClose("swiglu fused du on " + dev, fdu, gotU, 1e-5);
        }
    }

    @Test
    void largeInputsAgreeBetweenBackends() {
        Assumptions.assumeTrue(!TestDevices.underOclgrind());
        int n = 100_003;
        Rand r = new Rand(99);
        float[] g = r.normal(n, 4), u = r.normal(n, 1), dh = r.normal(n, 1);
        float[][] out = new float[2][];
        Device[] devs = CentralDifference.devices();
        for (int k = 0; k < 2; k++) {
            Tensor dg = Tensor.f32("dg", n), du = Tensor.f32("du", n);
            KernelRunner.run(devs[k], SwiGlu.BACKWARD, Tensor.of("g", g), Tensor.of("u", u), Tensor.of("dh", dh), dg, du, n);
            out[k] = dg.toF32Array();
        }
        assertClose("swiglu dg OpenCL vs Java", out[0], out[1], 1e-6);
    }

    /** The bf16-only kernels give, on each device, the fp32 kernels' outputs on the widened inputs, rounded to bf16. */
    @Test
    void bf16OnlyKernelsRoundWhatTheFp32KernelsCompute() {
        int n = 1037;
        Rand r = new Rand(98);
        float[] g = r.normal(n, 4), u = r.normal(n, 1), dh = r.normal(n, 1);
        short[] g16 = new short[n], u16 = new short[n];
        for (int i = 0; i < n; i++) {
            g16[i] = org.hsajava.compute.Bf16.fromFloat(g[i]);
            u16[i] = org.hsajava.compute.Bf16.fromFloat(u[i]);
            g[i] = org.hsajava.compute.Bf16.toFloat(g16[i]);
            u[i] = org.hsajava.compute.Bf16.toFloat(u16[i]);
        }
        for (Device dev : CentralDifference.devices()) {
            Tensor h = Tensor.f32("h", n), dg = Tensor.f32("dg", n), du = Tensor.f32("du", n);
            KernelRunner.run(dev, SwiGlu.FORWARD, Tensor.of("g", g), Tensor.of("u", u), h, n);
            KernelRunner.run(dev, SwiGlu.BACKWARD, Tensor.of("g", g), Tensor.of("u", u), Tensor.of("dh", dh), dg, du, n);
            Tensor h16 = Tensor.bf16("h16", n), dg16 = Tensor.bf16("dg16", n), du16 = Tensor.bf16("du16", n);
            KernelRunner.run(dev, SwiGlu.FORWARD_16, Tensor.bf16("g16", n).set(g16.clone()), Tensor.bf16("u16", n).set(u16.clone()), h16, n);
            KernelRunner.run(dev, SwiGlu.BACKWARD_16, Tensor.bf16("g16", n).set(g16.clone()), Tensor.bf16("u16", n).set(u16.clone()),
                    Tensor.of("dh", dh), dg16, du16, n);
            float[][] fp32 = {h.toF32Array(), dg.toF32Array(), du.toF32Array()};
            short[][] bf16 = {h16.bf16(), dg16.bf16(), du16.bf16()};
            String[] what = {"h", "dg", "du"};
            for (int k = 0; k < 3; k++) {
                for (int i = 0; i < n; i++) {
                    org.junit.jupiter.api.Assertions.assertEquals(org.hsajava.compute.Bf16.fromFloat(fp32[k][i]), bf16[k][i], what[k] + "[" + i + "] on " + dev);
                }
            }
        }
    }

    @Test
    void checkNamesTheShortArgument() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), SwiGlu.FORWARD_FUSED,
                Tensor.f32("gu", 2, 6), Tensor.f32("h", 2, 4), 2, 4));
        assertTrue(e.getMessage().contains("'gu'"), e.getMessage());
    }
}
