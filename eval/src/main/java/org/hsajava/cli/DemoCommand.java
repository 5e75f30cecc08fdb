package org.hsajava.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.hsajava.eval.Checkpoints;
import org.hsajava.eval.EvalProgress;
import org.hsajava.eval.GridRunner;
import org.hsajava.eval.report.Bytes;
import org.hsajava.eval.report.CellResult;
import org.hsajava.eval.report.HtmlReport;
import org.hsajava.eval.report.RunReport;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.loop.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./hsa demo}, the README's main job: the devices and the kernel self-check; the training of
 * {@code configs/tiny-cpu.json} with its curriculum through {@code ./hsa train}'s code (about 8 minutes
 * on 2 PoCL cores; it learns passkey), evaluated at 1× and 4× its training length; then the model
 * shipped in the repository ({@code checkpoints/tiny-passkey}, trained on an H100 by the window
 * curriculum, the commands in its README) on passkey and single-needle NIAH from its training length
 * to 64× it, through {@code ./hsa eval}'s {@link GridRunner}, with {@code report.json} and
 * {@code report.html} (both models) in the run folder and a summary at the end. On the Java backend
 * (no OpenCL) it says how to get OpenCL and runs a reduced plan (2 minutes of the final stage alone,
 * lengths to 16×) that still ends in a few minutes. Nothing is tuned to the evaluation: the
 * curriculum trains on generated passkey rows, the evaluation draws its own (another seed).
 */
@Command(name = "demo", description = "The main job: devices, kernel self-check, training tiny-cpu through its curriculum (~8 min on 2 cores), "
        + "then passkey + NIAH from the training length to 64x it with the shipped curriculum model, report.")
public final class DemoCommand implements Callable<Integer> {
    static final Path DEFAULT_CONFIG = Path.of("configs", "tiny-cpu.json");
    static final List<String> TASKS = List.of("passkey", "niah_single");
    /** The shipped model: trained with the project's commands (checkpoints/tiny-passkey/README.md). */
    static final Path SHIPPED = Path.of("checkpoints", "tiny-passkey");

    @Mixin
    DeviceOption device;

    @Option(names = "--out", paramLabel = "DIR", description = "run folder: checkpoints, metrics.jsonl, report.json, report.html (default: runs/demo-<UTC time>)")
    Path out;

    @Option(names = "--minutes", paramLabel = "M",
            description = "training time limit in minutes (default: 10 on OpenCL, for the config's whole curriculum; 2 on the Java backend; the evaluation comes on top)")
    Double minutes;

    @Option(names = "--quick", description = "a smoke run of seconds: a few short training steps, one sample per cell at 1x and 4x the training length")
    boolean quick;

    @Option(names = "--config", paramLabel = "FILE", description = "model + train config (default: ${DEFAULT-VALUE})")
    Path config = DEFAULT_CONFIG;

    @Option(names = "--shipped", paramLabel = "DIR",
            description = "the shipped model, evaluated to 64x its training length (default: ${DEFAULT-VALUE}; 'none' skips it)")
    Path shipped = SHIPPED;

    @Spec
    CommandSpec spec;

    /**
     * What a demo runs: the training settings and time limit, then the evaluation grids. Lengths are
     * multiples of each model's training length: {@code trainedMultiples} for the model trained now,
     * {@code shippedMultiples} for the shipped one; every (task, length, depth) cell has
     * {@code samples} samples of one seed.
     */
    record Plan(String name, TrainConfig train, boolean curriculum, double trainMinutes, int valBatches, List<Integer> trainedMultiples,
                List<Integer> shippedMultiples, List<Double> depths, int samples) {}

    /**
     * Full demo on OpenCL: the config's whole curriculum (tiny-cpu: about 8 minutes on 2 PoCL cores,
     * 10 at most), then about 3 minutes of evaluation (BENCHMARKS.md).
     */
    static Plan fullPlan(TrainConfig t, Double minutes) {
        return new Plan("full", t, true, minutes != null ? minutes : 10, 4, List.of(1, 4), List.of(1, 4, 16, 64), List.of(0.1, 0.5, 0.9), 8);
    }

