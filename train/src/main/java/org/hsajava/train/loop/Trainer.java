package org.hsajava.train.loop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.TrainableModel;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.Checkpoint;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.optim.AdamWOptimizer;
import org.hsajava.train.optim.GradientClipping;
import org.hsajava.train.optim.LrSchedule;

/**
 * The training loop. One {@link ExecutionPlan} holds the model's train and eval graphs, a
 * zero-gradients graph and the optimizer's two graphs; parameters go to the device once and are
 * updated there. One optimizer step:
 * <ol>
 *   <li>draw {@code grad_accumulation} micro-batches from the {@link BatchSource} and count their
 *       valid targets; {@code lossScale = 1 / valid} (the mean over every target of the step);</li>
 *   <li>zero the gradients; per micro-batch write ids and targets, run the train graph (forward,
 *       per-row losses downloaded, backward adding into the gradients), sum the row losses;</li>
 *   <li>sum of squares of the gradient buffer → host → norm; a non-finite loss or norm stops the
 *       run here, before the update ({@link TrainingDivergedException}), so the device parameters
 *       and every checkpoint on disk stay as they were;</li>
 *   <li>clipping factor and learning rate into the AdamW scalars, one AdamW graph;</li>
 *   <li>log (progress bar, {@code metrics.jsonl}) and, every {@code checkpoint_interval} steps and at
 *       the last step, a checkpoint (parameters, AdamW moments, data position, step).</li>
 * </ol>
 * Nothing inside a step depends on wall time or thread timing, so the same device, seed and data give
 * the same loss curve, and {@link #resume} continues a run bit for bit: the state after step N is
 * exactly parameters, moments, step and the data source's position. Only where a run stops may depend
 * on the clock ({@link #withTimeLimit}): it then stops at a step boundary as if that step were its
 * last (validation and checkpoint included), so it resumes like any other run.
 */
public final class Trainer implements AutoCloseable {
    public static final String METRICS_FILE = "metrics.jsonl", CHECKPOINTS = "checkpoints";
    private static final String ZERO_GRAPH = "zero_grads";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final TrainableModel model;
    private final TrainConfig train;
    private final BatchSource data;
    private final Path runDir;
    private final ModelParameters params;
    private final AdamWOptimizer optimizer;
    private final LrSchedule schedule;
    private final ExecutionPlan plan;
    private final CheckpointStore store;
    private final int[][] microInputs, microTargets;
    private PrintStream console;
    private boolean terminal;
    private StepListener listener = (t, m) -> {};
    private BatchSource validation;
    private com.fasterxml.jackson.databind.JsonNode validationStart;
    private int validationBatches;
    private long step;
    private long startStep;
    private long lastSavedStep = -1;
    private long startNanos;
    private long tokensThisRun;
    private Duration timeLimit;
    private LongSupplier clock = System::nanoTime;
    private boolean stoppedByTimeLimit;
    private double lossTarget = Double.NaN;
    private int lossWindow;
    private boolean reachedLossTarget;

    /** Called after every completed step (after its checkpoint, if any). */
    @FunctionalInterface
    public interface StepListener {
        void afterStep(Trainer trainer, StepMetrics metrics);
    }

