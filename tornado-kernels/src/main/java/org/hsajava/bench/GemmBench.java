package org.hsajava.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.GemmBf16Async;
import org.hsajava.kernels.GemmBf16Wgmma;
import org.hsajava.kernels.GemmSplitK;

/**
 * GEMM throughput ({@code C = op(A) op(B)}, alpha = 1, beta = 0) with the data resident on the
 * device: A and B are uploaded once, C never leaves the device, and the timed plan only launches.
 * GFLOP/s = 2 M N K / time per launch. Square N x N problems by default, or given shapes with
 * transposes (those of a model's layers).
 */
public final class GemmBench {
    private GemmBench() {}

    /** One problem: op(A) is M x K, op(B) is K x N; written {@code MxNxK} or {@code MxNxK:tn} (op of A, then of B). */
    public record Shape(int m, int n, int k, boolean transA, boolean transB) {
        public static Shape square(int n) { return new Shape(n, n, n, false, false); }

        public static Shape parse(String text) {
            String[] parts = text.trim().toLowerCase(java.util.Locale.ROOT).split(":");
            String[] dims = parts[0].split("x");
            String ops = parts.length > 1 ? parts[1] : "nn";
            if (parts.length > 2 || dims.length != 3 || !ops.matches("[nt][nt]")) {
                throw new IllegalArgumentException("not a GEMM shape: '" + text + "' (use MxNxK or MxNxK:tn, e.g. 128x384x4096:tn)");
            }
            int[] v = new int[3];
            for (int i = 0; i < 3; i++) {
                try {
                    v[i] = Integer.parseInt(dims[i]);
                } catch (NumberFormatException e) {
                    throw new IllegalArgumentException("not a GEMM shape: '" + text + "' (" + dims[i] + " is not a number)");
                }
                if (v[i] <= 0) throw new IllegalArgumentException("GEMM shape '" + text + "': sizes must be positive");
            }
            return new Shape(v[0], v[1], v[2], ops.charAt(0) == 't', ops.charAt(1) == 't');
        }

        @Override
        public String toString() {
            String base = m == n && n == k ? String.valueOf(n) : m + "x" + n + "x" + k;
            return transA || transB ? base + ":" + (transA ? 't' : 'n') + (transB ? 't' : 'n') : base;
        }
    }

    public record Row(String kernel, Shape shape, double medianMs, double gflops) {
        /** N of the problem (the size of a square one). */
        public int n() { return shape.n(); }

        @Override
        public String toString() { return String.format("%-36s %16s %10.3f ms %10.1f GFLOP/s", kernel, shape, medianMs, gflops); }
    }

    /** Timing budget per (kernel, size): at least this many seconds of timed runs (and 5 runs). */
    private static final double MIN_SECONDS = 0.5;

    /** The tuned kernel the device would use (and the naive baseline first, if asked) at every size. */
    public static List<Row> run(Device device, int[] sizes, boolean includeNaive, PrintStream progress) {
        List<Shape> shapes = new ArrayList<>();
        for (int n : sizes) shapes.add(Shape.square(n));
        return run(device, shapes, includeNaive, progress);
    }

    /** As {@link #run(Device, int[], boolean, PrintStream)} for any shapes. */
    public static List<Row> run(Device device, List<Shape> shapes, boolean includeNaive, PrintStream progress) {
        List<Row> rows = new ArrayList<>();
        for (Shape s : shapes) {
            if (includeNaive) rows.add(report(progress, time(device, "naive", Gemm.naive(s.transA(), s.transB()), s)));
            // what the device runs: the tiled kernel, or its tensor-core variant where that is switched on
            KernelDef tuned = Gemm.select(device, s.transA(), s.transB(), s.m(), s.n(), s.k()), runs = tuned.forDevice(device.info());
            rows.add(report(progress, time(device, label(runs), tuned, s)));
            // what a layer's weight gradient runs where the device would split this GEMM over K
            int slices = GemmSplitK.slices(device.info(), s.m(), s.n(), s.k());
            if (slices > 1) {
                KernelDef part = Gemm.select(device, s.transA(), s.transB(), s.m(), s.n(), s.k() / slices, slices).forDevice(device.info());
                rows.add(report(progress, timeSplit(device, "split-K x" + slices + " " + label(part), s)));
            }
            // operands already stored as bf16 (the tensor-core kernel for bf16 storage), where the sizes fit its tiles
            Shape nt = new Shape(s.m(), s.n(), s.k(), false, true);
            if (TensorCores.enabled(device.info()) && GemmBf16Async.fits(s.m(), s.n(), s.k())) {
                rows.add(report(progress, timeBf16Storage(device, GemmBf16Async.kernel(), nt)));
            }
            if (TensorCores.warpgroupMma(device.info()) && GemmBf16Wgmma.fits(s.m(), s.n(), s.k())) {
                rows.add(report(progress, timeBf16Storage(device, GemmBf16Wgmma.kernel(s.n()), nt)));
                // a weight gradient's shape (A^T B): the MN-major form, split over K as a layer runs it
                if (s.transA() && !s.transB()) rows.add(report(progress, timeWeightGradientBf16(device, s)));
            }
        }
        return rows;
    }

    /** The row label of the variant a device runs: {@code tiled } and its tiles, or the tensor-core kernel. */
    private static String label(KernelDef runs) { return (runs.defines().containsKey("GEMM_TM") ? "tiled " : "") + describe(runs); }

