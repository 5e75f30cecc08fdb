package org.hsajava.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.hsajava.eval.report.EvalReport;
import org.hsajava.eval.report.HtmlReport;
import org.hsajava.eval.report.ReportJson;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code ./hsa report}: merges existing {@code report.json} files (say the HSA model's and its
 * baselines', evaluated separately) into one {@code report.json} + {@code report.html}, the runs
 * side by side in the order given. Nothing is evaluated again.
 */
@Command(name = "report", description = "Merge report.json files (the model, then its baselines) into one report.json + report.html.")
public final class ReportCommand implements Callable<Integer> {
    @Option(names = "--in", required = true, paramLabel = "[LABEL=]PATH",
            description = "a report.json or a folder holding one; LABEL renames its run (repeatable; the first is the model under study)")
    List<String> inputs;

    @Option(names = "--out", required = true, description = "folder for the merged report.json and report.html")
    Path out;

    @Spec
    CommandSpec spec;

    /** One {@code --in}: an optional label and the report's path. */
    record Input(String label, Path path) {
        /** {@code LABEL=PATH} or {@code PATH} (a path that exists as given is never split at '='). */
        static Input parse(String spec) {
            int eq = spec.indexOf('=');
            if (eq > 0 && !Files.exists(Path.of(spec))) return new Input(spec.substring(0, eq).trim(), Path.of(spec.substring(eq + 1)));
            return new Input(null, Path.of(spec));
        }

        Path file() { return Files.isDirectory(path) ? path.resolve(ReportJson.FILE) : path; }
    }

    @Override
    public Integer call() throws Exception {
        List<Input> parsed = inputs.stream().map(Input::parse).toList();
        List<EvalReport> reports = new ArrayList<>();
        for (Input in : parsed) {
            try {
                reports.add(ReportJson.read(in.path()));
            } catch (IllegalArgumentException e) {
                throw new IllegalArgumentException("--in " + in.path() + ": " + e.getMessage(), e);
            }
        }
        String created = Instant.now().truncatedTo(ChronoUnit.SECONDS).toString();
        String commandLine = "./hsa " + String.join(" ", spec.commandLine().getParseResult().originalArgs());
        EvalReport merged = ReportJson.merge(reports, parsed.stream().map(Input::label).toList(), created, commandLine);
        Path json = out.resolve(ReportJson.FILE), html = out.resolve(HtmlReport.FILE);
        for (Input in : parsed)  // never replace an input with the merge (it would lose that run's only copy)
            if (Files.exists(json) && Files.isSameFile(in.file(), json))
                throw new IllegalArgumentException("--out " + out + " would overwrite the input " + in.file() + "; choose another folder");
        Files.createDirectories(out);
        ReportJson.write(merged, json);
        HtmlReport.write(merged, html);
        System.out.println("merged " + merged.runs().size() + " runs into " + json + " and " + html);
        return 0;
    }
}
