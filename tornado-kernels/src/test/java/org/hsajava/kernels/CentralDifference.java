package org.hsajava.kernels;

import java.util.function.ToDoubleFunction;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;

/**
 * Double-precision central finite differences for the backward tests, plus the device pair the
 * kernel tests compare. The scalar function is the test's own double forward (never a kernel), so
 * a backward kernel is checked against an independent derivative.
 */
final class CentralDifference {
    private CentralDifference() {}

    /** {@code (f(x + h e_i) - f(x - h e_i)) / 2h} for every i (x is restored afterwards). */
    static double[] gradient(double[] x, ToDoubleFunction<double[]> f, double h) {
        double[] grad = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            double keep = x[i];
            x[i] = keep + h;
            double up = f.applyAsDouble(x);
            x[i] = keep - h;
            double down = f.applyAsDouble(x);
            x[i] = keep;
            grad[i] = (up - down) / (2 * h);
        }
        return grad;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    /** The Java oracle and the OpenCL device, in that order. */
    static Device[] devices() { return new Device[] {TestDevices.java(), TestDevices.opencl()}; }
}
