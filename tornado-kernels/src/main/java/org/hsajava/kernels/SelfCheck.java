package org.hsajava.kernels;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;

/**
 * Runs each kernel family once on a device and on the Java backend with the same random inputs
 * and reports the largest relative difference: a quick check that a machine's OpenCL driver
 * compiles and runs our kernels correctly. The unit tests go much further; this is for users.
 */
public final class SelfCheck {

    /** One check: runs a kernel on a device and returns the output to compare. */
    public record Case(String name, double tolerance, Function<Device, float[]> run) {}

    /** The outcome of one case. */
    public record Result(String name, double maxRelError, double tolerance, double millis, String error) {
        public boolean ok() { return error == null && maxRelError <= tolerance; }
    }

    private SelfCheck() {}

    public static List<Case> cases() {
        List<Case> cases = new ArrayList<>();
        cases.add(new Case("residual axpby (n=4099)", 1e-6, d -> {
            float[] x = random(4099, 1), y = random(4099, 2);
            Tensor ty = Tensor.of("y", y);
            KernelRunner.run(d, Residual.AXPBY, Tensor.of("x", x), ty, 4099, 0.5f, -2f);
            return ty.toF32Array();
        }));
        return cases;
    }

    /** Runs every case on {@code device}, comparing with the Java backend, printing one line per case. */
    public static List<Result> run(Device device, PrintStream out) {
        Device java = Devices.select("java");
        List<Result> results = new ArrayList<>();
        for (Case c : cases()) {
            long t0 = System.nanoTime();
            Result r;
            try {
                float[] got = c.run().apply(device);
                float[] want = c.run().apply(java);
                r = new Result(c.name(), maxRelError(want, got), c.tolerance(), (System.nanoTime() - t0) / 1e6, null);
            } catch (RuntimeException e) {
                r = new Result(c.name(), Double.NaN, c.tolerance(), (System.nanoTime() - t0) / 1e6, e.getMessage());
            }
            results.add(r);
            if (out != null) {
                out.printf("  %-4s %-44s %s%n", r.ok() ? "ok" : "FAIL", r.name(),
                        r.error() != null ? r.error() : String.format("max rel. error %.2e (tolerance %.0e), %.0f ms", r.maxRelError(), r.tolerance(), r.millis()));
            }
        }
        return results;
    }

    static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }

    static double maxRelError(float[] want, float[] got) {
        if (want.length != got.length) return Double.POSITIVE_INFINITY;
        double scale = 1e-30, worst = 0;
        for (float w : want) scale = Math.max(scale, Math.abs(w));
        for (int i = 0; i < want.length; i++) {
            double d = Math.abs((double) want[i] - got[i]);
            if (Double.isNaN(d)) return Double.POSITIVE_INFINITY;
            worst = Math.max(worst, d);
        }
        return worst / scale;
    }
}
