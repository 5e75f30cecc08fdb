package org.hsajava.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.Checkpoints;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.TrainableModel;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
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

    /** What one training call did. */
    record Outcome(Path run, long completedSteps, long plannedSteps, boolean stoppedByTimeLimit, long parameterCount) {}

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
     * on {@code d}, honouring this command's {@code --resume}, {@code --val-batches}, {@code --minutes}
     * and {@code --toy-bigram}; {@link #config} only names the file in messages.
     */
    Outcome train(ConfigFile file, TrainConfig train, Path run, Device d, PrintStream o) throws IOException {
        if (minutes != null && !(minutes > 0 && minutes < 1e6)) throw new IllegalArgumentException("--minutes must be > 0, got " + minutes);
        if (untilLoss != null && !(untilLoss > 0)) throw new IllegalArgumentException("--until-loss must be > 0, got " + untilLoss);
        if (lossWindow < 1) throw new IllegalArgumentException("--loss-window must be >= 1, got " + lossWindow);
        if (valBatches < 0) throw new IllegalArgumentException("--val-batches must be >= 0, got " + valBatches);
        Tokenizer tokenizer = Tokenizers.create(train.tokenizer());
        ModelConfig model = file.model();
        if (!toyBigram) file.warnings().forEach(w -> o.println("warning: " + w));
        if (tokenizer.vocabSize() > model.vocabSize()) {
            throw new IllegalArgumentException("vocab_size: " + model.vocabSize() + " is smaller than the " + tokenizer.name()
                    + " tokenizer's " + tokenizer.vocabSize() + " ids (in " + config + ")");
        }
        Path checkpoints = run.resolve(Trainer.CHECKPOINTS);
        if (resume == null && Files.exists(checkpoints) && !new CheckpointStore(checkpoints, 1).steps().isEmpty()) {
            throw new IllegalStateException("run folder " + run + " already holds checkpoints; pass --resume " + run + " to continue it, or choose another --out");
        }
        MixedBatchSource rows = new MixedBatchSource(train, tokenizer, train.seqLen(), null);
        RecordingBatchSource recorder = recordBatches == null ? null : new RecordingBatchSource(rows);
        BatchSource data = recorder == null ? rows : recorder;
        ModelConfig built = toyBigram ? BigramModel.config(model.vocabSize(), model.hiddenSize(), model.initializerRange()) : model;
        if (initFrom != null && (resume != null || toyBigram)) throw new IllegalArgumentException("--init-from cannot be combined with --resume or --toy-bigram");
        ModelParameters initial = toyBigram ? null : ModelParameters.of(ParameterLayout.of(model)).initialize(train.seed());
        CheckpointState source = initFrom == null ? null : Checkpoints.load(initFrom);
        if (source != null) copyCompatibleWeights(source, initial, initFrom);
        try (TrainableModel m = toyBigram ? BigramModel.create(built, d, train.batchSize(), train.seqLen(), train.seed())
                : new DrtModel(model, initial, d, train.batchSize(), train.seqLen());
             Trainer trainer = new Trainer(m, train, data, run)) {
            if (resume != null) {
                if (!resume.equals(run)) copyLatest(resume, run);
                if (!trainer.resumeLatest()) throw new IllegalStateException("no complete checkpoint in " + resume.resolve(Trainer.CHECKPOINTS));
                o.println("Resumed " + resume + " at step " + trainer.completedSteps() + ".");
            }
            Files.createDirectories(run);
            if (source != null) {
                Files.writeString(run.resolve(INIT_FROM_FILE), JSON.createObjectNode().put("source", initFrom.toAbsolutePath().toString())
                        .put("step", source.step()).toPrettyString());
                o.println("Starting from the weights of " + initFrom + " (step " + source.step() + "), with fresh optimizer state.");
            }
            Files.writeString(run.resolve("train-config.json"), new ConfigFile(file.description(), file.model(), train).toPrettyString());
            long parameterCount = m.parameters().layout().parameterCount();
            o.printf(Locale.ROOT, "Training the %s model (%,d parameters) on %s: %d steps of %,d tokens%s; run folder %s%n",
                    toyBigram ? "toy bigram" : model.attentionKind().jsonName(), parameterCount, d, train.steps(), train.tokensPerStep(),
                    minutes == null ? "" : String.format(Locale.ROOT, ", for at most %s", minutesText(minutes)), run);
            trainer.withConsole(o, ProgressBar.stdoutIsTerminal());
            if (minutes != null) trainer.withTimeLimit(Duration.ofMillis(Math.round(minutes * 60_000)));
            if (untilLoss != null) trainer.withLossTarget(untilLoss, lossWindow);
            if (valBatches > 0) trainer.withValidation(new MixedBatchSource(train, tokenizer, train.seqLen(), null, Split.Part.VALIDATION), valBatches);
            if (trainer.completedSteps() >= train.steps()) {
                o.println("Nothing to do: the run already has " + trainer.completedSteps() + " of " + train.steps() + " steps.");
                return new Outcome(run, trainer.completedSteps(), train.steps(), false, parameterCount);
            }
            trainer.run();
            if (recorder != null) {
                recorder.write(recordBatches);
                o.println("Recorded the " + recorder.microBatches() + " micro-batches of this run in " + recordBatches);
            }
            if (trainer.reachedLossTarget()) {
                o.printf(Locale.ROOT, "Stopped at step %d of %d: the mean training loss of the last %d steps is below %s (--until-loss).%n",
                        trainer.completedSteps(), train.steps(), lossWindow, untilLoss);
            }
            if (trainer.stoppedByTimeLimit()) {
                o.println("Stopped after " + minutesText(minutes) + " (--minutes) at step " + trainer.completedSteps() + " of " + train.steps()
                        + "; continue with --resume " + run + ".");
            }
            o.println("Done: " + trainer.completedSteps() + " steps; metrics in " + run.resolve(Trainer.METRICS_FILE) + ", checkpoints in " + checkpoints);
            return new Outcome(run, trainer.completedSteps(), train.steps(), trainer.stoppedByTimeLimit(), parameterCount);
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
        java.util.List<ParameterSpec> mine = target.layout().specs(), theirs = ParameterLayout.of(source.model()).specs();
        for (int i = 0; i < Math.max(mine.size(), theirs.size()); i++) {
            ParameterSpec a = i < mine.size() ? mine.get(i) : null, b = i < theirs.size() ? theirs.get(i) : null;
            if (a == null || b == null || !a.name().equals(b.name()) || !java.util.Arrays.equals(a.shape(), b.shape()) || a.offset() != b.offset()) {
                throw new IllegalArgumentException("--init-from " + from + ": its model has other parameters than this config's: "
                        + describe(b) + " there, " + describe(a) + " here (only settings that leave the parameters alone may differ)");
            }
        }
        float[] dst = target.all().f32();
        if (source.parameters().length != dst.length) throw new IllegalArgumentException("--init-from " + from + ": " + source.parameters().length
                + " parameter values there, " + dst.length + " here");
        System.arraycopy(source.parameters(), 0, dst, 0, dst.length);
    }

    private static String describe(ParameterSpec s) {
        return s == null ? "nothing" : s.name() + " " + java.util.Arrays.toString(s.shape());
    }

    static String minutesText(double m) {
        return m == Math.rint(m) ? String.format(Locale.ROOT, "%.0f min", m) : String.format(Locale.ROOT, "%.2f min", m);
    }

    static TrainConfig withSteps(TrainConfig t, long n) {
        if (n < 1) throw new IllegalArgumentException("--steps must be >= 1, got " + n);
        return new TrainConfig(t.batchSize(), t.seqLen(), n, t.lr(), Math.min(t.warmupSteps(), n), t.minLrRatio(), t.weightDecay(),
                t.beta1(), t.beta2(), t.adamEps(), t.gradClip(), t.gradAccumulation(), t.seed(), t.tokenizer(), t.corpus(),
                t.taskMix(), t.lossOn(), t.checkpointInterval(), t.keepCheckpoints(), t.evalInterval());
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
