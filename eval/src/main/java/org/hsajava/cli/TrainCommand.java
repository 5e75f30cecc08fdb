package org.hsajava.cli;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.model.TrainableModel;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.data.Split;
import org.hsajava.train.loop.MixedBatchSource;
import org.hsajava.train.loop.ProgressBar;
import org.hsajava.train.loop.Trainer;
import org.hsajava.train.text.Tokenizer;
import org.hsajava.train.text.Tokenizers;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ParameterLayout;
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

    @Override
    public Integer call() throws IOException {
        PrintStream o = System.out;
        ConfigFile file = ConfigFile.read(config);
        TrainConfig train = steps == null ? file.train() : withSteps(file.train(), steps);
        Tokenizer tokenizer = Tokenizers.create(train.tokenizer());
        ModelConfig model = file.model();
        if (!toyBigram) file.warnings().forEach(w -> o.println("warning: " + w));
        if (tokenizer.vocabSize() > model.vocabSize()) {
            throw new IllegalArgumentException("vocab_size: " + model.vocabSize() + " is smaller than the " + tokenizer.name()
                    + " tokenizer's " + tokenizer.vocabSize() + " ids (in " + config + ")");
        }
        Path run = out != null ? out : resume != null ? resume : Path.of("runs", baseName(config));
        Path checkpoints = run.resolve(Trainer.CHECKPOINTS);
        if (resume == null && Files.exists(checkpoints) && !new CheckpointStore(checkpoints, 1).steps().isEmpty()) {
            throw new IllegalStateException("run folder " + run + " already holds checkpoints; pass --resume " + run + " to continue it, or choose another --out");
        }
        Device d = device.device();
        ModelConfig built = toyBigram ? BigramModel.config(model.vocabSize(), model.hiddenSize(), model.initializerRange()) : model;
        try (TrainableModel m = toyBigram ? BigramModel.create(built, d, train.batchSize(), train.seqLen(), train.seed())
                : new DrtModel(model, ModelParameters.of(ParameterLayout.of(model)).initialize(train.seed()), d, train.batchSize(), train.seqLen());
             Trainer trainer = new Trainer(m, train, new MixedBatchSource(train, tokenizer, train.seqLen(), null), run)) {
            if (resume != null) {
                if (!resume.equals(run)) copyLatest(resume, run);
                if (!trainer.resumeLatest()) throw new IllegalStateException("no complete checkpoint in " + resume.resolve(Trainer.CHECKPOINTS));
                o.println("Resumed " + resume + " at step " + trainer.completedSteps() + ".");
            }
            Files.createDirectories(run);
            Files.writeString(run.resolve("train-config.json"), new ConfigFile(file.description(), file.model(), train).toPrettyString());
            o.printf(Locale.ROOT, "Training the %s model (%,d parameters) on %s: %d steps of %,d tokens; run folder %s%n",
                    toyBigram ? "toy bigram" : model.attentionKind().jsonName(), m.parameters().layout().parameterCount(), d, train.steps(), train.tokensPerStep(), run);
            trainer.withConsole(o, ProgressBar.stdoutIsTerminal());
            if (valBatches < 0) throw new IllegalArgumentException("--val-batches must be >= 0, got " + valBatches);
            if (valBatches > 0) trainer.withValidation(new MixedBatchSource(train, tokenizer, train.seqLen(), null, Split.Part.VALIDATION), valBatches);
            if (trainer.completedSteps() >= train.steps()) {
                o.println("Nothing to do: the run already has " + trainer.completedSteps() + " of " + train.steps() + " steps.");
                return 0;
            }
            trainer.run();
            o.println("Done: " + trainer.completedSteps() + " steps; metrics in " + run.resolve(Trainer.METRICS_FILE) + ", checkpoints in " + checkpoints);
        }
        return 0;
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
        var state = src.loadLatest().orElseThrow(() -> new IllegalStateException("no complete checkpoint in " + src.root()));
        new CheckpointStore(to.resolve(Trainer.CHECKPOINTS), state.train().keepCheckpoints()).save(state);
    }

    private static String baseName(Path p) {
        String n = p.getFileName().toString();
        return n.endsWith(".json") ? n.substring(0, n.length() - 5) : n;
    }
}