    /**
     * A trainer for {@code model} (already built for {@code train.batch_size × train.seq_len}) with
     * freshly initialised parameters in its host buffer. {@code runDir} receives
     * {@code metrics.jsonl} and {@code checkpoints/}; null keeps everything in memory.
     */
    public Trainer(TrainableModel model, TrainConfig train, BatchSource data, Path runDir) {
        if (model.batch() != train.batchSize() || model.length() != train.seqLen()) {
            throw new IllegalArgumentException("model is built for " + model.batch() + " x " + model.length()
                    + " but train.batch_size x train.seq_len is " + train.batchSize() + " x " + train.seqLen());
        }
        this.model = model;
        this.train = train;
        this.data = data;
        this.runDir = runDir;
        this.params = model.parameters();
        this.optimizer = new AdamWOptimizer(params, train);
        this.schedule = LrSchedule.of(train);
        int n = params.allGrads().size();
        ImmutableTaskGraph zero = new TaskGraph(ZERO_GRAPH).task("fill", Fill.FILL, params.allGrads(), n, 0f).snapshot();
        this.plan = new ExecutionPlan(zero, model.trainStep(), model.evalStep(), optimizer.gradNormGraph(), optimizer.stepGraph())
                .withDevice(model.device());
        plan.transferToDevice(params.all(), optimizer.m(), optimizer.v()); // the moments start at 0; uploaded so that state() works before the first step
        this.store = runDir == null ? null : new CheckpointStore(runDir.resolve(CHECKPOINTS), train.keepCheckpoints());
        int rows = model.batch() * model.length();
        microInputs = new int[train.gradAccumulation()][rows];
        microTargets = new int[train.gradAccumulation()][rows];
    }

    /** Progress output; {@code terminal} redraws one line, otherwise a plain line now and then. Null: silent. */
    public Trainer withConsole(PrintStream console, boolean terminal) {
        this.console = console;
        this.terminal = terminal;
        return this;
    }

    public Trainer withListener(StepListener listener) {
        this.listener = listener;
        return this;
    }

    /**
     * Validation every {@code eval_interval} steps and at the last step: the mean loss over
     * {@code batches} batches of {@code source}, the same rows every time (the source is rewound to
     * where it stands now), logged as {@code val_loss}. Training is not affected: the eval graph
     * touches neither gradients nor parameters, and the source is separate from the training data.
     */
    public Trainer withValidation(BatchSource source, int batches) {
        if (batches < 1) throw new IllegalArgumentException("validation needs at least one batch, got " + batches);
        this.validation = source;
        this.validationStart = source.position();
        this.validationBatches = batches;
        return this;
    }

    /**
     * Each {@link #runUntil} call stops once {@code limit} has passed since it started: at the end of
     * the step during which the time ran out, with that step's validation and checkpoint as for a last
     * step (so at least one step is taken). Null: no limit. The schedule still spans
     * {@code train.steps}, so a stopped run can be resumed and finished.
     */
    public Trainer withTimeLimit(Duration limit) {
        if (limit != null && limit.isNegative()) throw new IllegalArgumentException("time limit must be >= 0, got " + limit);
        this.timeLimit = limit;
        return this;
    }

    /**
     * Each {@link #runUntil} call also stops once the mean training loss of its last {@code window}
     * steps is below {@code target}: at that step, with its validation and checkpoint as for a last
     * step. A curriculum stage runs "until it has learned" this way (the answer loss of
     * configs/tiny-passkey-stage1.json, docs/experiments.md). NaN: no target.
     */
    public Trainer withLossTarget(double target, int window) {
        if (!Double.isNaN(target) && !(target > 0)) throw new IllegalArgumentException("loss target must be > 0, got " + target);
        if (window < 1) throw new IllegalArgumentException("loss window must be >= 1, got " + window);
        this.lossTarget = target;
        this.lossWindow = window;
        return this;
    }

    /** Whether the last {@link #runUntil} reached the loss target: it stopped there, or met it at its last step. */
    public boolean reachedLossTarget() { return reachedLossTarget; }

    /** The clock (nanoseconds) behind the time limit and the logged elapsed time; tests replace it. */
    Trainer withClock(LongSupplier nanoClock) {
        this.clock = nanoClock;
        return this;
    }

    /** Whether the last {@link #runUntil} stopped because of the time limit, before its last step. */
    public boolean stoppedByTimeLimit() { return stoppedByTimeLimit; }

