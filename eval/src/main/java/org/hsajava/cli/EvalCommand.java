package org.hsajava.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.eval.Checkpoints;
import org.hsajava.eval.TeacherForcedEval;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.loop.MixedBatchSource;
import org.hsajava.train.tasks.Filler;
import org.hsajava.train.tasks.LossMask;
import org.hsajava.train.tasks.SentencePool;
import org.hsajava.train.tasks.SyntheticTask;
import org.hsajava.train.tasks.SyntheticTasks;
import org.hsajava.train.text.Tokenizer;
import org.hsajava.train.text.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa eval}: teacher-forced exact match of a checkpoint on synthetic retrieval tasks over a
 * grid of context lengths × needle depths (full forward passes; the streaming evaluation to
 * millions of tokens and the HTML report are the evaluation issue's).
 */
@Command(name = "eval", description = "Exact-match accuracy of a checkpoint on passkey / NIAH / ... over lengths x depths.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "a checkpoint folder, or a run folder (its latest checkpoint)")
    Path checkpoint;

    @Option(names = "--tasks", defaultValue = "passkey", split = ",", description = "tasks: " + "passkey, niah_single, niah_multikey, variable_tracking, associative_recall (default ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(names = "--lengths", defaultValue = "1K", split = ",", description = "context lengths in tokens, e.g. 1K,4K (default ${DEFAULT-VALUE})")
    List<String> lengths;

    @Option(names = "--depths", defaultValue = "0.1,0.5,0.9", split = ",", description = "needle depths in [0,1] (default ${DEFAULT-VALUE})")
    List<Double> depths;

    @Option(names = "--samples", defaultValue = "20", description = "samples per (task, length, depth) (default ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--batch", defaultValue = "4", description = "samples per forward pass (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--seed", defaultValue = "99", description = "sampling seed; differs from training's streams (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--out", description = "write report.json into this folder")
    Path out;

    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws Exception {
        if (samples < 1 || batch < 1) throw new IllegalArgumentException("--samples and --batch must be >= 1");
        for (double d : depths) if (d < 0 || d > 1) throw new IllegalArgumentException("--depths must lie in [0, 1], got " + d);
        CheckpointState state = Checkpoints.load(checkpoint);
        Tokenizer tokenizer = Tokenizers.create(state.train().tokenizer());
        String corpus = state.train().corpus();
        Filler filler = corpus == null || corpus.isBlank() ? SentencePool.repeated(tokenizer)
                : SentencePool.fromCorpus(corpus.equals(MixedBatchSource.BUNDLED) ? Corpora.bundled() : Corpora.open(Path.of(corpus)), tokenizer, 1 << 20);
        Device d = device.device();
        System.out.printf(Locale.ROOT, "Checkpoint %s (step %d, %s model) on %s%n", checkpoint, state.step(), state.model().attentionKind().jsonName(), d);
        System.out.printf("%-20s %9s %6s %9s %13s %14s %9s%n", "task", "length", "depth", "accuracy", "answer tokens", "needle chosen", "seconds");
        List<TeacherForcedEval.Cell> cells = new ArrayList<>();
        for (String lengthSpec : lengths) {
            int length = BenchCommand.parseSizes(lengthSpec)[0];
            ModelParameters p = ModelParameters.of(ParameterLayout.of(state.model()));
            p.all().set(state.parameters());
            try (DrtModel model = new DrtModel(state.model(), p, d, batch, length);
                 ExecutionPlan plan = new ExecutionPlan(new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all()).snapshot(),
                         model.evalStep()).withDevice(d)) {
                plan.execute("params");
                for (String taskName : tasks) {
                    SyntheticTask task = SyntheticTasks.create(taskName, tokenizer, filler, LossMask.ANSWER);
                    for (double depth : depths) {
                        TeacherForcedEval.Cell c = TeacherForcedEval.run(model, plan, task, depth, samples, seed);
                        cells.add(c);
                        System.out.printf(Locale.ROOT, "%-20s %9d %6.2f %8.1f%% %12.1f%% %13s %9.1f%n", c.task(), c.length(), c.depth(), 100 * c.accuracy(), 100 * c.tokenAccuracy(),
                                c.retrievalHits() < 0 ? "-" : String.format(Locale.ROOT, "%.1f%%", 100 * c.retrievalHitRate()), c.seconds());
                    }
                }
            }
        }
        if (out != null) writeReport(state, d, cells);
        return 0;
    }

    private void writeReport(CheckpointState state, Device d, List<TeacherForcedEval.Cell> cells) throws Exception {
        Files.createDirectories(out);
        Map<String, Object> report = new LinkedHashMap<>();
        report.put("checkpoint", checkpoint.toString());
        report.put("step", state.step());
        report.put("device", d.name());
        List<Map<String, Object>> rows = new ArrayList<>();
        for (TeacherForcedEval.Cell c : cells) {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("task", c.task());
            m.put("length", c.length());
            m.put("depth", c.depth());
            m.put("accuracy", c.accuracy());
            m.put("answerTokenAccuracy", c.tokenAccuracy());
            if (c.retrievalHits() >= 0) m.put("needleChunkSelected", c.retrievalHitRate());
            m.put("samples", c.samples());
            m.put("seconds", c.seconds());
            rows.add(m);
        }
        report.put("cells", rows);
        new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT).writeValue(out.resolve("report.json").toFile(), report);
    }
}