    /** Short description of a tiled variant, e.g. {@code 128x128x16/8x8 exact}. */
    public static String describe(KernelDef k) {
        var d = k.defines();
        if (d.containsKey("BF_TM")) return k.entryPoint() + " " + d.get("BF_TM") + "x" + d.get("BF_TN") + "x" + d.get("BF_TK") + "/" + d.get("BF_WARPS_M") + "x" + d.get("BF_WARPS_N");
        if (!d.containsKey("GEMM_TM")) return k.entryPoint();
        return d.get("GEMM_TM") + "x" + d.get("GEMM_TN") + "x" + d.get("GEMM_TK") + "/" + d.get("GEMM_WM") + "x" + d.get("GEMM_WN")
                + ("1".equals(d.get("GEMM_EXACT")) ? " exact" : "");
    }

    private static Row report(PrintStream progress, Row r) {
        if (progress != null) progress.println(r);
        return r;
    }

    /** Times one NN kernel at size n. */
    public static Row time(Device device, String label, KernelDef kernel, int n) { return time(device, label, kernel, Shape.square(n)); }

    /** Times one kernel on one shape. Several launches per execution keep the host's wait out of small sizes. */
    public static Row time(Device device, String label, KernelDef kernel, Shape s) {
        int lda = s.transA() ? s.m() : s.k(), ldb = s.transB() ? s.k() : s.n();
        return time(device, label, s, (g, a, b, c, i) -> g.task("mm" + i, kernel, a, b, c, s.m(), s.n(), s.k(), lda, ldb, s.n(), 0, 0, 0, 1, 1f, 0f));
    }

    /** Times the GEMM split over K as {@link GemmSplitK#append} does it (the batched launch and the sum). */
    public static Row timeSplit(Device device, String label, Shape s) {
        int lda = s.transA() ? s.m() : s.k(), ldb = s.transB() ? s.k() : s.n();
        Tensor workspace = GemmSplitK.workspace("workspace");
        return time(device, label, s, (g, a, b, c, i) ->
                GemmSplitK.append(g, "mm" + i, device, s.transA(), s.transB(), a, b, c, s.m(), s.n(), s.k(), lda, ldb, 1f, 0f, workspace));
    }

    /** Times {@link GemmSplitK#appendBf16Wgmma}: C = A^T B with A [K x M] and B [K x N] stored as bf16. */
    public static Row timeWeightGradientBf16(Device device, Shape s) {
        Tensor a = bf16Random("A", s.m() * s.k(), 1), b = bf16Random("B", s.n() * s.k(), 2), c = Tensor.f32("C", s.m() * s.n());
        Tensor workspace = GemmSplitK.workspace("workspace");
        return time(device, "gemm_bf16_wgmma A^T B, split over K (bf16 in memory)", s, a, b, c, (g, x, y, z, i) ->
                GemmSplitK.appendBf16Wgmma(g, "mm" + i, device, x, y, z, s.m(), s.n(), s.k(), s.m(), s.n(), 1f, 0f, workspace));
    }

    /** Times {@code kernel}, {@link GemmBf16Async} or {@link GemmBf16Wgmma}: C = A B^T with A and B stored as bf16 (shape s is NT). */
    public static Row timeBf16Storage(Device device, KernelDef kernel, Shape s) {
        Tensor a = bf16Random("A", s.m() * s.k(), 1), b = bf16Random("B", s.n() * s.k(), 2), c = Tensor.f32("C", s.m() * s.n());
        return time(device, kernel.entryPoint() + " (bf16 in memory)", s, a, b, c,
                (g, x, y, z, i) -> g.task("mm" + i, kernel, x, y, z, s.m(), s.n(), s.k(), s.k(), s.k(), s.n(), 0, 0, 0, 1, 1f, 0f));
    }

    /** Appends launch number {@code i} of the timed GEMM {@code C = op(A) op(B)}. */
    private interface Launch {
        void append(TaskGraph g, Tensor a, Tensor b, Tensor c, int i);
    }

    private static Row time(Device device, String label, Shape s, Launch launch) {
        return time(device, label, s, random("A", s.m() * s.k(), 1), random("B", s.k() * s.n(), 2), Tensor.f32("C", s.m() * s.n()), launch);
    }

    private static Row time(Device device, String label, Shape s, Tensor a, Tensor b, Tensor c, Launch launch) {
        try (ExecutionPlan probe = plan(device, launch, a, b, c, 1)) {
            probe.execute();  // upload and compile
            long t0 = System.nanoTime();
            probe.execute();
            double once = (System.nanoTime() - t0) / 1e9;
            int launches = (int) Math.max(1, Math.min(50, Math.ceil(0.02 / Math.max(once, 1e-6))));
            try (ExecutionPlan p = launches == 1 ? null : plan(device, launch, a, b, c, launches)) {
                ExecutionPlan timed = p == null ? probe : p;
                BenchTimer.Stats stats = BenchTimer.time(timed::execute, 2, 5, MIN_SECONDS);
                double ms = stats.medianMs() / launches;
                return new Row(label, s, ms, 2.0 * s.m() * s.n() * s.k() / (ms * 1e-3) / 1e9);
            }
        }
    }

    private static ExecutionPlan plan(Device device, Launch launch, Tensor a, Tensor b, Tensor c, int launches) {
        TaskGraph g = new TaskGraph("gemm").transferToDevice(DataTransferMode.FIRST_EXECUTION, a, b);
        for (int i = 0; i < launches; i++) launch.append(g, a, b, c, i);
        return new ExecutionPlan(g.snapshot()).withDevice(device);
    }

    private static Tensor bf16Random(String name, int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        short[] x = new short[size];
        for (int i = 0; i < x.length; i++) x[i] = Bf16.fromFloat((float) (r.nextDouble() * 2 - 1));
        return Tensor.bf16(name, size).set(x);
    }

    private static Tensor random(String name, int size, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[size];
        for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
        return Tensor.of(name, x);
    }
}
