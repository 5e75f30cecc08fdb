package org.hsajava.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.eval.AnswerTraceWriter;
import org.hsajava.eval.Checkpoints;
import org.hsajava.eval.EvalProgress;
import org.hsajava.eval.GridRunner;
import org.hsajava.eval.HeldOutSources;
import org.hsajava.eval.HeldOutText;
import org.hsajava.eval.TaskNames;
import org.hsajava.eval.report.Bytes;
import org.hsajava.eval.report.EvalReport;
import org.hsajava.eval.report.HtmlReport;
import org.hsajava.eval.report.ReportJson;
import org.hsajava.eval.report.RunReport;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.text.Tokenizers;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./hsa eval}: a checkpoint (and optional baselines) over a grid of tasks × context lengths ×
 * needle depths × seeds: teacher-forced exact match on the retrieval tasks, perplexity on held-out
 * text, time and memory per cell; writes {@code report.json} and {@code report.html} (docs/eval.md).
 */
@Command(name = "eval", description = "Accuracy and perplexity of a checkpoint over lengths x depths x seeds; report.json + report.html.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true, description = "a checkpoint folder, or a run folder (its latest checkpoint)")
    Path checkpoint;

    @Option(names = "--label", description = "name of this model in the report (default: its attention kind)")
    String label;

    @Option(names = "--baseline", paramLabel = "LABEL=DIR", description = "also evaluate this checkpoint on the same grid, e.g. swa_only=runs/swa (repeatable)")
    List<String> baselines = new ArrayList<>();

    @Option(names = "--tasks", defaultValue = "passkey", split = ",",
            description = "passkey, niah (niah_single), mk-niah (niah_multikey), vt (variable_tracking), ar (associative_recall), ppl (default ${DEFAULT-VALUE})")
    List<String> tasks;

    @Option(names = "--lengths", defaultValue = "1K", split = ",", description = "context lengths in tokens, e.g. 1K,4K,64K,1M (default ${DEFAULT-VALUE})")
    List<String> lengths;

    @Option(names = "--depths", defaultValue = "0.1,0.5,0.9", split = ",", description = "needle depths in [0,1] (default ${DEFAULT-VALUE})")
    List<Double> depths;

    @Option(names = "--samples", defaultValue = "20", description = "samples per cell; held-out windows per length for ppl (default ${DEFAULT-VALUE})")
    int samples;

    @Option(names = "--seeds", defaultValue = "1", description = "sampling seeds per (task, length, depth): --seed, --seed+1, ... (default ${DEFAULT-VALUE})")
    int seeds;

    @Option(names = "--seed", defaultValue = "99", description = "first sampling seed; differs from training's streams (default ${DEFAULT-VALUE})")
    long seed;

    @Option(names = "--batch", defaultValue = "4", description = "sequences per forward pass (default ${DEFAULT-VALUE})")
    int batch;

    @Option(names = "--ppl-corpus", paramLabel = "PATH", description = "held-out text for ppl: a file, folder, or 'bundled' (default: the training corpus's validation part, or the bundled corpus when training used synthetic filler only)")
    String pplCorpus;

    @Option(names = "--ppl-tokens", defaultValue = "256", description = "ppl scores the last min(N, L-1) tokens of each window (default ${DEFAULT-VALUE})")
    int pplTokens;

    @Option(names = "--max-memory", paramLabel = "SIZE", description = "skip lengths whose scorer would need more device memory than this, e.g. 8G (default: the device's memory)")
    String maxMemory;

    @Option(names = "--max-dense-length", defaultValue = "64K", description = "skip lengths above this for full_causal models (cost grows as L^2) (default ${DEFAULT-VALUE})")
    String maxDenseLength;

    @Option(names = "--out", description = "write report.json and report.html into this folder")
    Path out;

    @Option(names = "--trace", paramLabel = "FILE",
            description = "write one JSON line per answer token of every retrieval cell: expected and predicted token, the needle copy's position, "
                    + "and the first retrieval layer's chunks and weights where the token is predicted (docs/eval.md)")
    Path trace;

    @Mixin
    DeviceOption device;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws Exception {
        if (samples < 1 || batch < 1) throw new IllegalArgumentException("--samples and --batch must be >= 1");
        if (seeds < 1) throw new IllegalArgumentException("--seeds must be >= 1, got " + seeds);
        if (pplTokens < 1) throw new IllegalArgumentException("--ppl-tokens must be >= 1, got " + pplTokens);
        for (double d : depths) if (!(d >= 0 && d <= 1)) throw new IllegalArgumentException("--depths must lie in [0, 1], got " + d);
        List<String> taskNames = TaskNames.canonical(tasks);
        List<Integer> lengthList = new ArrayList<>();
        for (String spec : lengths) for (int l : BenchCommand.parseSizes(spec)) if (!lengthList.contains(l)) lengthList.add(l);
        List<Long> seedList = new ArrayList<>();
        for (int i = 0; i < seeds; i++) seedList.add(seed + i);
        Map<String, Path> runs = runs();
        Device d = device.device();
        long memoryLimit = maxMemory == null ? d.info().globalMemBytes() : Bytes.parse(maxMemory, "--max-memory");
        GridRunner.Grid grid = new GridRunner.Grid(taskNames, lengthList, depths, samples, seedList, batch, pplTokens, memoryLimit,
                BenchCommand.parseSizes(maxDenseLength)[0]);

        String date = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        String commandLine = commandLine();
        EvalProgress progress = new EvalProgress(System.err, EvalProgress.consoleIsTerminal(), grid.cellsPerRun() * runs.size(), grid.workPerRun() * runs.size());
        GridRunner runner = new GridRunner(grid, d, System.out, progress);
        try (AnswerTraceWriter traceWriter = trace == null ? null : new AnswerTraceWriter(trace)) {
            if (traceWriter != null) runner.withTrace(traceWriter);
            return evaluate(runner, grid, runs, lengthList, date, commandLine, progress);
        }
    }

    private Integer evaluate(GridRunner runner, GridRunner.Grid grid, Map<String, Path> runs, List<Integer> lengthList, String date, String commandLine,
                             EvalProgress progress) throws Exception {
        Map<String, HeldOutText> texts = new HashMap<>();
        List<RunReport> reports = new ArrayList<>();
        for (Map.Entry<String, Path> run : runs.entrySet()) {
            CheckpointState state = Checkpoints.load(run.getValue());
            HeldOutText text = grid.hasPerplexity() ? heldOut(state, lengthList, texts) : null;
            String name = run.getKey() != null ? run.getKey() : state.model().attentionKind().jsonName();
            reports.add(runner.run(name, run.getValue(), state, text, date, commandLine));
        }
        progress.finish();
        if (out != null) writeReport(out, date, commandLine, reports);
        return 0;
    }

    /**
     * Writes {@code report.json} and {@code report.html} of {@code reports} (the model first, then its
     * baselines) into {@code out}, keeping an earlier {@code report.json} there; shared with {@code ./hsa demo}.
     */
    static EvalReport writeReport(Path out, String date, String commandLine, List<RunReport> reports) throws java.io.IOException {
        Files.createDirectories(out);
        // through merge so that a baseline labelled like the model (say two "hsa" runs) gets a distinct label
        EvalReport report = ReportJson.merge(List.of(EvalReport.of(date, commandLine, reports)), null, date, commandLine);
        Path kept = ReportJson.keepPrevious(out.resolve(ReportJson.FILE));
        if (kept != null) System.out.println("kept the previous report as " + kept);
        ReportJson.write(report, out.resolve(ReportJson.FILE));
        HtmlReport.write(report, out.resolve(HtmlReport.FILE));
        System.out.println("wrote " + out.resolve(ReportJson.FILE) + " and " + out.resolve(HtmlReport.FILE));
        return report;
    }

    /** The checkpoint under study first, then the baselines, by label (null: the model's attention kind). */
    private Map<String, Path> runs() {
        Map<String, Path> runs = new LinkedHashMap<>();
        runs.put(label, checkpoint);
        for (String b : baselines) {
            int eq = b.indexOf('=');
            if (eq <= 0 || eq == b.length() - 1) throw new IllegalArgumentException("--baseline: expected LABEL=DIR, got '" + b + "'");
            String l = b.substring(0, eq).trim();
            if (runs.containsKey(l)) throw new IllegalArgumentException("--baseline: the label '" + l + "' is used twice");
            runs.put(l, Path.of(b.substring(eq + 1)));
        }
        return runs;
    }

    /** The held-out text of a run (shared by runs with the same source and tokenizer), keeping enough tokens for the longest window. */
    private HeldOutText heldOut(CheckpointState state, List<Integer> lengthList, Map<String, HeldOutText> cache) {
        HeldOutSources.Source source = HeldOutSources.resolve(pplCorpus, state.train());
        String key = source.description() + "|" + state.train().tokenizer();
        HeldOutText cached = cache.get(key);
        if (cached != null) return cached;
        int longest = lengthList.stream().mapToInt(Integer::intValue).max().orElseThrow();
        long keep = longest + (long) (samples - 1) * pplTokens;  // windows end pplTokens apart (PerplexityEval)
        HeldOutText text = HeldOutText.read(source.corpus(), source.description(), Tokenizers.create(state.train().tokenizer()),
                (int) Math.min(Integer.MAX_VALUE - 8, keep));
        cache.put(key, text);
        return text;
    }

    private String commandLine() {
        List<String> args = spec.commandLine().getParseResult().originalArgs();
        StringBuilder sb = new StringBuilder("./hsa");
        if (args.isEmpty() || !args.get(0).equals("eval")) sb.append(" eval");
        for (String a : args) sb.append(' ').append(a.contains(" ") ? "'" + a + "'" : a);
        return sb.toString();
    }
}
