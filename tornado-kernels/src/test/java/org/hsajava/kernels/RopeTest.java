package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.math.BigDecimal;
import java.math.MathContext;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RopeTest {
    private static final double THETA = 10000;
    private static final MathContext MC = new MathContext(60);
    private static final BigDecimal TWO_PI = new BigDecimal("6.283185307179586476925286766559005768394338798750211641949889184615632812572417997256069650684234136");

    /** p * invFreq reduced to [0, 2pi) exactly (BigDecimal): the reference angle, independent of the kernel's fixed point. */
    static double exactAngle(long p, double invFreq) {
        BigDecimal a = new BigDecimal(p).multiply(new BigDecimal(invFreq), MC);
        BigDecimal turns = a.divide(TWO_PI, MC);
        BigDecimal whole = new BigDecimal(turns.toBigInteger());
        return turns.subtract(whole).multiply(TWO_PI, MC).doubleValue();
    }

    static double invFreq(int i, int d) { return 1.0 / Math.pow(THETA, 2.0 * i / d); }

    /** The double forward the tests trust: HF rotate_half RoPE, sign -1 rotates backwards. */
    static double[] rope(double[] x, int[] pos, int heads, int d, int sign) {
        double[] y = new double[x.length];
        int half = d / 2;
        for (int t = 0; t < pos.length; t++) {
            for (int i = 0; i < half; i++) {
                double a = exactAngle(pos[t], invFreq(i, d)), c = Math.cos(a), s = sign * Math.sin(a);
                for (int h = 0; h < heads; h++) {
                    int b = (t * heads + h) * d;
                    y[b + i] = x[b + i] * c - x[b + i + half] * s;
                    y[b + i + half] = x[b + i + half] * c + x[b + i] * s;
                }
            }
        }
        return y;
    }

    static int[] contiguousPositions(int batch, int len, int start) {
        int[] pos = new int[batch * len];
        for (int t = 0; t < pos.length; t++) pos[t] = start + t % len;
        return pos;
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1, 2, 0", "2, 7, 3, 10, 5", "3, 17, 2, 64, 0", "1, 5, 4, 128, 16777000", "2, 9, 1, 6, 2147483000"})
    void forwardMatchesExactAngles(int batch, int len, int heads, int d, int start) {
        Rand r = new Rand(batch * 31L + len * 7L + d);
        int tokens = batch * len;
        float[] x = r.normal(tokens * heads * d, 1);
        int[] table = Rope.frequencyTable(d, THETA);
        int[] pos = contiguousPositions(batch, len, start);
        double[] want = rope(CentralDifference.toDouble(x), pos, heads, d, 1);
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.f32("out", tokens, heads, d);
            KernelRunner.run(dev, Rope.FORWARD_CONTIGUOUS, Tensor.of("x", x), out, Tensor.of("freq", table), tokens, len, heads, d, start);
            assertClose("rope contiguous start=" + start + " on " + dev, want, out.toF32Array(), 2e-6);
            Tensor out2 = Tensor.f32("out", tokens, heads, d);
            KernelRunner.run(dev, Rope.FORWARD_POSITIONS, Tensor.of("x", x), out2, Tensor.of("freq", table), Tensor.of("positions", pos), tokens, heads, d);
            assertClose("rope positions start=" + start + " on " + dev, want, out2.toF32Array(), 2e-6);
        }
    }

    /** The bf16 output is the fp32 output rounded to nearest even, on each device (the same arithmetic before the store). */
    @Test
    void bf16OutputIsTheFp32OutputRounded() {
        int batch = 2, len = 23, heads = 3, d = 32, start = 7, tokens = batch * len;
        float[] x = new Rand(77).normal(tokens * heads * d, 3);
        int[] table = Rope.frequencyTable(d, THETA);
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.f32("out", tokens, heads, d), out16 = Tensor.bf16("out16", tokens, heads, d);
            KernelRunner.run(dev, Rope.FORWARD_CONTIGUOUS, Tensor.of("x", x), out, Tensor.of("freq", table), tokens, len, heads, d, start);
            KernelRunner.run(dev, Rope.FORWARD_CONTIGUOUS_BF16, Tensor.of("x", x), out16, Tensor.of("freq", table), tokens, len, heads, d, start);
            float[] f = out.toF32Array();
            short[] bits = out16.bf16();
            for (int i = 0; i < f.length; i++) {
                assertEquals(org.hsajava.compute.Bf16.fromFloat(f[i]), bits[i], "element " + i + " on " + dev + ": fp32 " + f[i]);
            }
        }
    }

    @Test
    void arbitraryPositionsIncludingNegativeAndHuge() {
        int tokens = 9, heads = 2, d = 16;
        int[] pos = {0, 1, -1, -12345, 16_777_216, 16_777_217, 123_456_789, Integer.MAX_VALUE, Integer.MIN_VALUE + 1};
        float[] x = new Rand(8).normal(tokens * heads * d, 1);
        int[] table = Rope.frequencyTable(d, THETA);
        double[] want = rope(CentralDifference.toDouble(x), pos, heads, d, 1);
        for (Device dev : CentralDifference.devices()) {
            Tensor out = Tensor.f32("out", tokens, heads, d);
            KernelRunner.run(dev, Rope.FORWARD_POSITIONS, Tensor.of("x", x), out, Tensor.of("freq", table), Tensor.of("positions", pos), tokens, heads, d);
            assertClose("rope at extreme positions on " + dev, want, out.toF32Array(), 2e-6);
        }
    }

    @Test
    void fixedPointAnglesAreExactToTheTablesResolution() {
        int d = 64;
        int[] table = Rope.frequencyTable(d, THETA);
        long[] positions = {1, 4096, 1 << 24, 50_000_000, Integer.MAX_VALUE};
        for (int i = 0; i < d / 2; i++) {
            for (long p : positions) {
                double want = exactAngle(p, invFreq(i, d));
                double got = Rope.angle(table, 0, i, (int) p);
                double diff = Math.IEEEremainder(got - want, 2 * Math.PI);
                assertTrue(Math.abs(diff) < 1e-8, "angle i=" + i + " p=" + p + ": " + got + " vs " + want);
            }
        }
        // What the kernel avoids: fp32 p * invFreq at p = 16M is off by a large fraction of a radian.
        float naive = (float) (1 << 24) * (float) invFreq(1, d);
        assertTrue(Math.abs(Math.IEEEremainder(naive - exactAngle(1 << 24, invFreq(1, d)), 2 * Math.PI)) > 1e-2);
    }

    @ParameterizedTest
    @CsvSource({"1, 1, 1, 2, 0", "2, 3, 2, 8, 3", "1, 4, 3, 6, 1000000"})
    void backwardMatchesFiniteDifferences(int batch, int len, int heads, int d, int start) {
        Rand r = new Rand(len * 13L + d);
        int tokens = batch * len, n = tokens * heads * d;
        float[] x = r.normal(n, 1), dy = r.normal(n, 1);
        int[] pos = contiguousPositions(batch, len, start);
        double[] fd = CentralDifference.gradient(CentralDifference.toDouble(x), xx -> {
            double[] y = rope(xx, pos, heads, d, 1);
            double s = 0;
            for (int i = 0; i < n; i++) s += y[i] * dy[i];
            return s;
        }, 1e-3);
        int[] table = Rope.frequencyTable(d, THETA);
        for (Device dev : CentralDifference.devices()) {
            Tensor dx = Tensor.f32("dx", n);
            KernelRunner.run(dev, Rope.BACKWARD_CONTIGUOUS, Tensor.of("dy", dy), dx, Tensor.of("freq", table), tokens, len, heads, d, start);
            assertClose("rope dx (contiguous) on " + dev, fd, dx.toF32Array(), 1e-5);
            Tensor dx2 = Tensor.f32("dx", n);
            KernelRunner.run(dev, Rope.BACKWARD_POSITIONS, Tensor.of("dy", dy), dx2, Tensor.of("freq", table), Tensor.of("positions", pos), tokens, heads, d);
            assertClose("rope dx (positions) on " + dev, fd, dx2.toF32Array(), 1e-5);
        }
    }

    @Test
    void inPlaceForwardThenBackwardRestoresTheInput() {
        int batch = 2, len = 37, heads = 3, d = 34, tokens = batch * len;
        float[] x = new Rand(21).normal(tokens * heads * d, 1);
        int[] table = Rope.frequencyTable(d, 500000);
        for (Device dev : CentralDifference.devices()) {
            Tensor t = Tensor.of("x", x.clone());
            Tensor freq = Tensor.of("freq", table);
            KernelRunner.run(dev, Rope.FORWARD_CONTIGUOUS, t, t, freq, tokens, len, heads, d, 7);
            KernelRunner.run(dev, Rope.BACKWARD_CONTIGUOUS, t, t, freq, tokens, len, heads, d, 7);
            assertClose("rope in place, forward then backward, on " + dev, x, t.toF32Array(), 1e-6);
        }
    }

    @Test
    void argumentChecks() {
        Tensor x = Tensor.f32("x", 2, 1, 5), out = Tensor.f32("out", 2, 1, 5);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), Rope.FORWARD_CONTIGUOUS,
                x, out, Tensor.of("freq", new int[6]), 2, 2, 1, 5, 0));
        assertTrue(e.getMessage().contains("'d'"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> KernelRunner.run(TestDevices.java(), Rope.FORWARD_CONTIGUOUS,
                Tensor.f32("x", 3, 1, 4), Tensor.f32("out", 3, 1, 4), Tensor.of("freq", Rope.frequencyTable(4, THETA)), 3, 2, 1, 4, 0));
        assertTrue(e.getMessage().contains("'len'"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> Rope.frequencyTable(7, THETA));
    }
}
