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
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.HsaCsr;
import org.hsajava.kernels.HsaSelection;
import org.hsajava.kernels.HsaSelection.WeightMode;

/**
 * Times HSA chunk selection at the papers' benchmark shapes (DESIGN.md section 4: H=1, dr=d=64,
 * S=64, K=8; the batch is an argument), with the data resident on the device:
 * <ul>
 *   <li>{@code selection}: scores + streaming top-K + stick-breaking weights (the forward);</li>
 *   <li>{@code selection-backward}: weights backward, dq_r, the CSR inverted index and dlandmarks.</li>
 * </ul>
 */
public final class HsaSelectionBench {
    private HsaSelectionBench() {}

    public record Row(String what, int length, double medianMs, long deviceBytes) {}

    static final int H = 1, DR = 64, S = 64, K = 8;

    public static List<Row> run(Device device, int batch, int[] lengths, PrintStream progress) {
        List<Row> rows = new ArrayList<>();
        for (int L : lengths) {
            try (ExecutionPlan plan = prepare(device, batch, L)) {
                plan.execute();  // uploads, compiles, fills the selection the backward reads
                BenchTimer.Stats f = BenchTimer.time(() -> plan.execute(FORWARD), 2, 5, 1.0);
                rows.add(new Row("selection", L, f.medianMs(), plan.deviceBytes()));
                if (progress != null) progress.printf("selection           L=%-8d B=%d  %s%n", L, batch, f);
                BenchTimer.Stats b = BenchTimer.time(() -> plan.execute(BACKWARD), 2, 5, 1.0);
                rows.add(new Row("selection-backward", L, b.medianMs(), plan.deviceBytes()));
                if (progress != null) {
                    progress.printf("selection-backward  L=%-8d B=%d  %s%n", L, batch, b);
                    progress.print(plan.withProfiling(true).execute().table());  // where the time goes, per kernel
                    plan.withProfiling(false);
                }
            }
        }
        return rows;
    }

    /** Graph names of the plan {@link #prepare} returns. */
    public static final String FORWARD = "selection", BACKWARD = "selectionBackward";

    /**
     * A plan with the graphs {@link #FORWARD} (scores, top-K, stick-breaking weights) and
     * {@link #BACKWARD} (weights backward, dq_r, the inverted index, dlandmarks) over random
     * inputs; execute FORWARD once before BACKWARD. Shared by the bench command and JMH.
     */
    public static ExecutionPlan prepare(Device device, int batch, int L) {
        WeightMode mode = WeightMode.STICK;
        int C = L / S, n = batch * L * H * K;
        SplittableRandom rng = new SplittableRandom(L);
        Tensor q = Tensor.of("q_r", normal(rng, batch * L * H * DR)), lm = Tensor.of("landmarks", normal(rng, batch * C * H * DR));
        Tensor dw = Tensor.of("dweights", normal(rng, n));
        Tensor idx = Tensor.i32("indices", n), sc = Tensor.f32("scores", n), w = Tensor.f32("weights", n), ds = Tensor.f32("dscores", n);
        Tensor dq = Tensor.f32("dq_r", batch * L * H * DR), dl = Tensor.f32("dlandmarks", batch * C * H * DR);
        Tensor starts = Tensor.i32("chunkStart", batch * H * (C + 1)), entries = Tensor.i32("entries", n);
        TaskGraph fwd = new TaskGraph(FORWARD)
                .transferToDevice(DataTransferMode.FIRST_EXECUTION, q, lm, dw)
                .task("topk", HsaSelection.topK(DR, K), q, lm, idx, sc, batch, L, H, C, S, 0)
                .task("weights", HsaSelection.weights(mode, K), sc, w, batch, L, H, C, S, 0);
        TaskGraph bwd = new TaskGraph(BACKWARD)
                .task("dscores", HsaSelection.weightsBackward(mode, K), sc, w, dw, ds, batch, L, H, C, S, 0)
                .task("dq", HsaSelection.queryBackward(DR, K), ds, idx, lm, dq, batch, L, H, C, S, 0);
        HsaCsr.addBuildTasks(bwd, "csr", idx, starts, entries, batch, L, H, C, S, 0, K);
        bwd.task("dlandmarks", HsaSelection.landmarkBackward(DR, K), ds, q, starts, entries, dl, batch, L, H, C);
        return new ExecutionPlan(fwd.snapshot(), bwd.snapshot()).withDevice(device);
    }

    private static float[] normal(SplittableRandom rng, int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (Math.sqrt(-2 * Math.log(1 - rng.nextDouble())) * Math.cos(2 * Math.PI * rng.nextDouble()));
        return a;
    }

    /** {@code HsaSelectionBench [device] [batch] [L1,L2,...]}, e.g. {@code opencl 1 4096}. */
    public static void main(String[] args) {
        Device d = Devices.select(args.length > 0 ? args[0] : null);
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        int[] lengths = args.length > 2 ? Arrays.stream(args[2].split(",")).mapToInt(Integer::parseInt).toArray() : new int[] {4096};
        System.out.println("HSA selection on " + d + " (H=" + H + " dr=" + DR + " S=" + S + " K=" + K + ")");
        run(d, batch, lengths, System.out);
    }
}
