package org.hsajava.eval.report;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * {@code report.html}: one self-contained page (inline CSS and SVG; no script, no network) with,
 * for every run of an {@link EvalReport}: a model summary; per retrieval task a length × depth
 * heatmap of exact-match accuracy per run and accuracy vs length with the training length marked;
 * perplexity vs length; seconds per sequence and peak device memory vs length; and the cells that
 * did not run, with why.
 */
public final class HtmlReport {
    public static final String FILE = "report.html";

    private static final Map<String, String> TASK_TITLES = Map.of(
            "passkey", "Passkey retrieval",
            "niah_single", "Single needle in a haystack",
            "niah_multikey", "Multi-key needle in a haystack",
            "variable_tracking", "Variable tracking",
            "associative_recall", "Associative recall");
    private static final Map<String, String> TASK_TEXT = Map.of(
            "passkey", "Filler text hides “The passkey is: 71432.” at the given depth; the model must repeat the 5 digits after the question.",
            "niah_single", "One “special magic number for ⟨key⟩ is: ⟨7 digits⟩” needle in filler text; the model must give the number for the key asked.",
            "niah_multikey", "Four such needles with different keys at random depths (the queried one at the given depth); the model must give the right key’s number.",
            "variable_tracking", "Two chains VAR A = 48172, VAR B = A, … (4 hops); the model must list every variable bound to the value asked.",
            "associative_recall", "A list of word → number pairs; the model must recall the numbers of four queried words.");

    private HtmlReport() {}