    /** Java backend: ~7 times slower than PoCL per token, so the final stage alone for 2 minutes (no curriculum) and lengths to 16× only. */
    static Plan javaPlan(TrainConfig t, Double minutes) {
        return new Plan("reduced (Java backend)", t, false, minutes != null ? minutes : 2, 4, List.of(1), List.of(1, 4, 16), List.of(0.1, 0.5, 0.9), 2);
    }

    /** Seconds: 3 steps of 2 × 256 tokens (NIAH needs ~180 byte tokens), one sample per cell at 1× and 4×; the shipped model at 1×. */
    static Plan quickPlan(TrainConfig t, Double minutes) {
        ObjectNode j = t.toJson();
        j.put("batch_size", 2).put("seq_len", 256).put("steps", 3).put("warmup_steps", 1).put("checkpoint_interval", 3);
        return new Plan("quick", TrainConfig.fromJson(j), false, minutes != null ? minutes : 0.5, 1, List.of(1, 4), List.of(1), List.of(0.5), 1);
    }

    @Override
    public Integer call() throws Exception {
        PrintStream o = System.out;
        long start = System.nanoTime();
        if (minutes != null && !(minutes > 0)) throw new IllegalArgumentException("--minutes must be > 0, got " + minutes);
        if (!Files.isRegularFile(config)) {
            throw new IllegalArgumentException("--config: no such file " + config.toAbsolutePath()
                    + (config.equals(DEFAULT_CONFIG) ? " (run ./hsa demo from the repository root)" : ""));
        }
        if (!shipped.toString().equals("none") && !shipped.equals(SHIPPED) && !Files.isDirectory(shipped)) {
            throw new IllegalArgumentException("--shipped: no such folder " + shipped.toAbsolutePath() + " (or 'none' to skip the shipped model)");
        }
        ConfigFile file = ConfigFile.read(config);
        Path run = out != null ? out : Path.of("runs", "demo-" + LocalDateTime.now(ZoneOffset.UTC).format(DateTimeFormatter.ofPattern("yyyyMMdd-HHmmss")));
        Path checkpoints = run.resolve(Trainer.CHECKPOINTS);
        if (Files.isDirectory(checkpoints) && !new CheckpointStore(checkpoints, 1).steps().isEmpty()) {
            throw new IllegalArgumentException("--out: " + run + " already holds a run's checkpoints; the demo starts a new run, so choose another folder"
                    + " (./hsa train --resume continues a run)");
        }

        // 1. devices and kernel self-check
        o.println("== 1/4  Devices and kernel self-check");
        new DevicesCommand().call();
        Device d = device.device();
        o.println();
        if (new SelfCheckCommand().runOn(d) != 0) {
            o.println("The kernels disagree with the Java backend on " + d + "; not training on it. Try --device java.");
            return 1;
        }
        Plan plan = quick ? quickPlan(file.train(), minutes) : d.isJava() ? javaPlan(file.train(), minutes) : fullPlan(file.train(), minutes);
        if (d.isJava()) o.println("\n" + javaBackendNote(quick));
        long afterSelfCheck = System.nanoTime();

        // 2. training, through ./hsa train's code
        o.printf(Locale.ROOT, "%n== 2/4  Training %s (%s demo) for at most %s into %s%n", config, plan.name(), TrainCommand.minutesText(plan.trainMinutes()), run);
        TrainCommand train = new TrainCommand();
        train.config = config;
        train.minutes = plan.trainMinutes();
        train.valBatches = plan.valBatches();
        TrainCommand.Outcome trained = train.train(plan.curriculum() ? file : file.withoutCurriculum(), plan.train(), run, d, o);
        long afterTraining = System.nanoTime();

        // 3. evaluation of both models, through ./hsa eval's grid runner
        String date = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        String commandLine = commandLine();
        CheckpointState trainedState = Checkpoints.load(trained.weights());
        List<RunReport> reports = new ArrayList<>();
        o.printf(Locale.ROOT, "%n== 3/4  Evaluating the model trained just now%n");
        reports.add(evaluate(d, o, "trained now (" + file.model().attentionKind().jsonName() + ", " + config.getFileName() + ")", trained.weights(), trainedState,
                plan, plan.trainedMultiples(), date, commandLine));
        CheckpointState shippedState = null;
        Path shippedDir = shipped.toString().equals("none") ? null : shipped;
        if (shippedDir == null) {
            o.printf("%n== 4/4  Shipped model: skipped (--shipped none)%n");
        } else if (!Files.isDirectory(shippedDir)) {
            o.printf("%n== 4/4  Shipped model: no folder %s (run ./hsa demo from the repository root); skipped%n", shippedDir.toAbsolutePath());
        } else {
            shippedState = Checkpoints.load(shippedDir);
            o.printf(Locale.ROOT, "%n== 4/4  Evaluating the shipped model %s (trained on an H100 with the project's commands: %s)%n",
                    shippedDir, shippedDir.resolve("README.md"));
            reports.add(evaluate(d, o, "shipped " + shippedDir.getFileName(), shippedDir, shippedState, plan, plan.shippedMultiples(), date, commandLine));
        }
        EvalCommand.writeReport(run, date, commandLine, reports);
        long end = System.nanoTime();

        o.println();
        o.println("== Summary");
        o.printf(Locale.ROOT, "Trained now: %s, %,d parameters, %d of %d steps at %s tokens%s.%n", reports.getFirst().modelKind(), trained.parameterCount(),
                trained.completedSteps(), trained.plannedSteps(), Bytes.tokens(trainedState.train().seqLen()),
                trained.stoppedByTimeLimit() ? " (stopped by the time limit)" : "");
        printSummary(o, reports.getFirst(), plan.trainedMultiples());
        if (shippedState != null) {
            o.printf(Locale.ROOT, "%nShipped: %s, %,d parameters, trained %d steps at %s tokens.%n", reports.getLast().modelKind(),
                    reports.getLast().parameters(), shippedState.step(), Bytes.tokens(shippedState.train().seqLen()));
            printSummary(o, reports.getLast(), plan.shippedMultiples());
        }
        printLegend(o);
        o.printf(Locale.ROOT, "%nTime: devices + self-check %s, training %s, evaluation %s; total %s on %s.%n",
                clock(afterSelfCheck - start), clock(afterTraining - afterSelfCheck), clock(end - afterTraining), clock(end - start), d);
        o.println("Report: " + run.resolve(HtmlReport.FILE).toAbsolutePath());
        o.println((plan.curriculum() ? "The model trained now went through " + config.getFileName() + "'s curriculum (configs/README.md; "
                + "docs/experiments.md has how it was found). " : "This plan trains without the config's curriculum, too briefly to learn retrieval (docs/experiments.md). ")
                + "The shipped model's README has the commands that trained it. "
                + (trained.stoppedByTimeLimit() ? "Continue this run with ./hsa train --config " + config + " --resume " + run + "; " : "")
                + "evaluate any checkpoint further with ./hsa eval --checkpoint DIR (docs/eval.md).");
        if (d.isJava()) o.println(javaBackendNote(quick));
        return 0;
    }

