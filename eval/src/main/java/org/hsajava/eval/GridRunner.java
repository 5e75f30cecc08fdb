package org.hsajava.eval;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;
import org.hsajava.compute.Device;
import org.hsajava.eval.report.Bytes;
import org.hsajava.eval.report.CellResult;
import org.hsajava.eval.report.RunReport;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
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

/**
 * Runs one checkpoint over an evaluation grid: for each context length one scorer
 * ({@link Scorers#forLength}), then every task × depth × seed cell and the perplexity cell at that
 * length. A length the scorer cannot hold (memory estimate above the limit, dense attention above
 * its length limit, a tensor above 2^31 elements) is not run: its cells say why, the rest goes on.
 */
public final class GridRunner {

    /**
     * What to evaluate. {@code tasks} are canonical names ({@link TaskNames}); {@code seeds} are the
     * sampling seeds, one cell each; {@code pplSpan} is the number of tokens perplexity scores at the
     * end of each window; {@code maxMemoryBytes} bounds a scorer's estimated device memory;
     * {@code maxDenseLength} bounds the length a full-causal model is run at (its cost grows as L²).
     */
    public record Grid(List<String> tasks, List<Integer> lengths, List<Double> depths, int samples, List<Long> seeds, int batch,
                       int pplSpan, long maxMemoryBytes, int maxDenseLength) {
        public Grid {
            tasks = List.copyOf(tasks);
            lengths = List.copyOf(lengths);
            depths = List.copyOf(depths);
            seeds = List.copyOf(seeds);
        }

        public boolean hasPerplexity() { return tasks.contains(TaskNames.PERPLEXITY); }

        public List<String> retrievalTasks() { return tasks.stream().filter(t -> !t.equals(TaskNames.PERPLEXITY)).toList(); }

        /** Cells one checkpoint contributes. */
        public int cellsPerRun() {
            return lengths.size() * (retrievalTasks().size() * depths.size() * seeds.size() + (hasPerplexity() ? 1 : 0));
        }

        /** Work of one checkpoint in token units (samples × length summed over cells), for the ETA. */
        public double workPerRun() {
            double w = 0;
            for (int l : lengths) w += (double) l * samples * (retrievalTasks().size() * depths.size() * seeds.size() + (hasPerplexity() ? 1 : 0));
            return w;
        }
    }

    private final Grid grid;
    private final Device device;
    private final PrintStream table;
    private final EvalProgress progress;
    private Consumer<TeacherForcedEval.AnswerTrace> trace;

    /** {@code table}: where the per-cell lines go (stdout); {@code progress}: the bar shared by every run of a command. */
    public GridRunner(Grid grid, Device device, PrintStream table, EvalProgress progress) {
        this.grid = grid;
        this.device = device;
        this.table = table;
        this.progress = progress;
    }

    /** Hands every answer token of every retrieval cell to {@code sink} ({@code ./hsa eval --trace}). */
    public GridRunner withTrace(Consumer<TeacherForcedEval.AnswerTrace> sink) {
        this.trace = sink;
        return this;
    }

    /**
     * Evaluates {@code state} (loaded from {@code checkpoint}) over the grid. {@code heldOut} is the
     * perplexity text (null when the grid has no {@code ppl}).
     */
    public RunReport run(String label, Path checkpoint, CheckpointState state, HeldOutText heldOut, String date, String commandLine) {
        Tokenizer tokenizer = Tokenizers.create(state.train().tokenizer());
        List<SyntheticTask> tasks = new ArrayList<>();
        if (!grid.retrievalTasks().isEmpty()) {
            Filler filler = filler(state, tokenizer);
            for (String t : grid.retrievalTasks()) tasks.add(SyntheticTasks.create(t, tokenizer, filler, LossMask.ANSWER));
        }
        table.printf(Locale.ROOT, "%s: checkpoint %s (step %d, %s model) on %s%n", label, checkpoint, state.step(), state.model().attentionKind().jsonName(), device);
        table.printf("%-18s %8s %6s %6s %9s %9s %8s %8s %9s %10s%n", "task", "length", "depth", "seed", "accuracy", "ans.tok", "needle", "needle w", "seconds", "memory");
        List<CellResult> cells = new ArrayList<>();
        for (int length : grid.lengths()) {
            String reason = notRunReason(state.model(), length);
            if (reason == null) {
                try (SequenceScorer scorer = Scorers.forLength(state.model(), state.parameters(), device, grid.batch(), length)) {
                    for (SyntheticTask task : tasks) runTask(scorer, task, length, cells);
                    if (grid.hasPerplexity()) cells.add(perplexity(scorer, heldOut, length));
                } catch (OutOfMemoryError e) {
                    reason = "ran out of memory at " + Bytes.tokens(length) + " tokens (" + e.getMessage() + ")";
                }
            }
            if (reason != null) skipLength(length, reason, cells);
        }
        return new RunReport(label, checkpoint.toString(), state.step(), state.model().attentionKind().jsonName(), state.train().seqLen(),
                state.layout().parameterCount(), highlights(state), device.name(), date, commandLine,
                heldOut == null ? null : heldOut.description(), cells);
    }

