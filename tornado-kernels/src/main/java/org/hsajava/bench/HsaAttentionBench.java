package org.hsajava.bench;

import java.io.PrintStream;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.ExecutionResult;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.HsaAttention;
import org.hsajava.kernels.HsaAttentionBf16;

/**
 * Times the HSA attention kernels alone (indices and weights given) at the shapes of the papers'
 * speed benchmark, DESIGN.md §4: HQ=16, H=1, D=64, S=64, K=8, fp32, n=0. Inputs are random: a
 * random valid top-K selection per token, most recent chunk first, positive weights. All data is
 * uploaded once and stays on the device; the timed body is one {@code ExecutionPlan.execute}.
 *
 * <p>"hsa fwd" is the forward launch; "hsa fwd+bwd" is forward, backwardQ and backwardKv. The
 * inverted selection index (CSR) that backwardKv reads is built once on the host, outside the
 * timed region (in the model it comes from the selection's own kernel).
 *
 * <p>Where tensor cores are enabled ({@link TensorCores#enabled}) two more rows time the forward on
 * bf16 K and V ({@link HsaAttentionBf16}): "hsa pack bf16" packs k and v (once per layer and step in
 * a model) and "hsa fwd bf16" is the forward alone on the packed copies.
 */
public final class HsaAttentionBench {
    private HsaAttentionBench() {}

    /** One measurement; {@code deviceBytes} is what the plan holds on the device (inputs, outputs, saved state). */
    public record Row(String what, int length, double medianMs, long deviceBytes) {}

    static final int HQ = 16, H = 1, D = 64, S = 64, K = 8;

    public static List<Row> run(Device device, int batch, int[] lengths, PrintStream progress) {
        List<Row> rows = new ArrayList<>();
        for (int length : lengths) {
            Problem p = Problem.random(batch, length, 1234 + length);
            try (ExecutionPlan plan = new ExecutionPlan(p.forwardGraph(), p.trainingGraph()).withDevice(device)) {
                BenchTimer.Stats fwd = BenchTimer.time(() -> plan.execute("fwd"), 1, 3, 1.0);
                rows.add(new Row("hsa fwd", length, fwd.medianMs(), plan.deviceBytes()));
                if (progress != null) progress.printf("hsa fwd      B=%d L=%d on %s: %s%n", batch, length, device, fwd);
                BenchTimer.Stats both = BenchTimer.time(() -> plan.execute("fwdbwd"), 1, 3, 1.0);
                rows.add(new Row("hsa fwd+bwd", length, both.medianMs(), plan.deviceBytes()));
                if (progress != null) {
                    progress.printf("hsa fwd+bwd  B=%d L=%d on %s: %s; device memory %.1f MiB (inputs, outputs, lse, delta, CSR)%n",
                            batch, length, device, both, plan.deviceBytes() / (1024.0 * 1024.0));
                    ExecutionResult profile = plan.withProfiling(true).execute("fwdbwd");   // one more run, per kernel
                    progress.print(profile.table());
                    progress.println(productRates(profile, p.pairs()));
                }
            }
            if (TensorCores.enabled(device.info())) {
                try (ExecutionPlan plan = new ExecutionPlan(p.packGraph(), p.forwardBf16Graph()).withDevice(device)) {
                    BenchTimer.Stats pack = BenchTimer.time(() -> plan.execute("packbf16"), 1, 3, 1.0);
                    rows.add(new Row("hsa pack bf16", length, pack.medianMs(), plan.deviceBytes()));
                    BenchTimer.Stats fwd = BenchTimer.time(() -> plan.execute("fwdbf16"), 1, 3, 1.0);
                    rows.add(new Row("hsa fwd bf16", length, fwd.medianMs(), plan.deviceBytes()));
                    if (progress != null) progress.printf("hsa fwd bf16 B=%d L=%d on %s: pack %s; forward %s%n", batch, length, device, pack, fwd);
                }
            }
        }
        return rows;
    }

