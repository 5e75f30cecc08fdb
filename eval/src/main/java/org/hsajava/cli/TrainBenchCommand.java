package org.hsajava.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.loop.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./hsa bench train}: the training throughput of a config, as {@code ./hsa train} runs it
 * (no validation), in a throwaway run folder: seconds per step and tokens per second over the steps
 * after {@code --warmup} (which hold kernel compilation and the first uploads), from the run's
 * {@code metrics.jsonl}.
 */
@Command(name = "train", description = "Training throughput of a config's own training (./hsa train without validation or curriculum stages, throwaway run folder): s/step and tokens/s after warm-up steps.")
final class TrainBenchCommand implements Callable<Integer> {
    @Mixin BenchCommand.Common common = new BenchCommand.Common();

    @Option(names = "--config", required = true, paramLabel = "FILE", description = "model + train config (configs/*.json)")
    Path config;

    @Option(names = "--steps", defaultValue = "12", description = "optimizer steps to run (default ${DEFAULT-VALUE})")
    int steps;

    @Option(names = "--warmup", defaultValue = "4", description = "first steps left out of the timing (default ${DEFAULT-VALUE})")
    int warmup;

    /** What one measurement found. */
    record Result(int steps, int timedSteps, long tokensPerStep, double secondsPerStep, double tokensPerSecond, double lastLoss) {}

    @Override
    public Integer call() throws Exception {
        if (warmup < 1 || steps <= warmup) throw new IllegalArgumentException("need 1 <= --warmup < --steps, got --warmup " + warmup + " --steps " + steps);
        Device d = common.device.device();
        ConfigFile file = ConfigFile.read(config);
        Result r = measure(file, d, common.progress());
        if (common.json) {
            Map<String, Object> row = new LinkedHashMap<>();
            row.put("config", config.toString());
            row.put("steps", r.steps());
            row.put("timedSteps", r.timedSteps());
            row.put("tokensPerStep", r.tokensPerStep());
            row.put("secondsPerStep", r.secondsPerStep());
            row.put("tokensPerSecond", r.tokensPerSecond());
            row.put("lastLoss", r.lastLoss());
            common.printJson("train", d, List.of(row));
        } else {
            System.out.printf(Locale.ROOT, "%s on %s: %.3f s/step, %.0f tokens/s (steps %d-%d of %d, %,d tokens each); loss at step %d %.6f%n",
                    config, d, r.secondsPerStep(), r.tokensPerSecond(), warmup + 1, steps, steps, r.tokensPerStep(), steps, r.lastLoss());
        }
        ProfileOption.printIfEnabled(common.progress());
        return 0;
    }

    Result measure(ConfigFile file, Device d, PrintStream progress) throws IOException {
        TrainConfig train = TrainCommand.withSteps(file.train(), steps);
        Path run = Files.createTempDirectory("hsa-bench-train");
        progress.println("Bench run folder (deleted at the end): " + run);
        try {
            TrainCommand t = new TrainCommand();
            t.config = config;
            t.valBatches = 0;
            t.train(file.withoutCurriculum(), train, run, d, progress);  // the config's own training: its shapes, not its stages'
            List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
            ObjectMapper json = new ObjectMapper();
            JsonNode first = json.readTree(lines.get(warmup - 1)), last = json.readTree(lines.get(lines.size() - 1));
            int timed = last.get("step").asInt() - first.get("step").asInt();
            double seconds = (last.get("elapsed").asDouble() - first.get("elapsed").asDouble()) / timed;
            return new Result(steps, timed, train.tokensPerStep(), seconds, train.tokensPerStep() / seconds, last.get("loss").asDouble());
        } finally {
            deleteTree(run);
        }
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> all = Files.walk(root)) {
            for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot delete the bench run folder " + root + ": " + e.getMessage(), e);
        }
    }
}