    private void runTask(SequenceScorer scorer, SyntheticTask task, int length, List<CellResult> cells) {
        String fits = fits(task, length);
        for (double depth : grid.depths()) {
            for (long seed : grid.seeds()) {
                String label = String.format(Locale.ROOT, "%s %s depth %.2f seed %d", task.name(), Bytes.tokens(length), depth, seed);
                if (fits != null) {
                    CellResult r = CellResult.notRun(task.name(), length, depth, seed, fits);
                    cells.add(r);
                    record(r, label, (double) grid.samples() * length);
                    continue;
                }
                progress.starting(label);
                TeacherForcedEval.Cell c = TeacherForcedEval.run(scorer, task, length, depth, grid.samples(), seed, trace);
                CellResult r = CellResult.accuracy(c.task(), length, depth, seed, c.samples(), c.correct(), c.answerTokens(), c.tokensCorrect(),
                        finite(c.needleSelectedRate()), finite(c.meanNeedleWeight()), c.seconds(), c.peakDeviceBytes());
                cells.add(r);
                record(r, label, (double) grid.samples() * length);
            }
        }
    }

    private CellResult perplexity(SequenceScorer scorer, HeldOutText text, int length) {
        String label = "ppl " + Bytes.tokens(length);
        double work = (double) grid.samples() * length;
        CellResult r;
        if (length < 2) {
            r = CellResult.notRun(TaskNames.PERPLEXITY, length, null, null, "perplexity needs at least 2 tokens");
        } else if (text.windowsFitting(length, grid.samples(), grid.pplSpan()) == 0) {
            r = CellResult.notRun(TaskNames.PERPLEXITY, length, null, null, "held-out text " + text.description() + " has only "
                    + text.available() + " tokens, fewer than one window of " + length + " (choose a longer text with --ppl-corpus)");
        } else {
            progress.starting(label);
            PerplexityEval.Result p = PerplexityEval.run(scorer, text, length, grid.samples(), grid.pplSpan());
            r = CellResult.perplexity(length, p.sequences(), p.tokens(), p.meanNll(), p.seconds(), p.peakDeviceBytes());
        }
        record(r, label, work);
        return r;
    }

    /** Adds a not-run cell, saying why, for every cell of {@code length} that {@code cells} does not hold yet; one console line for them all. */
    private void skipLength(int length, String reason, List<CellResult> cells) {
        String note = "not run: " + reason;
        java.util.Set<String> present = new java.util.HashSet<>();
        for (CellResult c : cells) if (c.length() == length) present.add(c.task() + "/" + c.depth() + "/" + c.seed());
        List<CellResult> skipped = new ArrayList<>();
        for (String task : grid.retrievalTasks())
            for (double depth : grid.depths())
                for (long seed : grid.seeds())
                    if (!present.contains(task + "/" + depth + "/" + seed)) skipped.add(CellResult.notRun(task, length, depth, seed, note));
        if (grid.hasPerplexity() && !present.contains(TaskNames.PERPLEXITY + "/null/null")) skipped.add(CellResult.notRun(TaskNames.PERPLEXITY, length, null, null, note));
        cells.addAll(skipped);
        progress.finish();
        table.printf(Locale.ROOT, "%-18s %8s   %d cells %s%n", "(all tasks)", Bytes.tokens(length), skipped.size(), note);
        table.flush();
        progress.skipped("all cells at " + Bytes.tokens(length), skipped.size(), (double) grid.samples() * length * skipped.size());
    }