    /** Writes the page through a temporary file. */
    public static void write(EvalReport report, Path file) throws IOException {
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        Files.writeString(tmp, render(report), StandardCharsets.UTF_8);
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    public static String render(EvalReport report) {
        List<RunReport> runs = report.runs();
        StringBuilder h = new StringBuilder(1 << 16);
        String title = "Extrapolation report — " + runs.getFirst().label() + (runs.size() > 1 ? " vs " + String.join(", ", runs.subList(1, runs.size()).stream().map(RunReport::label).toList()) : "");
        h.append("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
                .append("<title>").append(Svg.esc(title)).append("</title><style>").append(Css.STYLE).append("</style></head><body>\n");
        h.append(Css.DEFS);
        h.append("<main>\n<header><p class=\"kicker\">HSA-Java · evaluation</p><h1>").append(Svg.esc(title)).append("</h1><p class=\"sub\">")
                .append(Svg.esc(displayDate(report.created()))).append(" · ").append(Svg.esc(String.join(", ", new LinkedHashSet<>(runs.stream().map(RunReport::device).toList()))))
                .append("</p></header>\n");
        models(h, runs);
        List<String> tasks = retrievalTasks(runs);
        List<Integer> lengths = lengths(runs);
        for (String task : tasks) taskSection(h, runs, task, lengths);
        if (runs.stream().anyMatch(r -> r.cells().stream().anyMatch(c -> c.task().equals("ppl")))) perplexitySection(h, runs);
        costSection(h, runs);
        notRunSection(h, runs);
        definitions(h, report);
        h.append("</main></body></html>\n");
        return h.toString();
    }

    private static void models(StringBuilder h, List<RunReport> runs) {
        h.append("<section class=\"card\"><h2>Models</h2><table class=\"runs\"><thead><tr><th>run</th><th>attention</th><th>parameters</th>")
                .append("<th>step</th><th>training length</th><th>device</th><th>evaluated</th></tr></thead><tbody>");
        for (int i = 0; i < runs.size(); i++) {
            RunReport r = runs.get(i);
            h.append("<tr><td><span class=\"swatch\" style=\"background:").append(Palette.run(i)).append("\"></span><b>").append(Svg.esc(r.label())).append("</b></td><td>")
                    .append(Svg.esc(r.modelKind())).append("</td><td class=\"num\">").append(String.format(Locale.ROOT, "%,d", r.parameters()))
                    .append("</td><td class=\"num\">").append(r.step()).append("</td><td class=\"num\">").append(Bytes.tokens(r.trainLength()))
                    .append("</td><td>").append(Svg.esc(r.device())).append("</td><td class=\"date\">").append(Svg.esc(displayDate(r.date()))).append("</td></tr>");
        }
        h.append("</tbody></table>");
        for (RunReport r : runs) {
            h.append("<details><summary>").append(Svg.esc(r.label())).append(": configuration and checkpoint</summary><dl class=\"config\">");
            h.append("<dt>checkpoint</dt><dd><code>").append(Svg.esc(r.checkpoint())).append("</code></dd>");
            r.model().forEach((k, v) -> h.append("<dt>").append(Svg.esc(k)).append("</dt><dd>").append(Svg.esc(String.valueOf(v))).append("</dd>"));
            if (r.heldOutText() != null) h.append("<dt>perplexity text</dt><dd>").append(Svg.esc(r.heldOutText())).append("</dd>");
            if (r.commandLine() != null) h.append("<dt>command</dt><dd><code>").append(Svg.esc(r.commandLine())).append("</code></dd>");
            h.append("</dl></details>");
        }
        h.append("</section>\n");
    }

    private static void taskSection(StringBuilder h, List<RunReport> runs, String task, List<Integer> allLengths) {
        h.append("<section class=\"card task\" id=\"task-").append(Svg.esc(task)).append("\"><h2>").append(Svg.esc(TASK_TITLES.getOrDefault(task, task)))
                .append(" <span class=\"tag\">").append(Svg.esc(task)).append("</span></h2><p class=\"desc\">")
                .append(Svg.esc(TASK_TEXT.getOrDefault(task, ""))).append(" Exact match: every answer token must be the argmax.</p>");
        h.append("<div class=\"grid\">");
        List<Double> depths = depths(runs, task);
        List<LineChart.Series> series = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            RunReport r = runs.get(i);
            if (r.cells().stream().noneMatch(c -> c.task().equals(task))) continue;
            List<Integer> lengths = allLengths.stream().filter(l -> r.cells().stream().anyMatch(c -> c.task().equals(task) && c.length() == l)).toList();
            h.append("<figure><figcaption><span class=\"swatch\" style=\"background:").append(Palette.run(i)).append("\"></span>")
                    .append(Svg.esc(r.label())).append("</figcaption>").append(Heatmap.render(r, task, lengths, depths)).append("</figure>");
            List<LineChart.Point> points = new ArrayList<>();
            Pooled.group(r, task, CellResult::length).forEach((len, p) -> {
                if (p.ran()) points.add(new LineChart.Point(len, p.accuracy(), p.describe() + " (all depths)"));
            });
            series.add(new LineChart.Series(r.label(), Palette.run(i), points));
        }
        h.append("</div><figure class=\"wide\"><figcaption>Exact-match accuracy vs context length (all depths and seeds pooled)</figcaption>")
                .append(LineChart.render("accuracy", "context length (tokens, log scale)",
                        new LineChart.YAxis("accuracy", 0, 0.0, 1.0, y -> String.format(Locale.ROOT, "%.0f%%", 100 * y)), series, trainMarkers(runs)))
                .append("</figure></section>\n");
    }

    private static void perplexitySection(StringBuilder h, List<RunReport> runs) {
        h.append("<section class=\"card\" id=\"perplexity\"><h2>Perplexity vs context length <span class=\"tag\">ppl</span></h2><p class=\"desc\">")
                .append("Held-out text, cut into windows that all end at the same places, so every length scores the same tokens (the last min(N, L−1) of each window) and only the context before them grows. ")
                .append("Lower is better; a curve that falls with length means the model uses the longer context.</p>");
        List<LineChart.Series> series = new ArrayList<>();
        TreeSet<Integer> lengths = new TreeSet<>();
        List<Map<Integer, CellResult>> byRun = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            Map<Integer, CellResult> m = new TreeMap<>();
            for (CellResult c : runs.get(i).cells()) if (c.task().equals("ppl")) { m.put(c.length(), c); lengths.add(c.length()); }
            byRun.add(m);
            if (m.isEmpty()) continue;
            List<LineChart.Point> pts = new ArrayList<>();
            m.forEach((len, c) -> {
                if (c.ran()) pts.add(new LineChart.Point(len, c.perplexity(), String.format(Locale.ROOT, "perplexity %.3f (mean NLL %.4f nats over %,d tokens, %d windows); %.2f s",
                        c.perplexity(), c.meanNll(), c.tokens(), c.samples(), c.seconds())));
            });
            series.add(new LineChart.Series(runs.get(i).label(), Palette.run(i), pts));
        }
        h.append("<div class=\"grid\"><figure class=\"wide\">").append(LineChart.render("perplexity", "context length (tokens, log scale)",
                new LineChart.YAxis("perplexity", 0, null, null, HtmlReport::compact), series, trainMarkers(runs))).append("</figure>");
        h.append("<table class=\"numbers\"><thead><tr><th>length</th>");
        for (int i = 0; i < runs.size(); i++) if (!byRun.get(i).isEmpty()) h.append("<th>").append(Svg.esc(runs.get(i).label())).append("</th>");
        h.append("</tr></thead><tbody>");
        for (int len : lengths) {
            h.append("<tr><td class=\"num\">").append(Bytes.tokens(len)).append("</td>");
            for (int i = 0; i < runs.size(); i++) {
                if (byRun.get(i).isEmpty()) continue;
                CellResult c = byRun.get(i).get(len);
                h.append("<td class=\"num\">");
                if (c == null) h.append("–");
                else if (!c.ran()) h.append("<span class=\"na\" title=\"").append(Svg.esc(Objects.toString(c.note(), ""))).append("\">n/a</span>");
                else h.append(String.format(Locale.ROOT, "%.3f", c.perplexity()));
                h.append("</td>");
            }
            h.append("</tr>");
        }
        h.append("</tbody></table></div></section>\n");
    }