    /**
     * What the profiled kernels achieve on their small matrix products. Every valid (token, slot) pair costs
     * each kernel a fixed number of G x S x D products, 2*G*S*D flops each: the forward 2 (q k^T, P v), the
     * backward dq 3 (dout v^T, q k^T, dS k), the backward dk/dv 4 (q k^T, dout v^T, (wP)^T dout, dS^T q).
     * {@code pairs} is the number of valid pairs (the length of the inverted selection index).
     */
    static String productRates(ExecutionResult profile, long pairs) {
        double flops = 2.0 * (HQ / H) * S * D * pairs;
        StringBuilder sb = new StringBuilder(String.format("small products: %d valid (token, slot) pairs, %s per product;", pairs, withPrefix(flops, "FLOP")));
        String[][] kernels = {{"fwd", "2"}, {"bwdq", "3"}, {"bwdkv", "4"}};
        for (String[] kernel : kernels) {
            long nanos = profile.timings().stream().filter(t -> t.task().equals(kernel[0]) || t.task().endsWith("." + kernel[0]))
                    .mapToLong(ExecutionResult.TaskTiming::nanos).sum();
            if (nanos > 0) sb.append(String.format(" %s %s x %s", kernel[0], kernel[1], withPrefix(Integer.parseInt(kernel[1]) * flops / (nanos * 1e-9), "FLOP/s")));
        }
        return sb.toString();
    }

    /** {@code x} with one decimal and the largest of the prefixes M, G, T that keeps it at 1 or more ("135.0 GFLOP"). */
    private static String withPrefix(double x, String unit) {
        if (x >= 1e12) return String.format("%.1f T%s", x / 1e12, unit);
        if (x >= 1e9) return String.format("%.1f G%s", x / 1e9, unit);
        return String.format("%.1f M%s", x / 1e6, unit);
    }

    /** Graph names of the plan {@link #prepare} returns. */
    public static final String FORWARD = "fwd", FORWARD_BACKWARD = "fwdbwd";

    /**
     * A plan with the graphs {@link #FORWARD} and {@link #FORWARD_BACKWARD} over random inputs and a
     * random valid selection at the bench shape; inputs upload on the first execution. For JMH.
     */
    public static ExecutionPlan prepare(Device device, int batch, int length) {
        Problem p = Problem.random(batch, length, 1234 + length);
        return new ExecutionPlan(p.forwardGraph(), p.trainingGraph()).withDevice(device);
    }

    /** Device memory, in bytes, that forward plus backward hold at one length (runs it once). */
    public static long deviceBytes(Device device, int batch, int length) {
        Problem p = Problem.random(batch, length, 1);
        try (ExecutionPlan plan = new ExecutionPlan(p.trainingGraph()).withDevice(device)) {
            plan.execute();
            return plan.deviceBytes();
        }
    }

    /** {@code HsaAttentionBench [device] [batch] [L,L,...]}: prints the rows. */
    public static void main(String[] args) {
        Device device = Devices.select(args.length > 0 ? args[0] : null);
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int[] lengths = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {4096};
        for (Row r : run(device, batch, lengths, System.out)) System.out.printf("%-12s L=%-7d %10.3f ms%n", r.what(), r.length(), r.medianMs());
    }