    /** Why a scorer for {@code length} is not built, or null when it is. */
    String notRunReason(ModelConfig config, int length) {
        if (config.attentionKind() == AttentionKind.FULL_CAUSAL && length > grid.maxDenseLength())
            return "full causal attention at " + Bytes.tokens(length) + " tokens is above --max-dense-length " + Bytes.tokens(grid.maxDenseLength()) + " (its cost grows as L²)";
        long bytes;
        try {
            bytes = Scorers.estimateDeviceBytes(config, device, grid.batch(), length);
        } catch (IllegalArgumentException e) {
            return "the model cannot be built at " + Bytes.tokens(length) + " tokens: " + e.getMessage();
        }
        if (bytes > grid.maxMemoryBytes())
            return "needs " + Bytes.human(bytes) + " of device memory at batch " + grid.batch() + ", above the " + Bytes.human(grid.maxMemoryBytes()) + " limit (--max-memory)";
        return null;
    }

    /** Null when {@code task} can make samples of {@code length} tokens, else why not. */
    private static String fits(SyntheticTask task, int length) {
        try {
            task.generate(length, 0.5, new SplittableRandom(0));
            return null;
        } catch (IllegalArgumentException e) {
            return "not run: " + e.getMessage();
        }
    }

    private void record(CellResult r, String label, double work) {
        progress.finish();
        if (r.ran() && r.accuracy() != null) {
            table.printf(Locale.ROOT, "%-18s %8s %6.2f %6d %8.1f%% %8.1f%% %8s %8s %9.2f %10s%n", r.task(), Bytes.tokens(r.length()), r.depth(), r.seed(),
                    100 * r.accuracy(), 100 * r.answerTokenAccuracy(),
                    r.needleChunkSelected() == null ? "-" : String.format(Locale.ROOT, "%.0f%%", 100 * r.needleChunkSelected()),
                    r.needleChunkWeight() == null ? "-" : String.format(Locale.ROOT, "%.3f", r.needleChunkWeight()), r.seconds(), Bytes.human(r.peakMemoryBytes()));
        } else if (r.ran()) {
            table.printf(Locale.ROOT, "%-18s %8s %6s %6s %9s %9s %8s %8s %9.2f %10s   ppl %.3f (%d tokens)%n", r.task(), Bytes.tokens(r.length()), "-", "-", "-", "-", "-", "-",
                    r.seconds(), Bytes.human(r.peakMemoryBytes()), r.perplexity(), r.tokens());
        } else {
            table.printf(Locale.ROOT, "%-18s %8s %6s %6s   %s%n", r.task(), Bytes.tokens(r.length()), r.depth() == null ? "-" : String.format(Locale.ROOT, "%.2f", r.depth()),
                    r.seed() == null ? "-" : r.seed().toString(), r.note());
        }
        table.flush();
        if (r.ran()) progress.done(label, work);
        else progress.skipped(label, 1, work);
    }

    /** Task filler as training had it: sentences of the training corpus, or the passkey papers' repeated sentences. */
    static Filler filler(CheckpointState state, Tokenizer tokenizer) {
        String corpus = state.train().corpus();
        if (corpus == null || corpus.isBlank()) return SentencePool.repeated(tokenizer);
        try {
            return SentencePool.fromCorpus(corpus.equals(MixedBatchSource.BUNDLED) ? Corpora.bundled() : Corpora.open(Path.of(corpus)), tokenizer, 1 << 20);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read the training corpus " + corpus + " for task filler: " + e.getMessage(), e);
        }
    }

    /** The config fields a reader of the report wants to see first. */
    static Map<String, Object> highlights(CheckpointState state) {
        ModelConfig m = state.model();
        Map<String, Object> h = new LinkedHashMap<>();
        h.put("attention_kind", m.attentionKind().jsonName());
        h.put("vocab_size", m.vocabSize());
        h.put("hidden_size", m.hiddenSize());
        h.put("num_attention_heads", m.numAttentionHeads());
        h.put("num_key_value_heads", m.numKeyValueHeads());
        h.put("swa_layers", m.numSwaLayers());
        if (m.attentionKind() != AttentionKind.FULL_CAUSAL) h.put("sliding_window", m.slidingWindow());
        if (m.hasHsa()) {
            h.put("num_upper_groups", m.hsa().numUpperGroups());
            h.put("hsa_kv_heads", m.hsa().numKvHeads());
            h.put("chunk_size", m.hsa().chunkSize());
            h.put("chunk_topk", m.hsa().chunkTopk());
            h.put("encoder_layers", m.hsa().encoderLayers());
        }
        h.put("tokenizer", state.train().tokenizer());
        h.put("train_seq_len", state.train().seqLen());
        h.put("train_steps", state.train().steps());
        h.put("corpus", state.train().corpus().isBlank() ? "(synthetic filler only)" : state.train().corpus());
        h.put("task_mix", state.train().taskMix());
        return h;
    }

    private static Double finite(double x) { return Double.isFinite(x) ? x : null; }
}
