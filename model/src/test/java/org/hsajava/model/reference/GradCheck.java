package org.hsajava.model.reference;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.SplittableRandom;
import java.util.function.ToDoubleFunction;

/**
 * Central finite differences of a double-precision scalar function, compared with an analytic
 * gradient computed by the kernels (float). The function is usually {@code Σ out·dOut} of a
 * reference forward pass from {@link RefOps}, so its gradient is what a backward pass must produce.
 */
public final class GradCheck {
    private GradCheck() {}

    /**
     * Checks {@code analytic[i] ≈ ∂f/∂x[i]} at {@code samples} random coordinates (all if fewer).
     * The error is relative to the largest |analytic| (float kernels summing many terms cannot do
     * better element by element near zero). {@code x} is perturbed in place and restored.
     */
    public static void check(String what, ToDoubleFunction<double[]> f, double[] x, float[] analytic, int samples, double tol, long seed) {
        if (analytic.length != x.length) fail(what + ": gradient has " + analytic.length + " elements, input " + x.length);
        double scale = 1e-12;
        for (float g : analytic) scale = Math.max(scale, Math.abs(g));
        SplittableRandom r = new SplittableRandom(seed);
        int n = Math.min(samples, x.length);
        for (int s = 0; s < n; s++) {
            int i = n == x.length ? s : r.nextInt(x.length);
            double h = 1e-5 * Math.max(1, Math.abs(x[i]));
            double keep = x[i];
            x[i] = keep + h;
            double up = f.applyAsDouble(x);
            x[i] = keep - h;
            double down = f.applyAsDouble(x);
            x[i] = keep;
            double numeric = (up - down) / (2 * h);
            double err = Math.abs(numeric - analytic[i]) / scale;
            if (err > tol) {
                fail(String.format("%s: coordinate %d: finite difference %.6g, backward %.6g (error %.2g of max |grad| %.3g > %.1g)", what, i, numeric, analytic[i], err, scale, tol));
            }
        }
    }
}