    /** Random inputs, outputs and the inverted index (of {@code pairs} valid (token, slot) pairs) for one (batch, length). */
    private record Problem(int B, int L, int pairs, Tensor q, Tensor k, Tensor v, Tensor kb, Tensor vt, Tensor idx, Tensor w, Tensor dout,
                           Tensor chunkStart, Tensor entries, Tensor o, Tensor lse, Tensor dq, Tensor dw, Tensor delta, Tensor dk, Tensor dv) {

        static Problem random(int B, int L, long seed) {
            SplittableRandom r = new SplittableRandom(seed);
            int C = L / S, lkv = C * S;
            int[] idx = new int[B * L * H * K];
            float[] w = new float[B * L * H * K];
            int[] pool = new int[Math.max(1, C)];
            for (int bt = 0; bt < B * L; bt++) {
                int t = bt % L, eligible = t / S, nv = Math.min(K, eligible);
                for (int i = 0; i < eligible; i++) pool[i] = i;
                for (int i = 0; i < nv; i++) {           // partial Fisher-Yates: nv distinct chunks
                    int j = i + r.nextInt(eligible - i), tmp = pool[i];
                    pool[i] = pool[j];
                    pool[j] = tmp;
                }
                Arrays.sort(pool, 0, nv);
                for (int s = 0; s < nv; s++) {           // most recent first
                    idx[bt * K + s] = pool[nv - 1 - s];
                    w[bt * K + s] = (float) (0.05 + 0.9 * r.nextDouble() / K);
                }
            }
            int[][] csr = invertSelection(idx, B, L);
            int pairs = csr[0][csr[0].length - 1];      // the index's end: every valid pair once
            return new Problem(B, L, pairs, normal("q", B * L * HQ * D, r), normal("k", B * lkv * H * D, r), normal("v", B * lkv * H * D, r),
                    Tensor.bf16("kb", B * lkv * H * D), Tensor.bf16("vt", B * lkv * H * D),
                    Tensor.of("indices", idx), Tensor.of("weights", w), normal("dout", B * L * HQ * D, r),
                    Tensor.of("chunkStart", csr[0]), Tensor.of("entries", csr[1]),
                    Tensor.f32("o", B * L * HQ * D), Tensor.f32("lse", B * L * HQ * K), Tensor.f32("dq", B * L * HQ * D),
                    Tensor.f32("dweights", B * L * H * K), Tensor.f32("delta", B * L * HQ * K),
                    Tensor.f32("dk", B * lkv * H * D), Tensor.f32("dv", B * lkv * H * D));
        }

        private TaskGraph withForward(TaskGraph g) {
            return g.transferToDevice(DataTransferMode.FIRST_EXECUTION, q, k, v, idx, w)
                    .task("fwd", HsaAttention.forward(D, S, HQ / H), q, k, v, idx, w, o, lse, B, L, HQ, H, K, 0, scale());
        }

        org.hsajava.compute.ImmutableTaskGraph forwardGraph() { return withForward(new TaskGraph("fwd")).snapshot(); }

        org.hsajava.compute.ImmutableTaskGraph trainingGraph() {
            return withForward(new TaskGraph("fwdbwd"))
                    .transferToDevice(DataTransferMode.FIRST_EXECUTION, dout, chunkStart, entries)
                    .task("bwdq", HsaAttention.backwardQ(D, S, HQ / H), q, k, v, idx, w, dout, lse, dq, dw, delta, B, L, HQ, H, K, scale())
                    .task("bwdkv", HsaAttention.backwardKv(D, S, HQ / H), q, k, v, w, dout, lse, delta, chunkStart, entries, dk, dv, B, L, HQ, H, K, scale())
                    .snapshot();
        }

        /** k, v packed to bf16 (graph "packbf16"); the bf16 forward on the packed copies ("fwdbf16"). */
        org.hsajava.compute.ImmutableTaskGraph packGraph() {
            return new TaskGraph("packbf16").transferToDevice(DataTransferMode.FIRST_EXECUTION, k, v)
                    .task("pack", HsaAttentionBf16.packKv(D, S), k, v, kb, vt, B, L / S * S, H).snapshot();
        }

        org.hsajava.compute.ImmutableTaskGraph forwardBf16Graph() {
            return new TaskGraph("fwdbf16").transferToDevice(DataTransferMode.FIRST_EXECUTION, q, idx, w)
                    .task("fwd", HsaAttentionBf16.forward(D, S, HQ / H), q, kb, vt, idx, w, o, lse, B, L, HQ, H, K, 0, scale()).snapshot();
        }

        static float scale() { return (float) (1 / Math.sqrt(D)); }

        private static Tensor normal(String name, int n, SplittableRandom r) {
            float[] a = new float[n];
            for (int i = 0; i < n; i++) a[i] = (float) (r.nextGaussian());
            return Tensor.of(name, a);
        }
    }

    /**
     * The inverted selection index in branch hsasel's CSR format, by counting sort (linear in
     * B*L*K): for each (b, h), chunk c lists the valid (t, slot) pairs as t*K + slot, ascending.
     */
    static int[][] invertSelection(int[] idx, int B, int L) {
        int C = L / S;
        int[] start = new int[B * H * (C + 1)];
        int[] entries = new int[B * H * L * K];
        int[] fill = new int[Math.max(1, C)];
        int base = 0;
        for (int bh = 0; bh < B * H; bh++) {
            int b = bh / H, h = bh % H;
            Arrays.fill(fill, 0);
            for (int t = 0; t < L; t++) for (int s = 0; s < Math.min(K, t / S); s++) fill[idx[((b * L + t) * H + h) * K + s]]++;
            for (int c = 0; c < C; c++) {
                start[bh * (C + 1) + c] = base;
                base += fill[c];
                fill[c] = start[bh * (C + 1) + c];       // now the next free position of chunk c
            }
            start[bh * (C + 1) + C] = base;
            for (int t = 0; t < L; t++) {
                for (int s = 0; s < Math.min(K, t / S); s++) entries[fill[idx[((b * L + t) * H + h) * K + s]]++] = t * K + s;
            }
        }
        return new int[][] {start, entries};
    }
}
