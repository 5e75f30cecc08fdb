package org.hsajava.compute.testing;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Closeness checks that report where and how far two arrays differ. Errors are relative to the
 * largest magnitude of the expected array (a float32 kernel summing many terms cannot do better
 * element by element near zero).
 */
public final class Close {
    private Close() {}

    /** Largest |a-b| divided by max(|expected|, tiny). */
    public static double maxRelError(float[] expected, float[] actual) {
        double scale = 1e-30, worst = 0;
        for (float e : expected) scale = Math.max(scale, Math.abs(e));
        for (int i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs((double) expected[i] - actual[i]));
        return worst / scale;
    }

    public static void assertClose(String what, float[] expected, float[] actual, double tol) {
        if (expected.length != actual.length) fail(what + ": length " + actual.length + " != expected " + expected.length);
        double scale = 1e-30;
        for (float e : expected) scale = Math.max(scale, Math.abs(e));
        int worstAt = -1;
        double worst = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(actual[i]) != Float.isNaN(expected[i])) fail(what + ": NaN mismatch at " + i + " (expected " + expected[i] + ", got " + actual[i] + ")");
            double d = Math.abs((double) expected[i] - actual[i]);
            if (d > worst) { worst = d; worstAt = i; }
        }
        if (worst / scale > tol) {
            fail(String.format("%s: max error %.3g (relative %.3g > %.1g) at %d: expected %s, got %s", what, worst, worst / scale, tol, worstAt, expected[worstAt], actual[worstAt]));
        }
    }

    public static void assertClose(String what, double[] expected, float[] actual, double tol) {
        float[] e = new float[expected.length];
        for (int i = 0; i < e.length; i++) e[i] = (float) expected[i];
        assertClose(what, e, actual, tol);
    }
}
