package org.hsajava.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.Checkpoints;
import org.hsajava.kernels.Gemm;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.TrainableModel;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.CurriculumStage;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.Checkpoint;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.data.Split;
import org.hsajava.train.loop.BatchSource;
import org.hsajava.train.loop.MixedBatchSource;
import org.hsajava.train.loop.ProgressBar;
import org.hsajava.train.loop.RecordingBatchSource;
import org.hsajava.train.loop.Trainer;
import org.hsajava.train.text.Tokenizer;
import org.hsajava.train.text.Tokenizers;
import org.hsajava.train.toy.BigramModel;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa train}: trains the model of a config file on a device, with a progress bar,
 * {@code metrics.jsonl} and checkpoints in the run folder, and exact resume. It
 * runs the SWA+HSA model ({@link DrtModel}) or the config's baseline; {@code --toy-bigram} runs the
 * training loop with the toy bigram model instead, for smoke tests.
 */
@Command(name = "train", description = "Train a model from a config file (metrics.jsonl and checkpoints in the run folder).")
public final class TrainCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, paramLabel = "FILE", description = "model + train config (configs/*.json)")
    Path config;

    @Mixin
    DeviceOption device;

    @Mixin
    ProfileOption profile;

    @Option(names = "--out", paramLabel = "DIR", description = "run folder (default: runs/<config name>, or the --resume folder)")
    Path out;

    @Option(names = "--steps", paramLabel = "N", description = "override train.steps (the schedule is stretched or shrunk to N)")
    Long steps;

    @Option(names = "--resume", paramLabel = "DIR", description = "continue the run in DIR from its latest checkpoint")
    Path resume;

    @Option(names = "--val-batches", paramLabel = "N", defaultValue = "4",
            description = "batches of held-out rows for val_loss every train.eval_interval steps (0 = no validation; default ${DEFAULT-VALUE})")
    int valBatches;

    @Option(names = "--toy-bigram", description = "train the toy bigram model (embedding -> LM head) instead of the config's model: a smoke run of the training loop")
    boolean toyBigram;

    @Option(names = "--until-loss", paramLabel = "X",
            description = "stop once the mean training loss of the last --loss-window steps is below X, with a checkpoint (a curriculum stage that must have learned; the schedule still spans the steps)")
    Double untilLoss;

    @Option(names = "--loss-window", paramLabel = "N", defaultValue = "50", description = "steps averaged for --until-loss (default ${DEFAULT-VALUE})")
    int lossWindow = 50;   // also when the command is built in code (./hsa demo), not parsed

    @Option(names = "--minutes", paramLabel = "M",
            description = "stop after M minutes at a step boundary, with a checkpoint (--resume continues the run; the schedule still spans the steps)")
    Double minutes;

    @Option(names = "--init-from", paramLabel = "DIR",
            description = "start from the weights of another run's latest checkpoint (or a checkpoint folder), with fresh "
                    + "optimizer state, step 0 and this config's data: a curriculum stage or fine-tuning. The model configs may "
                    + "differ only where the parameters do not (e.g. sliding_window, mask_slide_window, chunk_topk, enable_softmax)")
    Path initFrom;

    @Option(names = "--record-batches", paramLabel = "FILE",
            description = "write every micro-batch this run trains on (inputs, targets) to a safetensors file at the end: "
                    + "for replaying the same rows elsewhere (interop/parity/train_parity.py)")
    Path recordBatches;

    /**
     * What one training call did. {@code weights}: the folder whose latest checkpoint holds the newest
     * weights (the run folder, or a stage's folder when a curriculum stopped before its final stage).
     * Steps count every stage of a curriculum.
     */
    record Outcome(Path run, Path weights, long completedSteps, long plannedSteps, boolean stoppedByTimeLimit, long parameterCount) {}

    @Override
    public Integer call() throws IOException {
        ConfigFile file = ConfigFile.read(config);
        TrainConfig train = steps == null ? file.train() : withSteps(file.train(), steps);
        Path run = out != null ? out : resume != null ? resume : Path.of("runs", baseName(config));
        train(file, train, run, device.device(), System.out);
        ProfileOption.printIfEnabled(System.out);
        return 0;
    }

    /**
     * The body of {@code ./hsa train}, shared with {@code ./hsa demo}: trains {@code file}'s model with
     * the {@code train} settings (the file's, or changed by the caller) into the run folder {@code run}
     * on {@code d}, honouring this command's {@code --resume}, {@code --init-from}, {@code --until-loss},
     * {@code --val-batches}, {@code --minutes} and {@code --toy-bigram}; {@link #config} only names the
     * file in messages. A file with a curriculum trains its stages first, each in its own folder under
     * {@code run/curriculum/}, then its own training in {@code run} (see {@link #trainCurriculum}).
     */
    Outcome train(ConfigFile file, TrainConfig train, Path run, Device d, PrintStream o) throws IOException {
        if (minutes != null && !(minutes > 0 && minutes < 1e6)) throw new IllegalArgumentException("--minutes must be > 0, got " + minutes);
        if (untilLoss != null && !(untilLoss > 0)) throw new IllegalArgumentException("--until-loss must be > 0, got " + untilLoss);
        if (lossWindow < 1) throw new IllegalArgumentException("--loss-window must be >= 1, got " + lossWindow);
        if (valBatches < 0) throw new IllegalArgumentException("--val-batches must be >= 0, got " + valBatches);
        if (initFrom != null && (resume != null || toyBigram)) throw new IllegalArgumentException("--init-from cannot be combined with --resume or --toy-bigram");
        if (!toyBigram) file.warnings().forEach(w -> o.println("warning: " + w));
        Instant deadline = minutes == null ? null : Instant.now().plusMillis(Math.round(minutes * 60_000));
        if (file.curriculum().isEmpty() || toyBigram) {
            return trainStage(file.withoutCurriculum(), train, run, d, o, new Stage(resume, initFrom, untilLoss, "--until-loss", deadline, run));
        }
        return trainCurriculum(file, train, run, d, o, deadline);
    }

    /**
     * How one stage starts and stops: from a run to resume, or from another run's weights, or fresh;
     * {@code untilLossFrom} names where its loss target comes from, {@code root} the folder that
     * {@code --resume} takes (the curriculum's run folder for a stage).
     */
    private record Stage(Path resume, Path initFrom, Double untilLoss, String untilLossFrom, Instant deadline, Path root) {}

    /** A stage's folder under the run: {@code curriculum/<n>-<name>}, n counting from 1. */
    static Path stageFolder(Path run, int index, CurriculumStage s) {
        return run.resolve(CURRICULUM_DIR).resolve((index + 1) + "-" + s.name());
    }

    static final String CURRICULUM_DIR = "curriculum", STAGE_DONE_FILE = "stage-done.json";

    /**
     * Trains the curriculum's stages in order, each an ordinary run in {@link #stageFolder} that
     * starts from the previous stage's weights (the first from {@code --init-from}, or fresh) with fresh
     * optimizer state; a finished stage gets {@value #STAGE_DONE_FILE}. Then the file's own training in
     * {@code run}, from the last stage's weights. {@code --resume run} skips finished stages and resumes
     * the interrupted one from its latest checkpoint, so an interrupted curriculum continues exactly;
     * {@code --minutes} bounds the whole curriculum, {@code --steps} and {@code --until-loss} apply
     * to the final stage (a stage's own stop rule is its {@code until_loss}).
     */
    private Outcome trainCurriculum(ConfigFile file, TrainConfig train, Path run, Device d, PrintStream o, Instant deadline) throws IOException {
        if (resume != null && !resume.equals(run)) {
            throw new IllegalArgumentException("--resume " + resume + " with --out " + run + ": a curriculum run continues in its own folder; leave out --out");
        }
        if (resume == null && Files.isDirectory(run.resolve(CURRICULUM_DIR))) {
            throw new IllegalStateException("run folder " + run + " already holds a curriculum; pass --resume " + run + " to continue it, or choose another --out");
        }
        List<CurriculumStage> stages = file.curriculum();
        for (int i = 0; i < stages.size(); i++) checkData(stages.get(i).config().train(), "curriculum[" + i + "].");
        checkData(train, "");
        long done = 0, planned = train.steps();
        for (CurriculumStage s : stages) planned += s.config().train().steps();
        Path previous = initFrom;
        for (int i = 0; i < stages.size(); i++) {
            CurriculumStage s = stages.get(i);
            Path dir = stageFolder(run, i, s);
            if (Files.exists(dir.resolve(STAGE_DONE_FILE))) {
                long steps = JSON.readTree(dir.resolve(STAGE_DONE_FILE).toFile()).path("steps").asLong();
                o.printf(Locale.ROOT, "Stage %d/%d '%s' was finished before (%d steps, %s).%n", i + 1, stages.size() + 1, s.name(), steps, dir);
                done += steps;
                previous = dir;
                continue;
            }
            if (deadline != null && !Instant.now().isBefore(deadline)) return timeUpBefore(s.name(), file, run, previous, done, planned, o);
            o.printf(Locale.ROOT, "%n== Stage %d/%d '%s': %d steps of %d x %d tokens, sliding_window %d%s ==%n", i + 1, stages.size() + 1, s.name(),
                    s.config().train().steps(), s.config().train().batchSize(), s.config().train().seqLen(), s.config().model().slidingWindow(),
                    s.untilLoss() == null ? "" : ", until the loss is below " + s.untilLoss());
            boolean started = hasCheckpoint(dir);
            Outcome stage = trainStage(s.config(), s.config().train(), dir, d, o,
                    new Stage(started ? dir : null, started ? null : previous, s.untilLoss(), "until_loss", deadline, run));
            done += stage.completedSteps();
            if (stage.stoppedByTimeLimit()) return new Outcome(run, dir, done, planned, true, stage.parameterCount());
            Files.writeString(dir.resolve(STAGE_DONE_FILE), JSON.createObjectNode().put("steps", stage.completedSteps()).toPrettyString());
            previous = dir;
        }
        if (deadline != null && !Instant.now().isBefore(deadline)) return timeUpBefore("final", file, run, previous, done, planned, o);
        o.printf(Locale.ROOT, "%n== Stage %d/%d (this config's own training) ==%n", stages.size() + 1, stages.size() + 1);
        boolean started = hasCheckpoint(run);
        Outcome last = trainStage(file.withoutCurriculum(), train, run, d, o, new Stage(started ? run : null, started ? null : previous, untilLoss, "--until-loss", deadline, run));
        return new Outcome(run, run, done + last.completedSteps(), planned, last.stoppedByTimeLimit(), last.parameterCount());
    }

    /** Builds a stage's data source once, so a stage whose rows cannot be made fails before any stage trains. */
    private static void checkData(TrainConfig t, String prefix) {
        try {
            new MixedBatchSource(t, Tokenizers.create(t.tokenizer()), t.seqLen(), null);
        } catch (ConfigException e) {
            throw e.under(prefix);
        }
    }

    private Outcome timeUpBefore(String stage, ConfigFile file, Path run, Path weights, long done, long planned, PrintStream o) {
        o.println("Stopped after " + minutesText(minutes) + " (--minutes) before stage '" + stage + "'; continue with --resume " + run + ".");
        return new Outcome(run, weights, done, planned, true, ParameterLayout.of(file.model()).parameterCount());
    }

    private static boolean hasCheckpoint(Path run) throws IOException {
        Path c = run.resolve(Trainer.CHECKPOINTS);
        return Files.isDirectory(c) && !new CheckpointStore(c, 1).steps().isEmpty();
    }

    /** One ordinary run: {@code file}'s model (no curriculum) with {@code train} into {@code run}. */
    private Outcome trainStage(ConfigFile file, TrainConfig train, Path run, Device d, PrintStream o, Stage stage) throws IOException {
        Tokenizer tokenizer = Tokenizers.create(train.tokenizer());
        ModelConfig model = file.model();
        if (tokenizer.vocabSize() > model.vocabSize()) {
            throw new IllegalArgumentException("vocab_size: " + model.vocabSize() + " is smaller than the " + tokenizer.name()
                    + " tokenizer's " + tokenizer.vocabSize() + " ids (in " + config + ")");
        }
        Path checkpoints = run.resolve(Trainer.CHECKPOINTS);
        if (stage.resume() == null && hasCheckpoint(run)) {
            throw new IllegalStateException("run folder " + run + " already holds checkpoints; pass --resume " + run + " to continue it, or choose another --out");
        }
        MixedBatchSource rows = new MixedBatchSource(train, tokenizer, train.seqLen(), null);
        RecordingBatchSource recorder = recordBatches == null ? null : new RecordingBatchSource(rows);
        BatchSource data = recorder == null ? rows : recorder;
        ModelConfig built = toyBigram ? BigramModel.config(model.vocabSize(), model.hiddenSize(), model.initializerRange()) : model;
        ModelParameters initial = toyBigram ? null : ModelParameters.of(ParameterLayout.of(model)).initialize(train.seed());
        CheckpointState source = stage.initFrom() == null ? null : Checkpoints.load(stage.initFrom());
        if (source != null) copyCompatibleWeights(source, initial, stage.initFrom());
        try (TrainableModel m = toyBigram ? BigramModel.create(built, d, train.batchSize(), train.seqLen(), train.seed())
                : drtModel(model, initial, d, train);
             Trainer trainer = new Trainer(m, train, data, run)) {
            if (stage.resume() != null) {
                if (!stage.resume().equals(run)) copyLatest(stage.resume(), run);
                if (!trainer.resumeLatest()) throw new IllegalStateException("no complete checkpoint in " + stage.resume().resolve(Trainer.CHECKPOINTS));
                o.println("Resumed " + stage.resume() + " at step " + trainer.completedSteps() + ".");
            }
            Files.createDirectories(run);
            if (source != null) {
                Files.writeString(run.resolve(INIT_FROM_FILE), JSON.createObjectNode().put("source", stage.initFrom().toAbsolutePath().toString())
                        .put("step", source.step()).toPrettyString());
                o.println("Starting from the weights of " + stage.initFrom() + " (step " + source.step() + "), with fresh optimizer state.");
            }
            Files.writeString(run.resolve("train-config.json"), new ConfigFile(file.description(), file.model(), train).toPrettyString());
            long parameterCount = m.parameters().layout().parameterCount();
            Duration limit = stage.deadline() == null ? null : Duration.between(Instant.now(), stage.deadline());
            if (limit != null && limit.isNegative()) limit = Duration.ZERO;
            o.printf(Locale.ROOT, "Training the %s model (%,d parameters) on %s (GEMMs: %s): %d steps of %,d tokens%s; run folder %s%n",
                    toyBigram ? "toy bigram" : model.attentionKind().jsonName(), parameterCount, d,
                    Gemm.describe(d.info(), train.effectiveMatmulPrecision()), train.steps(), train.tokensPerStep(),
                    limit == null ? "" : String.format(Locale.ROOT, ", for at most %s", minutesText(limit.toMillis() / 60_000.0)), run);
            trainer.withConsole(o, ProgressBar.stdoutIsTerminal());
            if (limit != null) trainer.withTimeLimit(limit);
            if (stage.untilLoss() != null) trainer.withLossTarget(stage.untilLoss(), lossWindow);
            if (valBatches > 0) trainer.withValidation(new MixedBatchSource(train, tokenizer, train.seqLen(), null, Split.Part.VALIDATION), valBatches);
            if (trainer.completedSteps() >= train.steps()) {
                o.println("Nothing to do: the run already has " + trainer.completedSteps() + " of " + train.steps() + " steps.");
                return new Outcome(run, run, trainer.completedSteps(), train.steps(), false, parameterCount);
            }
            trainer.run();
            if (recorder != null) {
                recorder.write(recordBatches);
                o.println("Recorded the " + recorder.microBatches() + " micro-batches of this run in " + recordBatches);
            }
            if (trainer.reachedLossTarget()) {
                o.printf(Locale.ROOT, "Stopped at step %d of %d: the mean training loss of the last %d steps is below %s (%s).%n",
                        trainer.completedSteps(), train.steps(), lossWindow, stage.untilLoss(), stage.untilLossFrom());
            }
            if (stage.untilLoss() != null && !trainer.reachedLossTarget() && !trainer.stoppedByTimeLimit()) {
                // a stage that never learnt what it teaches still hands its weights on: say so, the run goes on
                o.printf(Locale.ROOT, "Warning: all %d steps ran and the mean training loss of the last %d steps never fell below %s (%s).%n",
                        trainer.completedSteps(), lossWindow, stage.untilLoss(), stage.untilLossFrom());
            }
            if (trainer.stoppedByTimeLimit()) {
                o.println("Stopped after " + minutesText(minutes) + " (--minutes) at step " + trainer.completedSteps() + " of " + train.steps()
                        + "; continue with --resume " + stage.root() + ".");
            }
            o.println("Done: " + trainer.completedSteps() + " steps (device memory " + DevicesCommand.bytes(trainer.deviceBytes()) + "); metrics in "
                    + run.resolve(Trainer.METRICS_FILE) + ", checkpoints in " + checkpoints);
            return new Outcome(run, run, trainer.completedSteps(), train.steps(), trainer.stoppedByTimeLimit(), parameterCount);
        }
    }

    /** Where a run started with --init-from records its source (the run folder's checkpoints are its own). */
    static final String INIT_FROM_FILE = "init-from.json";
    private static final com.fasterxml.jackson.databind.ObjectMapper JSON = new com.fasterxml.jackson.databind.ObjectMapper();

    /**
     * Copies the source checkpoint's parameters into {@code target} when both models have the same
     * tensors (names, shapes and places in the flat buffer); otherwise names the first difference.
     */
    static void copyCompatibleWeights(CheckpointState source, ModelParameters target, Path from) {
        target.layout().firstDifference(ParameterLayout.of(source.model())).ifPresent(d -> {
            throw new IllegalArgumentException("--init-from " + from + ": its model has other parameters than this config's: "
                    + d.theirs() + " there, " + d.mine() + " here (only settings that leave the parameters alone may differ)");
        });
        float[] dst = target.all().f32();
        if (source.parameters().length != dst.length) throw new IllegalArgumentException("--init-from " + from + ": " + source.parameters().length
                + " parameter values there, " + dst.length + " here");
        System.arraycopy(source.parameters(), 0, dst, 0, dst.length);
    }

    static String minutesText(double m) {
        return m == Math.rint(m) ? String.format(Locale.ROOT, "%.0f min", m) : String.format(Locale.ROOT, "%.2f min", m);
    }

    static TrainConfig withSteps(TrainConfig t, long n) {
        if (n < 1) throw new IllegalArgumentException("--steps must be >= 1, got " + n);
        return new TrainConfig(t.batchSize(), t.seqLen(), n, t.lr(), Math.min(t.warmupSteps(), n), t.minLrRatio(), t.weightDecay(),
                t.beta1(), t.beta2(), t.adamEps(), t.gradClip(), t.gradAccumulation(), t.seed(), t.tokenizer(), t.corpus(),
                t.taskMix(), t.lossOn(), t.checkpointInterval(), t.keepCheckpoints(), t.evalInterval(), t.needleDepth(), t.answerJitter(), t.matmulPrecision());
    }

    /**
     * The model's training graphs with their GEMMs selected at the config's {@code matmul_precision}
     * (the setting applies to these graphs only: later plans, e.g. an evaluation's, take the default).
     */
    private static DrtModel drtModel(ModelConfig model, ModelParameters initial, Device d, TrainConfig train) {
        Gemm.Precision before = Gemm.usePrecision(train.effectiveMatmulPrecision());
        try {
            return new DrtModel(model, initial, d, train.batchSize(), train.seqLen());
        } finally {
            Gemm.usePrecision(before);
        }
    }

    /** Continuing into another folder: start it with the source run's latest checkpoint. */
    private static void copyLatest(Path from, Path to) throws IOException {
        CheckpointStore src = new CheckpointStore(from.resolve(Trainer.CHECKPOINTS), 1);
        Path latest = src.latest().orElseThrow(() -> new IllegalStateException("no complete checkpoint in " + src.root()));
        var state = Checkpoint.read(latest);
        // refused before anything is written to the new run folder
        if (!state.hasOptimizerState()) throw new IllegalArgumentException(Trainer.notResumable("checkpoint " + latest));
        new CheckpointStore(to.resolve(Trainer.CHECKPOINTS), state.train().keepCheckpoints()).save(state);
    }

    private static String baseName(Path p) {
        String n = p.getFileName().toString();
        return n.endsWith(".json") ? n.substring(0, n.length() - 5) : n;
    }
}
