package org.hsajava.train.optim;

import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.AdamW;
import org.hsajava.kernels.Reduce;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.config.TrainConfig;

/**
 * AdamW over the flat parameter and gradient buffers of {@link ModelParameters}, with its moments
 * {@code m} and {@code v} as two more flat device tensors of the same layout.
 *
 * <p><b>Weight-decay mask.</b> Decay applies only where {@link ParameterSpec#weightDecay()} is true
 * (weight matrices, embeddings); norms, biases and the CLS vector get none. Rather than a
 * per-element mask (one more buffer the size of the model, read every step), the buffer is cut
 * into maximal contiguous runs of tensors with the same decay flag, and each run gets one
 * {@link AdamW#STEP} launch with {@code wd} = the configured decay or 0. The alignment padding
 * after a tensor belongs to its run (padding holds zeros with zero gradients, so it stays zero
 * either way). A transformer layer alternates matrices and norms, so a model gets a few launches per
 * layer; every run starts at a tensor's 1 KiB-aligned offset, so OpenCL can bind its views.
 *
 * <p><b>Per step</b> the trainer: runs {@link #gradNormGraph()} (sum of squares over the gradient
 * buffer, {@link Reduce}, downloaded), sets {@link #gradScale()} from {@link GradientClipping},
 * {@link #lr()} from the schedule and {@link #step()} to the update count (from 1), then runs
 * {@link #stepGraph()}. The betas, eps and weight decay are fixed when the graph is built.
 */
public final class AdamWOptimizer {
    /** Graph names, unique within the trainer's execution plan. */
    public static final String STEP_GRAPH = "adamw", NORM_GRAPH = "grad_norm";

    private final ModelParameters params;
    private final Tensor m, v, normPartials, normSquared;
    private final Scalar lr = Scalar.of("lr", 0), gradScale = Scalar.of("gradScale", 1), step = Scalar.of("step", 1);
    private final List<Run> runs;
    private final ImmutableTaskGraph stepGraph, normGraph;

    /** One launch: elements {@code [from, to)} of every flat buffer, with or without decay. */
    public record Run(int from, int to, boolean decay) {
        public int size() { return to - from; }
    }

    public AdamWOptimizer(ModelParameters params, TrainConfig train) {
        this(params, train.beta1(), train.beta2(), train.adamEps(), train.weightDecay());
    }

    public AdamWOptimizer(ModelParameters params, double beta1, double beta2, double eps, double weightDecay) {
        this.params = params;
        int n = params.all().size();
        this.m = Tensor.f32("adam_m", n);
        this.v = Tensor.f32("adam_v", n);
        this.normPartials = Tensor.f32("grad_norm_partials", Reduce.DEFAULT_PARTS);
        this.normSquared = Tensor.f32("grad_norm_squared", 1);
        this.runs = runs(params.layout());

        TaskGraph g = new TaskGraph(STEP_GRAPH);
        for (int i = 0; i < runs.size(); i++) {
            Run r = runs.get(i);
            g.task("run" + i, AdamW.STEP, view(params.all(), r), view(params.allGrads(), r), view(m, r), view(v, r), r.size(),
                    lr, (float) beta1, (float) beta2, (float) eps, r.decay() ? (float) weightDecay : 0f, gradScale, step);
        }
        this.stepGraph = g.snapshot();
        this.normGraph = Reduce.sumOfSquares(new TaskGraph(NORM_GRAPH), "sumSq", params.allGrads(), n, normPartials, Reduce.DEFAULT_PARTS, normSquared)
                .transferToHost(DataTransferMode.EVERY_EXECUTION, normSquared)
                .snapshot();
    }

    /** Maximal runs of consecutive tensors with the same decay flag, covering the whole buffer. */
    public static List<Run> runs(ParameterLayout layout) {
        List<ParameterSpec> specs = new ArrayList<>(layout.specs());
        specs.sort(Comparator.comparingLong(ParameterSpec::offset));
        int total = Math.toIntExact(layout.totalSize());
        List<Run> out = new ArrayList<>();
        int start = 0;
        boolean decay = !specs.isEmpty() && specs.get(0).weightDecay();
        for (ParameterSpec s : specs) {
            if (s.weightDecay() != decay) {
                int at = Math.toIntExact(s.offset());
                if (at > start) out.add(new Run(start, at, decay));
                start = at;
                decay = s.weightDecay();
            }
        }
        if (total > start) out.add(new Run(start, total, decay));
        return Collections.unmodifiableList(out);
    }

    private static Tensor view(Tensor flat, Run r) {
        return flat.view(flat.name() + "[" + r.from() + ":" + r.to() + "]", r.from(), r.size());
    }

    public List<Run> runs() { return runs; }

    /** AdamW's first moments (exp_avg), flat, the parameters' layout; lives on the device. */
    public Tensor m() { return m; }

    /** AdamW's second moments (exp_avg_sq). */
    public Tensor v() { return v; }

    public Scalar lr() { return lr; }

    public Scalar gradScale() { return gradScale; }

    /** The update count t (from 1) used by the bias corrections. */
    public Scalar step() { return step; }

    /** All AdamW launches of one update. */
    public ImmutableTaskGraph stepGraph() { return stepGraph; }

    /** Sum of squares of the whole gradient buffer into {@link #gradNormSquared()} (downloaded). */
    public ImmutableTaskGraph gradNormGraph() { return normGraph; }

    /** Host copy of the last {@link #gradNormGraph()} result. */
    public Tensor gradNormSquared() { return normSquared; }

    /** The L2 norm from the last {@link #gradNormGraph()} run. */
    public double gradNorm() { return Math.sqrt(normSquared.f32()[0]); }
}
