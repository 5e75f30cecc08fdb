package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Pattern;
import org.hsajava.cli.HsaCli;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./hsa report}: existing reports merged into one, baselines beside the model, nothing re-evaluated. */
class ReportCommandTest {
    @TempDir Path dir;

    private static int hsa(StringWriter err, String... args) {
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @Test
    void mergesReportsWithTheModelFirstAndBaselinesRelabelled() throws Exception {
        Path a = Files.createDirectories(dir.resolve("hsa-run")), b = Files.createDirectories(dir.resolve("swa-run"));
        ReportJson.write(EvalReport.of("t1", "c1", List.of(SampleReports.run("hsa", "hsa", 0.1))), a.resolve("report.json"));
        ReportJson.write(EvalReport.of("t2", "c2", List.of(SampleReports.run("swa_only", "swa_only", 0.5))), b.resolve("report.json"));
        StringWriter err = new StringWriter();
        int rc = hsa(err, "report", "--in", a.toString(), "--in", "SWA baseline=" + b.resolve("report.json"), "--out", dir.resolve("merged").toString());
        assertEquals(0, rc, err.toString());
        EvalReport merged = ReportJson.read(dir.resolve("merged"));
        assertEquals(List.of("hsa", "SWA baseline"), merged.runs().stream().map(RunReport::label).toList());
        assertEquals(ReportJson.read(b).runs().getFirst().cells(), merged.runs().get(1).cells());
        assertTrue(merged.commandLine().startsWith("./hsa report --in"), merged.commandLine());
        String html = Files.readString(dir.resolve("merged").resolve("report.html"));
        assertEquals(4, Pattern.compile("<svg [^>]*class=\"heatmap\"").matcher(html).results().count(), "2 tasks x 2 runs");
        assertTrue(html.contains("data-run=\"SWA baseline\""));
    }

    @Test
    void refusesToOverwriteAnInputAndNamesABadInput() throws Exception {
        Path a = Files.createDirectories(dir.resolve("a"));
        ReportJson.write(SampleReports.twoRuns(), a.resolve("report.json"));
        String before = Files.readString(a.resolve("report.json"));
        StringWriter err = new StringWriter();
        assertEquals(2, hsa(err, "report", "--in", a.toString(), "--out", a.toString()));
        assertTrue(err.toString().contains("would overwrite the input"), err.toString());
        assertEquals(before, Files.readString(a.resolve("report.json")), "the input is untouched");

        Files.writeString(dir.resolve("x.json"), "{}");
        err = new StringWriter();
        assertEquals(2, hsa(err, "report", "--in", dir.resolve("x.json").toString(), "--out", dir.resolve("m").toString()));
        assertTrue(err.toString().contains("--in " + dir.resolve("x.json") + ": ") && err.toString().contains("is not an hsa-java eval report"), err.toString());
    }
}