    /** The validation loss now (see {@link #withValidation}). */
    public double validate() {
        if (validation == null) throw new IllegalStateException("no validation source (withValidation)");
        validation.restore(validationStart);
        int rows = model.batch() * model.length();
        int[] in = new int[rows], tg = new int[rows];
        double sum = 0;
        long valid = 0;
        for (int i = 0; i < validationBatches; i++) {
            valid += validation.next(in, tg, model.batch(), model.length());
            model.inputIds().set(in);
            model.targets().set(tg);
            model.prepareInputs();
            plan.execute(model.evalStep().name());
            for (float x : model.rowLosses().toF32Array()) sum += x;
        }
        return valid == 0 ? Double.NaN : sum / valid;
    }

    /**
     * Continues from a checkpoint: parameters and AdamW moments uploaded, step and data position
     * restored. The model config must be the checkpoint's; train settings that change the data or the
     * update (batch, length, accumulation, seed, mix) must be too, or the run is not the same run.
     */
    public Trainer resume(CheckpointState s) {
        if (!s.hasOptimizerState()) throw new IllegalArgumentException(notResumable("the checkpoint"));
        ModelConfig mine = params.layout().config();
        if (!s.model().equals(mine)) throw new IllegalArgumentException("checkpoint was written for a different model config than this run's");
        TrainConfig t = s.train();
        if (t.batchSize() != train.batchSize() || t.seqLen() != train.seqLen() || t.gradAccumulation() != train.gradAccumulation()
                || t.seed() != train.seed() || !t.taskMix().equals(train.taskMix()) || t.lossOn() != train.lossOn() || !t.corpus().equals(train.corpus())) {
            throw new IllegalArgumentException("checkpoint's train settings (batch_size, seq_len, grad_accumulation, seed, corpus, task_mix, loss_on) differ from this run's; an exact resume needs the same");
        }
        System.arraycopy(s.parameters(), 0, params.all().f32(), 0, s.parameters().length);
        System.arraycopy(s.adamM(), 0, optimizer.m().f32(), 0, s.adamM().length);
        System.arraycopy(s.adamV(), 0, optimizer.v().f32(), 0, s.adamV().length);
        plan.transferToDevice(params.all(), optimizer.m(), optimizer.v());
        // An empty position is a checkpoint that has drawn no rows yet (./hsa import writes one at step 0):
        // this fresh source is already at the start.
        if (s.dataPosition() != null && !s.dataPosition().isEmpty()) data.restore(s.dataPosition());
        step = s.step();
        lastSavedStep = step;
        dropMetricsAfter(step);
        return this;
    }

