package org.hsajava.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.SlidingWindowAttention;
import org.hsajava.kernels.SlidingWindowAttention.Shape;
import org.hsajava.compute.opencl.TensorCores;

/**
 * Times sliding-window attention at the papers' speed-benchmark shape (HQ=16, H=1, D=64) or given
 * heads (small-gpu's layers: HQ=16, H=4, D=32), with every tensor resident on the device: inputs are uploaded once (during warm-up) and the timed
 * runs are kernel launches only. Where tensor cores are enabled it also times the bf16 kernels
 * (rows "swa fwd bf16", "swa fwd+bwd bf16": q, k, v and dO stored as bf16, as mixed-precision
 * training runs them).
 */
public final class SwaBench {
    private SwaBench() {}

    public static final int QUERY_HEADS = 16, KV_HEADS = 1, HEAD_DIM = 64;

    /** One measurement: {@code what} is "swa fwd" or "swa fwd+bwd", with " bf16" for the bf16 kernels. */
    public record Row(String what, int length, double medianMs, long deviceBytes) {}

    /**
     * Measures forward and forward+backward for each length.
     *
     * @param progress where to print one line per measurement (null: quiet)
     */
    public static List<Row> run(Device device, int batch, int[] lengths, int window, PrintStream progress) {
        return run(device, batch, lengths, window, Heads.BENCH, progress);
    }

    /** Query heads, KV heads and head dimension of a measurement. */
    public record Heads(int query, int kv, int dim) {
        /** The papers' speed-benchmark shape. */
        public static final Heads BENCH = new Heads(QUERY_HEADS, KV_HEADS, HEAD_DIM);
    }

    /** As {@link #run(Device, int, int[], int, PrintStream)} with the given heads. */
    public static List<Row> run(Device device, int batch, int[] lengths, int window, Heads heads, PrintStream progress) {
        List<Row> rows = new ArrayList<>();
        for (int len : lengths) {
            try (ExecutionPlan plan = prepare(device, batch, len, window, heads)) {
                rows.add(measure(plan, FORWARD, "swa fwd", len, progress));
                rows.add(measure(plan, FORWARD_BACKWARD, "swa fwd+bwd", len, progress));
            }
            if (TensorCores.enabled(device.info()) && SlidingWindowAttention.tcHeadDim(heads.dim())) {
                try (ExecutionPlan plan = prepare(device, batch, len, window, heads, true)) {
                    rows.add(measure(plan, FORWARD, "swa fwd bf16", len, progress));
                    rows.add(measure(plan, FORWARD_BACKWARD, "swa fwd+bwd bf16", len, progress));
                }
            }
        }
        return rows;
    }

    /** Graph names of the plan {@link #prepare} returns. */
    public static final String FORWARD = "fwd", FORWARD_BACKWARD = "fwdbwd";

    /**
     * A plan with two graphs, {@link #FORWARD} and {@link #FORWARD_BACKWARD}, over random inputs
     * of the bench shape; inputs upload on the first execution and stay on the device. Shared by
     * the bench command and the JMH benchmark.
     */
    public static ExecutionPlan prepare(Device device, int batch, int len, int window) { return prepare(device, batch, len, window, Heads.BENCH); }

    /** As {@link #prepare(Device, int, int, int)} with the given heads. */
    public static ExecutionPlan prepare(Device device, int batch, int len, int window, Heads heads) { return prepare(device, batch, len, window, heads, false); }

    /** As above; with {@code bf16} q, k, v, o and dO are bf16 (the bf16 kernels). */
    public static ExecutionPlan prepare(Device device, int batch, int len, int window, Heads heads, boolean bf16) {
        int hq = heads.query(), h = heads.kv(), d = heads.dim();
        Shape s = new Shape(batch, len, hq, h, d, window);
        SplittableRandom rng = new SplittableRandom(len);
        Tensor q = random("q", rng, batch, len, hq, d), k = random("k", rng, batch, len, h, d);
        Tensor v = random("v", rng, batch, len, h, d), dO = random("d_o", rng, batch, len, hq, d);
        if (bf16) {
            q = toBf16(q);
            k = toBf16(k);
            v = toBf16(v);
            dO = toBf16(dO);
        }
        Tensor o = bf16 ? Tensor.bf16("o", batch, len, hq, d) : Tensor.f32("o", batch, len, hq, d), lse = Tensor.f32("lse", batch, len, hq);
        Tensor delta = Tensor.f32("delta", batch, len, hq), dq = Tensor.f32("dq", batch, len, hq, d);
        Tensor dk = Tensor.f32("dk", batch, len, h, d), dv = Tensor.f32("dv", batch, len, h, d);
        TaskGraph fwd = SlidingWindowAttention.addForward(
                new TaskGraph(FORWARD).transferToDevice(DataTransferMode.FIRST_EXECUTION, q, k, v), "", s, q, k, v, o, lse);
        TaskGraph both = SlidingWindowAttention.addForward(
                new TaskGraph(FORWARD_BACKWARD).transferToDevice(DataTransferMode.FIRST_EXECUTION, q, k, v, dO), "", s, q, k, v, o, lse);
        SlidingWindowAttention.addBackward(both, "", s, q, k, v, o, lse, dO, delta, dq, dk, dv);
        return new ExecutionPlan(fwd.snapshot(), both.snapshot()).withDevice(device);
    }