    private static void costSection(StringBuilder h, List<RunReport> runs) {
        List<LineChart.Series> time = new ArrayList<>(), memory = new ArrayList<>();
        for (int i = 0; i < runs.size(); i++) {
            Map<Integer, double[]> byLength = new TreeMap<>();  // seconds, sequences, peak bytes
            for (CellResult c : runs.get(i).cells()) {
                if (!c.ran()) continue;
                double[] a = byLength.computeIfAbsent(c.length(), k -> new double[3]);
                a[0] += c.seconds();
                a[1] += c.samples();
                a[2] = Math.max(a[2], c.peakMemoryBytes());
            }
            List<LineChart.Point> t = new ArrayList<>(), m = new ArrayList<>();
            byLength.forEach((len, a) -> {
                t.add(new LineChart.Point(len, a[0] / a[1], String.format(Locale.ROOT, "%.3g s per sequence (%.1f s for %.0f sequences)", a[0] / a[1], a[0], a[1])));
                m.add(new LineChart.Point(len, a[2], Bytes.human((long) a[2]) + " peak device memory"));
            });
            time.add(new LineChart.Series(runs.get(i).label(), Palette.run(i), t));
            memory.add(new LineChart.Series(runs.get(i).label(), Palette.run(i), m));
        }
        h.append("<section class=\"card\" id=\"cost\"><h2>Time and memory</h2><p class=\"desc\">Wall-clock seconds per scored sequence (all cells at a length) and the most device memory the scorer held (parameters, activations, chunk memory). Log scales.</p><div class=\"grid\">");
        h.append("<figure><figcaption>Seconds per sequence</figcaption>").append(LineChart.render("seconds", "context length (tokens, log scale)",
                new LineChart.YAxis("seconds per sequence", 10, null, null, HtmlReport::compact), time, List.of())).append("</figure>");
        h.append("<figure><figcaption>Peak device memory</figcaption>").append(LineChart.render("memory", "context length (tokens, log scale)",
                new LineChart.YAxis("peak device memory", 2, null, null, y -> Bytes.human(Math.round(y))), memory, List.of())).append("</figure>");
        h.append("</div></section>\n");
    }

