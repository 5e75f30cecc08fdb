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
        cases.add(new Case("rmsnorm forward (37 x 129)", 1e-5, d -> {
            int rows = 37, dim = 129;
            Tensor y = Tensor.f32("y", rows * dim), rstd = Tensor.f32("rstd", rows);
            KernelRunner.run(d, RmsNorm.FORWARD, Tensor.of("x", random(rows * dim, 3)), Tensor.of("w", random(dim, 4)), y, rstd, rows, dim, 1e-6f);
            return y.toF32Array();
        }));
        cases.add(new Case("rope forward (53 tokens x 3 heads x 64)", 1e-5, d -> {
            int tokens = 53, heads = 3, dim = 64;
            Tensor out = Tensor.f32("out", tokens * heads * dim);
            KernelRunner.run(d, Rope.FORWARD_CONTIGUOUS, Tensor.of("x", random(tokens * heads * dim, 5)), out,
                    Tensor.of("freq", Rope.frequencyTable(dim, 10000.0)), tokens, tokens, heads, dim, 1_000_000);
            return out.toF32Array();
        }));
        cases.add(new Case("swiglu forward (n=1001)", 1e-6, d -> {
            Tensor h = Tensor.f32("h", 1001);
            KernelRunner.run(d, SwiGlu.FORWARD, Tensor.of("g", random(1001, 6)), Tensor.of("u", random(1001, 7)), h, 1001);
            return h.toF32Array();
        }));
        cases.add(new Case("cross-entropy fwd+bwd (13 x 1031)", 1e-5, d -> {
            int rows = 13, v = 1031;
            int[] targets = new int[rows];
            for (int i = 0; i < rows; i++) targets[i] = i == 5 ? CrossEntropy.IGNORE_INDEX : (i * 97) % v;
            Tensor loss = Tensor.f32("loss", rows), grad = Tensor.f32("dlogits", rows * v);
            KernelRunner.run(d, CrossEntropy.FORWARD_BACKWARD, Tensor.of("logits", random(rows * v, 8)), Tensor.of("targets", targets), loss, grad,
                    rows, v, CrossEntropy.IGNORE_INDEX, 1f / (rows - 1));
            float[] both = new float[rows + rows * v];
            System.arraycopy(loss.toF32Array(), 0, both, 0, rows);
            System.arraycopy(grad.toF32Array(), 0, both, rows, rows * v);
            return both;
        }));
        cases.add(new Case("adamw step (n=10007)", 1e-5, d -> {
            int n = 10007;
            Tensor p = Tensor.of("p", random(n, 9)), m = Tensor.of("m", random(n, 10)), v = Tensor.of("v", abs(random(n, 11)));
            KernelRunner.run(d, AdamW.STEP, p, Tensor.of("g", random(n, 12)), m, v, n, 1e-3f, 0.9f, 0.95f, 1e-8f, 0.1f, 0.5f, 7);
            return p.toF32Array();
        }));
        cases.add(new Case("sum of squares (n=100003)", 1e-6, d -> {
            Tensor partials = Tensor.f32("partials", Reduce.DEFAULT_PARTS), out = Tensor.f32("out", 1);
            Tensor x = Tensor.of("x", random(100_003, 13));
            KernelRunner.run(d, Reduce.SUM_OF_SQUARES, x, partials, 100_003, Reduce.DEFAULT_PARTS);
            KernelRunner.run(d, Reduce.SUM_PARTIALS, partials, out, Reduce.DEFAULT_PARTS);
            return out.toF32Array();
        }));
        return cases;
    }

    private static float[] abs(float[] a) {
        for (int i = 0; i < a.length; i++) a[i] = Math.abs(a[i]);
        return a;
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