    private static Tensor toBf16(Tensor t) { return Tensor.ofBf16(t.name() + "16", t.f32(), t.shape()); }

    private static Row measure(ExecutionPlan plan, String graph, String what, int len, PrintStream progress) {
        BenchTimer.Stats st = BenchTimer.time(() -> plan.execute(graph), 2, 3, 1.0);
        if (progress != null) progress.printf("%-12s L=%-8d %s%n", what, len, st);
        return new Row(what, len, st.medianMs(), plan.deviceBytes());
    }

    private static Tensor random(String name, SplittableRandom rng, int... shape) {
        Tensor t = Tensor.f32(name, shape);
        float[] a = t.f32();
        for (int i = 0; i < a.length; i++) a[i] = (float) (rng.nextDouble() * 2 - 1);
        return t;
    }

    /**
     * Sanity check before timing a new device: runs forward and backward at a small bench-like
     * shape (B=2, L=300, W=128) on {@code device} and on the Java backend and returns the largest
     * error of o, dq, dk and dv, relative to each tensor's largest magnitude (expect ~1e-6).
     */
    public static double maxErrorAgainstJava(Device device) {
        Shape s = new Shape(2, 300, QUERY_HEADS, KV_HEADS, HEAD_DIM, 128);
        float[][] onDevice = forwardBackward(device, s), onJava = forwardBackward(Devices.select("java"), s);
        double worst = 0;
        for (int i = 0; i < onDevice.length; i++) {
            double scale = 1e-30, err = 0;
            for (float x : onJava[i]) scale = Math.max(scale, Math.abs(x));
            for (int j = 0; j < onJava[i].length; j++) err = Math.max(err, Math.abs((double) onJava[i][j] - onDevice[i][j]));
            worst = Math.max(worst, Double.isNaN(err) ? Double.POSITIVE_INFINITY : err / scale);
        }
        return worst;
    }

    /** o, dq, dk, dv of one forward + backward on seeded random inputs. */
    private static float[][] forwardBackward(Device device, Shape s) {
        int b = s.batch(), len = s.length();
        SplittableRandom rng = new SplittableRandom(1);
        Tensor q = random("q", rng, b, len, QUERY_HEADS, HEAD_DIM), k = random("k", rng, b, len, KV_HEADS, HEAD_DIM);
        Tensor v = random("v", rng, b, len, KV_HEADS, HEAD_DIM), dO = random("d_o", rng, b, len, QUERY_HEADS, HEAD_DIM);
        Tensor o = Tensor.f32("o", b, len, QUERY_HEADS, HEAD_DIM), lse = Tensor.f32("lse", b, len, QUERY_HEADS);
        Tensor delta = Tensor.f32("delta", b, len, QUERY_HEADS), dq = Tensor.f32("dq", b, len, QUERY_HEADS, HEAD_DIM);
        Tensor dk = Tensor.f32("dk", b, len, KV_HEADS, HEAD_DIM), dv = Tensor.f32("dv", b, len, KV_HEADS, HEAD_DIM);
        TaskGraph g = SlidingWindowAttention.addForward(
                new TaskGraph("check").transferToDevice(DataTransferMode.EVERY_EXECUTION, q, k, v, dO), "", s, q, k, v, o, lse);
        SlidingWindowAttention.addBackward(g, "", s, q, k, v, o, lse, dO, delta, dq, dk, dv)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, o, dq, dk, dv);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        return new float[][] {o.toF32Array(), dq.toF32Array(), dk.toF32Array(), dv.toF32Array()};
    }

    /**
     * {@code java ... SwaBench [device] [batch] [window] [L1,L2,...]}: checks the device against
     * the Java backend, then prints one line per measurement. Defaults: preferred device, B=8, W=512, L=4096.
     */
    public static void main(String[] args) {
        Device d = args.length > 0 ? Devices.select(args[0]) : Devices.preferred();
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int window = args.length > 2 ? Integer.parseInt(args[2]) : 512;
        int[] lengths = args.length > 3 ? java.util.Arrays.stream(args[3].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {4096};
        System.out.println("device " + d + ", B=" + batch + " HQ=" + QUERY_HEADS + " H=" + KV_HEADS + " D=" + HEAD_DIM + " W=" + window);
        if (!d.isJava()) System.out.printf("max relative error against the Java backend: %.2e%n", maxErrorAgainstJava(d));
        run(d, batch, lengths, window, System.out);
    }
}