    private static void notRunSection(StringBuilder h, List<RunReport> runs) {
        Map<String, List<String>> notes = new LinkedHashMap<>();
        for (RunReport r : runs) for (CellResult c : r.cells()) if (!c.ran()) {
            String key = r.label() + " · " + c.task() + " · " + Bytes.tokens(c.length());
            List<String> l = notes.computeIfAbsent(key, k -> new ArrayList<>());
            if (!l.contains(c.note())) l.add(Objects.toString(c.note(), "not run"));
        }
        if (notes.isEmpty()) return;
        h.append("<section class=\"card\" id=\"not-run\"><h2>Cells not run</h2><ul class=\"notes\">");
        notes.forEach((k, v) -> h.append("<li><b>").append(Svg.esc(k)).append("</b>: ").append(Svg.esc(String.join("; ", v))).append("</li>"));
        h.append("</ul></section>\n");
    }

    private static void definitions(StringBuilder h, EvalReport report) {
        h.append("<footer><p><b>Exact match</b>: a sample counts only if the argmax of the logits at every answer token is that token (teacher forced). ")
                .append("<b>Answer tokens</b>: the fraction of single answer tokens right (partial credit). <b>Needle chunk selected</b>: for every answer token whose copy in the needle ")
                .append("lies in a chunk wholly in the past, how often the first retrieval layer, where the token is predicted, selected a chunk that carries the copy ")
                .append("(its own chunk, or a later one whose lower-layer states see it: within num_lower_layers × sliding_window tokens), and the mean weight those chunks got there. ")
                .append("Cells are pooled over seeds: accuracy = Σ correct / Σ samples. ")
                .append("Hover over a cell or a point for its numbers.</p><p>Generated by <code>").append(Svg.esc(Objects.toString(report.commandLine(), "")))
                .append("</code> at ").append(Svg.esc(report.created())).append(".</p></footer>");
    }

    /** 3 significant digits without trailing zeros: 0.1, 2.5, 10, 1234. */
    static String compact(double v) {
        if (Math.abs(v) >= 1000) return String.format(Locale.ROOT, "%.0f", v);
        return new java.math.BigDecimal(String.format(Locale.ROOT, "%.3g", v)).stripTrailingZeros().toPlainString();
    }

    /** 2026-01-02T03:04:05Z → 2026-01-02 03:04 UTC (anything else as it is). */
    static String displayDate(String iso) {
        if (iso == null) return "";
        return iso.matches("\\d{4}-\\d{2}-\\d{2}T\\d{2}:\\d{2}:\\d{2}Z") ? iso.substring(0, 10) + " " + iso.substring(11, 16) + " UTC" : iso;
    }

    private static List<LineChart.Marker> trainMarkers(List<RunReport> runs) {
        List<Integer> distinct = runs.stream().map(RunReport::trainLength).distinct().toList();
        List<LineChart.Marker> out = new ArrayList<>();
        if (distinct.size() == 1) {
            out.add(new LineChart.Marker(distinct.getFirst(), "training length " + Bytes.tokens(distinct.getFirst()), Palette.MUTED));
        } else {
            for (int i = 0; i < runs.size(); i++)
                out.add(new LineChart.Marker(runs.get(i).trainLength(), runs.get(i).label() + " trained at " + Bytes.tokens(runs.get(i).trainLength()), Palette.run(i)));
        }
        return out;
    }

    private static List<String> retrievalTasks(List<RunReport> runs) {
        LinkedHashSet<String> tasks = new LinkedHashSet<>();
        for (RunReport r : runs) for (CellResult c : r.cells()) if (!c.task().equals("ppl")) tasks.add(c.task());
        return List.copyOf(tasks);
    }

    private static List<Integer> lengths(List<RunReport> runs) {
        TreeSet<Integer> s = new TreeSet<>();
        for (RunReport r : runs) for (CellResult c : r.cells()) s.add(c.length());
        return List.copyOf(s);
    }

    private static List<Double> depths(List<RunReport> runs, String task) {
        TreeSet<Double> s = new TreeSet<>();
        for (RunReport r : runs) for (CellResult c : r.cells()) if (c.task().equals(task) && c.depth() != null) s.add(c.depth());
        return List.copyOf(s);
    }
}
