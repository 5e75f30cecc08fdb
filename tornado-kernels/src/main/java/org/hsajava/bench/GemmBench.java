package org.hsajava.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Gemm;

/**
 * Square fp32 GEMM throughput ({@code C = A B}, N x N, alpha = 1, beta = 0) with the data resident
 * on the device: A and B are uploaded once, C never leaves the device, and the timed plan only
 * launches. GFLOP/s = 2 N^3 / time per launch.
 */
public final class GemmBench {
    private GemmBench() {}

    public record Row(String kernel, int n, double medianMs, double gflops) {
        @Override
        public String toString() { return String.format("%-36s %6d %10.3f ms %10.1f GFLOP/s", kernel, n, medianMs, gflops); }
    }

    /** Timing budget per (kernel, size): at least this many seconds of timed runs (and 5 runs). */
    private static final double MIN_SECONDS = 0.5;

    /** The tuned kernel the device would use (and the naive baseline first, if asked) at every size. */
    public static List<Row> run(Device device, int[] sizes, boolean includeNaive, PrintStream progress) {
        List<Row> rows = new ArrayList<>();
        for (int n : sizes) {
            if (includeNaive) rows.add(report(progress, time(device, "naive", Gemm.naive(false, false), n)));
            KernelDef tuned = Gemm.select(device, false, false, n, n, n);
            rows.add(report(progress, time(device, "tiled " + describe(tuned), tuned, n)));
        }
        return rows;
    }

    /** Short description of a tiled variant, e.g. {@code 128x128x16/8x8 exact}. */
    public static String describe(KernelDef k) {
        var d = k.defines();
        if (!d.containsKey("GEMM_TM")) return k.entryPoint();
        return d.get("GEMM_TM") + "x" + d.get("GEMM_TN") + "x" + d.get("GEMM_TK") + "/" + d.get("GEMM_WM") + "x" + d.get("GEMM_WN")
                + ("1".equals(d.get("GEMM_EXACT")) ? " exact" : "");
    }

    private static Row report(PrintStream progress, Row r) {
        if (progress != null) progress.println(r);
        return r;
    }

    /** Times one NN kernel at size n. Several launches per execution keep the host's wait out of small sizes. */
    public static Row time(Device device, String label, KernelDef kernel, int n) {
        Tensor a = random("A", n, 1), b = random("B", n, 2), c = Tensor.f32("C", n * n);
        try (ExecutionPlan probe = plan(device, kernel, a, b, c, n, 1)) {
            probe.execute();  // upload and compile
            long t0 = System.nanoTime();
            probe.execute();
            double once = (System.nanoTime() - t0) / 1e9;
            int launches = (int) Math.max(1, Math.min(50, Math.ceil(0.02 / Math.max(once, 1e-6))));
            try (ExecutionPlan p = launches == 1 ? null : plan(device, kernel, a, b, c, n, launches)) {
                ExecutionPlan timed = p == null ? probe : p;
                BenchTimer.Stats s = BenchTimer.time(timed::execute, 2, 5, MIN_SECONDS);
                double ms = s.medianMs() / launches;
                return new Row(label, n, ms, 2.0 * n * n * n / (ms * 1e-3) / 1e9);
            }
        }
    }

    private static ExecutionPlan plan(Device device, KernelDef kernel, Tensor a, Tensor b, Tensor c, int n, int launches) {
        TaskGraph g = new TaskGraph("gemm").transferToDevice(DataTransferMode.FIRST_EXECUTION, a, b);
        for (int i = 0; i < launches; i++) g.task("mm" + i, kernel, a, b, c, n, n, n, n, n, n, 0, 0, 0, 1, 1f, 0f);
        return new ExecutionPlan(g.snapshot()).withDevice(device);
    }

    private static Tensor random(String name, int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * n];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.of(name, x, n, n);
    }
}