    /**
     * A run that stopped after its last checkpoint logged steps that the resumed run repeats; their
     * lines go, so {@code metrics.jsonl} stays one line per step.
     */
    private void dropMetricsAfter(long last) {
        if (runDir == null) return;
        Path f = runDir.resolve(METRICS_FILE);
        if (!Files.exists(f)) return;
        try {
            java.util.List<String> keep = new java.util.ArrayList<>();
            for (String line : Files.readAllLines(f, StandardCharsets.UTF_8)) {
                if (line.isBlank()) continue;
                JsonNode o = JSON.readTree(line);
                if (o.path("step").asLong(Long.MAX_VALUE) <= last) keep.add(line);
            }
            Files.write(f, keep, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot rewrite " + f + ": " + e.getMessage(), e);
        }
    }

    /** Resumes from the newest checkpoint of this run folder, if there is one; returns whether it did. */
    public boolean resumeLatest() throws IOException {
        if (store == null) return false;
        Optional<Path> dir = store.latest();
        if (dir.isEmpty()) return false;
        CheckpointState s = Checkpoint.read(dir.get());
        if (!s.hasOptimizerState()) throw new IllegalArgumentException(notResumable("checkpoint " + dir.get()));
        resume(s);
        return true;
    }

    /**
     * Why {@code checkpoint} (weights-only: {@code ./hsa export --format weights}) cannot be resumed, and
     * what to do instead: without AdamW's moments the continued run would differ from the one saved.
     */
    public static String notResumable(String checkpoint) {
        return checkpoint + " holds weights only (no optimizer state), so it cannot be resumed:"
                + " evaluate it, or start a new run from it with --init-from";
    }

    /** Optimizer steps taken so far. */
    public long completedSteps() { return step; }

    /** Trains until {@code train.steps}. */
    public void run() throws IOException { runUntil(train.steps()); }

    /**
     * Trains until {@code lastStep} steps are done (the schedule still spans {@code train.steps}), or
     * until the time limit ({@link #withTimeLimit}) runs out.
     */
    public void runUntil(long lastStep) throws IOException {
        startStep = step + 1;
        startNanos = clock.getAsLong();
        tokensThisRun = 0;
        stoppedByTimeLimit = false;
        reachedLossTarget = false;
        double[] recent = Double.isNaN(lossTarget) ? null : new double[lossWindow];
        long limitNanos = timeLimit == null ? Long.MAX_VALUE : saturatedNanos(timeLimit);
        ProgressBar bar = console == null ? null
                : new ProgressBar(console, terminal, lastStep, timeLimit == null ? Double.POSITIVE_INFINITY : limitNanos / 1e9);
        try {
            while (step < lastStep) {
                StepMetrics m = trainStep();
                boolean timeUp = timeLimit != null && step < lastStep && clock.getAsLong() - startNanos >= limitNanos;  // a difference: nanoTime may wrap
                boolean learned = recent != null && belowTarget(recent, step - startStep, m.loss());  // at the last step too: it tells whether the target was met
                boolean last = step == lastStep || timeUp || learned;
                if (validation != null && (step % train.evalInterval() == 0 || last)) m = m.withValLoss(validate());
                appendMetrics(m);
                Path saved = store != null && (step % train.checkpointInterval() == 0 || last) ? saveCheckpoint() : null;
                if (bar != null) {
                    bar.update(m, startStep);
                    if (saved != null) {
                        bar.finish(); // keeps the redrawn line of this step above the note
                        console.println("checkpoint " + saved);
                    }
                }
                listener.afterStep(this, m);
                if (timeUp || learned) {
                    stoppedByTimeLimit = timeUp;
                    reachedLossTarget = learned;
                    break;
                }
            }
        } finally {
            if (bar != null) bar.finish();
        }
    }

    /** Records the loss of this run's step {@code i} (0-based) in the ring {@code recent}; true once a full window's mean is below the target. */
    private boolean belowTarget(double[] recent, long i, double loss) {
        recent[(int) (i % recent.length)] = loss;
        if (i + 1 < recent.length) return false;
        double sum = 0;
        for (double x : recent) sum += x;
        return sum / recent.length < lossTarget;
    }

    private static long saturatedNanos(Duration d) {
        try {
            return d.toNanos();
        } catch (ArithmeticException e) {
            return Long.MAX_VALUE;
        }
    }

    /** One optimizer step (without logging or checkpoints). */
    public StepMetrics trainStep() {
        long t = step + 1;
        double loss = accumulateGradients();
        plan.execute(AdamWOptimizer.NORM_GRAPH);
        double norm = optimizer.gradNorm();
        if (!Double.isFinite(loss) || !Double.isFinite(norm)) {
            String what = !Double.isFinite(loss) ? "loss is " + loss : "gradient norm is " + norm + " (loss " + loss + ")";
            throw new TrainingDivergedException(t, "step " + t + ": " + what + "; stopped before the update"
                    + (lastSavedStep >= 0 && store != null ? "; the last good checkpoint (step " + lastSavedStep + ") is intact in " + store.root() : ""));
        }
        double lr = schedule.lr(t);
        optimizer.lr().set(lr);
        optimizer.step().set(t);
        optimizer.gradScale().set(GradientClipping.factor(norm, train.gradClip()));
        plan.execute(AdamWOptimizer.STEP_GRAPH);
        step = t;
        long tokens = (long) train.gradAccumulation() * model.batch() * model.length();
        tokensThisRun += tokens;
        double elapsed = (clock.getAsLong() - startNanos) / 1e9;
        return new StepMetrics(t, loss, lr, norm, tokens, elapsed > 0 ? tokensThisRun / elapsed : 0, elapsed, Double.NaN);
    }

    /**
     * Zeroes the gradients and runs every micro-batch of one step; returns the mean loss over the
     * step's valid targets. The gradients then hold the gradient of that mean.
     */
    double accumulateGradients() {
        int accum = train.gradAccumulation(), b = model.batch(), l = model.length();
        long valid = 0;
        for (int i = 0; i < accum; i++) valid += data.next(microInputs[i], microTargets[i], b, l);
        if (valid == 0) throw new IllegalStateException("step " + (step + 1) + ": the micro-batches hold no target to learn from (loss_on = " + train.lossOn().jsonName() + ")");
        model.lossScale().set(1.0 / valid);
        plan.execute(ZERO_GRAPH);
        double sum = 0;
        for (int i = 0; i < accum; i++) {
            model.inputIds().set(microInputs[i]);
            model.targets().set(microTargets[i]);
            model.prepareInputs();
            plan.execute(model.trainStep().name());
            float[] losses = model.rowLosses().toF32Array();
            for (float x : losses) sum += x;
        }
        return sum / valid;
    }

    /** Saves step, parameters, AdamW moments and data position through the run's {@link CheckpointStore}. */
    public Path saveCheckpoint() throws IOException {
        if (store == null) throw new IllegalStateException("this trainer has no run folder to save checkpoints in");
        Path p = store.save(state());
        lastSavedStep = step;
        return p;
    }

    /** Everything a checkpoint holds, downloaded from the device now. */
    public CheckpointState state() {
        JsonNode position = data.position();
        JsonNode rng = position.get("rng");
        long[] rngState = rng != null && rng.canConvertToLong() ? new long[] {rng.longValue()} : new long[0];
        return new CheckpointState(params.layout().config(), train, step, rngState, position,
                parameters(), download(optimizer.m()), download(optimizer.v()));
    }

    /** The device parameters (a copy). */
    public float[] parameters() { return download(params.all()); }

    /** The device gradient buffer of the last step (a copy). */
    public float[] gradients() { return download(params.allGrads()); }

    /** The flat parameter tensor (its host copy is stale between downloads), for tests. */
    org.hsajava.compute.Tensor parametersTensor() { return params.all(); }

    /** Device memory the plan holds: parameters, gradients, optimizer state and the model's activations and scratch. */
    public long deviceBytes() { return plan.deviceBytes(); }

    /** The plan, for tests that need to reach device buffers directly. */
    ExecutionPlan plan() { return plan; }

    AdamWOptimizer optimizer() { return optimizer; }

    private float[] download(Tensor t) {
        plan.transferToHost(t);
        return t.toF32Array();
    }

    private void appendMetrics(StepMetrics m) throws IOException {
        if (runDir == null) return;
        Files.createDirectories(runDir);
        ObjectNode o = JSON.createObjectNode();
        o.put("step", m.step());
        o.put("loss", m.loss());
        o.put("lr", m.lr());
        o.put("grad_norm", m.gradNorm());
        o.put("tokens_per_s", m.tokensPerS());
        o.put("elapsed", m.elapsed());
        if (m.evaluated()) o.put("val_loss", m.valLoss());
        try (BufferedWriter w = Files.newBufferedWriter(runDir.resolve(METRICS_FILE), StandardCharsets.UTF_8,
                StandardOpenOption.CREATE, StandardOpenOption.APPEND)) {
            w.write(JSON.writeValueAsString(o));
            w.write('\n');
        }
    }

    /** Frees the device memory of the plan (the model's activations included) and closes the data sources. */
    @Override
    public void close() {
        plan.close();
        try {
            if (validation != null) validation.close();
            data.close();
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new UncheckedIOException(new IOException(e));
        }
    }
}