    /** One model on the demo's grid: tasks × (multiples of its training length) × depths × samples, with a progress bar. */
    private static RunReport evaluate(Device d, PrintStream o, String label, Path checkpoint, CheckpointState state, Plan plan,
                                      List<Integer> multiples, String date, String commandLine) {
        List<Integer> lengths = multiples.stream().map(m -> m * state.train().seqLen()).toList();
        int batch = Math.min(4, plan.samples());
        GridRunner.Grid grid = new GridRunner.Grid(TASKS, lengths, plan.depths(), plan.samples(), List.of(99L), batch, 256,
                d.info().globalMemBytes(), Integer.MAX_VALUE);
        o.printf(Locale.ROOT, "%s at %s tokens (%s its training length), depths %s, %d sample%s per cell (teacher-forced exact match)%n",
                String.join(" + ", TASKS), lengths.stream().map(Bytes::tokens).collect(Collectors.joining(", ")),
                multiples.stream().map(m -> m + "x").collect(Collectors.joining(", ")),
                plan.depths().stream().map(x -> String.format(Locale.ROOT, "%.1f", x)).collect(Collectors.joining(", ")),
                plan.samples(), plan.samples() == 1 ? "" : "s");
        EvalProgress progress = new EvalProgress(System.err, EvalProgress.consoleIsTerminal(), grid.cellsPerRun(), grid.workPerRun());
        RunReport report = new GridRunner(grid, d, o, progress).run(label, checkpoint, state, null, date, commandLine);
        progress.finish();
        return report;
    }

