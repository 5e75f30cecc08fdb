package org.hsajava.eval.report;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReportJsonTest {
    @TempDir Path dir;

    @Test
    void writesEveryFieldAndReadsItBack() throws Exception {
        EvalReport report = SampleReports.twoRuns();
        Path file = dir.resolve("report.json");
        ReportJson.write(report, file);
        JsonNode root = new ObjectMapper().readTree(file.toFile());
        assertEquals("hsa-java eval report", root.get("format").asText());
        assertEquals(1, root.get("version").asInt());
        JsonNode run = root.get("runs").get(0);
        for (String field : List.of("label", "checkpoint", "step", "modelKind", "trainLength", "parameters", "model", "device", "date", "commandLine", "heldOutText", "cells"))
            assertTrue(run.has(field), "run field " + field);
        JsonNode ok = run.get("cells").get(0), notRun = run.get("cells").get(12), ppl = run.get("cells").get(run.get("cells").size() - 3);
        for (String field : List.of("task", "length", "depth", "seed", "status", "samples", "correct", "accuracy", "answerTokens",
                "answerTokensCorrect", "answerTokenAccuracy", "needleChunkSelected", "needleChunkWeight", "seconds", "peakMemoryBytes"))
            assertTrue(ok.has(field), "accuracy cell field " + field + " in " + ok);
        assertFalse(ok.has("note") || ok.has("perplexity"), "fields that do not apply are left out: " + ok);
        assertEquals("not_run", notRun.get("status").asText(), notRun.toString());
        assertTrue(notRun.get("note").asText().startsWith("not run: needs"));
        assertFalse(notRun.has("accuracy") || notRun.has("seconds"));
        assertEquals("ppl", ppl.get("task").asText());
        assertEquals(Math.exp(ppl.get("meanNll").asDouble()), ppl.get("perplexity").asDouble(), 1e-12);
        assertFalse(ppl.has("depth") || ppl.has("seed") || ppl.has("accuracy"));

        assertEquals(report, ReportJson.read(file), "read(write(r)) == r");
        assertEquals(report, ReportJson.read(dir), "a folder holding report.json reads too");
    }

    @Test
    void mergeKeepsOrderRenamesAndDisambiguatesLabels() {
        EvalReport a = EvalReport.of("t1", "c1", List.of(SampleReports.run("hsa", "hsa", 0.1)));
        EvalReport b = EvalReport.of("t2", "c2", List.of(SampleReports.run("hsa", "swa_only", 0.5)));
        EvalReport c = EvalReport.of("t3", "c3", List.of(SampleReports.run("x", "full_causal", 0.5)));
        EvalReport merged = ReportJson.merge(List.of(a, b, c), Arrays.asList(null, null, "dense"), "now", "./hsa report");
        assertEquals(List.of("hsa", "hsa #2", "dense"), merged.runs().stream().map(RunReport::label).toList());
        assertEquals(List.of("hsa", "swa_only", "full_causal"), merged.runs().stream().map(RunReport::modelKind).toList());
        assertEquals(b.runs().getFirst().cells(), merged.runs().get(1).cells(), "cells are carried over untouched");
        assertEquals("now", merged.created());
        assertThrows(IllegalArgumentException.class, () -> ReportJson.merge(List.of(SampleReports.twoRuns()), List.of("one"), "now", "c"),
                "one label cannot name a report of two runs");
    }

    @Test
    void refusesFilesThatAreNotReports() throws Exception {
        Path other = dir.resolve("other.json");
        Files.writeString(other, "{\"cells\": []}");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ReportJson.read(other));
        assertTrue(e.getMessage().contains("is not an hsa-java eval report"), e.getMessage());
        Files.writeString(other, "not json");
        e = assertThrows(IllegalArgumentException.class, () -> ReportJson.read(other));
        assertTrue(e.getMessage().contains("is not JSON"), e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> ReportJson.read(dir.resolve("missing")));
        assertTrue(e.getMessage().contains("no report at"), e.getMessage());
    }

    @Test
    void keepsAPreviousReportUnderANewName() throws Exception {
        Path file = dir.resolve("report.json");
        assertEquals(null, ReportJson.keepPrevious(file));
        Files.writeString(file, "old");
        Path kept = ReportJson.keepPrevious(file);
        assertFalse(Files.exists(file));
        assertEquals("old", Files.readString(kept));
        assertTrue(kept.getFileName().toString().matches("report-\\d{8}-\\d{6}\\.json"), kept.toString());
    }
}