    /** On the Java backend: whether OpenCL is missing (and how to install it) or was passed over, and what the plan leaves out. */
    static String javaBackendNote(boolean quick) {
        String problem = Devices.openClProblem();
        String reduced = quick ? "" : "This is the reduced demo on the Java backend (shorter training, lengths to 16x the training length). ";
        if (problem != null) {
            return "OpenCL was not found: " + problem + "\n" + reduced
                    + "For the full demo (to 64x) install an OpenCL driver (PoCL runs on any CPU), check that ./hsa devices lists it, and run ./hsa demo again.";
        }
        return reduced + "OpenCL is available here (" + Devices.preferred() + "): ./hsa demo without --device java runs the full demo on it.";
    }

    /** One line per task and length: exact match pooled over depths and samples, answer tokens right, and the needle-chunk rate where measured. */
    static void printSummary(PrintStream o, RunReport report, List<Integer> multiples) {
        o.printf("%-12s %8s %7s %16s %14s %16s%n", "task", "length", "×train", "exact match", "answer tokens", "needle selected");
        for (String task : TASKS) {
            for (int multiple : multiples) {
                int length = multiple * report.trainLength();
                int samples = 0, correct = 0, answerTokens = 0, answerTokensRight = 0, needleSamples = 0;
                double needle = 0;
                List<String> notes = new ArrayList<>();
                for (CellResult c : report.cells()) {
                    if (!c.task().equals(task) || c.length() != length) continue;
                    if (!c.ran()) {
                        if (!notes.contains(c.note())) notes.add(c.note());
                        continue;
                    }
                    samples += c.samples();
                    correct += c.correct();
                    answerTokens += c.answerTokens();
                    answerTokensRight += c.answerTokensCorrect();
                    if (c.needleChunkSelected() != null) {
                        needle += c.needleChunkSelected() * c.samples();
                        needleSamples += c.samples();
                    }
                }
                String x = multiple + "x";
                if (samples == 0) {
                    o.printf("%-12s %8s %7s   %s%n", task, Bytes.tokens(length), x, String.join("; ", notes));
                    continue;
                }
                o.printf(Locale.ROOT, "%-12s %8s %7s %16s %13.1f%% %16s%n", task, Bytes.tokens(length), x,
                        String.format(Locale.ROOT, "%.1f%% (%d/%d)", 100.0 * correct / samples, correct, samples),
                        100.0 * answerTokensRight / answerTokens,
                        needleSamples == 0 ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * needle / needleSamples));
            }
        }
    }

    static void printLegend(PrintStream o) {
        o.println("Exact match: every answer token is the argmax given the true prefix, pooled over depths; answer tokens: the fraction of single"
                + " answer tokens right; needle selected: how often the first retrieval layer picks a chunk that carries the needle (its own, or a later one whose lower-layer states see it)."
                + " docs/eval.md defines them. The shipped model was trained on passkey only.");
    }

    private static String clock(long nanos) {
        long s = Math.round(nanos / 1e9);
        return String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }

    private String commandLine() {
        StringBuilder sb = new StringBuilder("./hsa demo");
        if (spec != null) {
            List<String> args = spec.commandLine().getParseResult().originalArgs();
            for (int i = !args.isEmpty() && args.get(0).equals("demo") ? 1 : 0; i < args.size(); i++) {
                String a = args.get(i);
                sb.append(' ').append(a.contains(" ") ? "'" + a + "'" : a);
            }
        }
        return sb.toString();
    }
}
