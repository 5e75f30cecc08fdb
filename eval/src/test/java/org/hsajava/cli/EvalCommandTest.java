package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.hsajava.eval.TestCheckpoints;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import picocli.CommandLine;

/** {@code ./hsa eval} on freshly initialised checkpoints: the grid runs and report.json holds every cell with its fields. */
class EvalCommandTest {
    @TempDir Path dir;

    static Path checkpoint(Path dir, String config) throws Exception {
        return TestCheckpoints.write(dir, config);
    }

    static int hsa(StringWriter err, String... args) {
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    @ParameterizedTest
    @ValueSource(strings = {"tiny-cpu", "tiny-swa"})
    void evaluatesAGridOfSeedsAndWritesEveryCell(String config) throws Exception {
        Path run = checkpoint(dir, config);
        StringWriter err = new StringWriter();
        int rc = hsa(err, "eval", "--checkpoint", run.toString(), "--tasks", "passkey,ppl", "--lengths", "128", "--depths", "0.2,0.8",
                "--samples", "3", "--seeds", "2", "--seed", "7", "--batch", "2", "--ppl-tokens", "32", "--device", "java", "--out", dir.resolve("out").toString());
        assertEquals(0, rc, err.toString());
        JsonNode report = new ObjectMapper().readTree(dir.resolve("out").resolve("report.json").toFile());
        assertEquals("hsa-java eval report", report.get("format").asText());
        assertTrue(report.get("commandLine").asText().startsWith("./hsa eval --checkpoint"), report.get("commandLine").asText());
        JsonNode r = report.get("runs").get(0);
        assertEquals(1, report.get("runs").size());
        assertEquals(5, r.get("step").asInt());
        assertEquals(config.equals("tiny-cpu") ? "hsa" : "swa_only", r.get("modelKind").asText());
        assertEquals(config.equals("tiny-cpu") ? "hsa" : "swa_only", r.get("label").asText());
        assertEquals(org.hsajava.model.config.ConfigFile.read(Path.of("..", "configs", config + ".json")).train().seqLen(), r.get("trainLength").asInt(),
                "train.seq_len of the config");
        assertTrue(r.get("device").asText().startsWith("Java backend") && r.has("date"));
        long parameters = org.hsajava.model.config.ParameterLayout.of(org.hsajava.model.config.ConfigFile.read(Path.of("..", "configs", config + ".json")).model()).parameterCount();
        assertEquals(parameters, r.get("parameters").asLong(), "trainable parameters, as ./hsa train prints them (no alignment padding)");
        assertTrue(r.get("heldOutText").asText().contains("bundled"), "synthetic-only training: ppl on the bundled corpus");

        JsonNode cells = r.get("cells");
        assertEquals(2 * 2 + 1, cells.size(), "2 depths x 2 seeds of passkey, plus ppl");
        Set<String> seen = new HashSet<>();
        for (JsonNode c : cells) {
            assertEquals(128, c.get("length").asInt());
            assertEquals("ok", c.get("status").asText());
            assertTrue(c.get("seconds").asDouble() > 0 && c.get("peakMemoryBytes").asLong() > 0, c.toString());
            if (c.get("task").asText().equals("ppl")) {
                assertFalse(c.has("depth") || c.has("seed"), "ppl has no depth or seed");
                assertEquals(3, c.get("samples").asInt());
                assertEquals(3 * 32, c.get("tokens").asInt());
                assertEquals(Math.exp(c.get("meanNll").asDouble()), c.get("perplexity").asDouble(), 1e-9);
                // a random-init byte model is close to uniform over 260 ids
                assertTrue(c.get("perplexity").asDouble() > 100 && c.get("perplexity").asDouble() < 1000, c.toString());
                continue;
            }
            assertEquals("passkey", c.get("task").asText());
            seen.add(c.get("depth").asDouble() + "/" + c.get("seed").asLong());
            assertEquals(3, c.get("samples").asInt());
            assertEquals(c.get("correct").asInt() / 3.0, c.get("accuracy").asDouble(), 1e-12);
            assertEquals(6 * 3, c.get("answerTokens").asInt(), "' 71432' is 6 byte tokens per sample");
            double acc = c.get("accuracy").asDouble(), tokens = c.get("answerTokenAccuracy").asDouble();
            assertTrue(acc >= 0 && acc <= tokens && tokens <= 1, c.toString());
            if (config.equals("tiny-cpu")) {
                double hit = c.get("needleChunkSelected").asDouble(), weight = c.get("needleChunkWeight").asDouble();
                assertTrue(hit >= 0 && hit <= 1, c.toString());
                assertTrue(weight >= 0 && weight <= hit, "a weight only where selected, each at most 1: " + c);
            } else {
                assertFalse(c.has("needleChunkSelected"), "a model without retrieval has no selection to report");
            }
        }
        assertEquals(Set.of("0.2/7", "0.2/8", "0.8/7", "0.8/8"), seen);
        assertTrue(Files.readString(dir.resolve("out").resolve("report.html")).contains("class=\"heatmap\""));
    }

    @Test
    void skipsLengthsAboveTheMemoryLimitAndEvaluatesBaselinesOnTheSameGrid() throws Exception {
        Path hsa = checkpoint(dir, "tiny-cpu"), full = checkpoint(dir, "tiny-full");
        StringWriter err = new StringWriter();
        // at batch 4 tiny-cpu needs about 34 MiB at 128 tokens, 63 MiB at 256 and 931 MiB at 4K (FullForwardScorer.estimateDeviceBytes);
        // the dense baseline stops at 128 tokens
        int rc = hsa(err, "eval", "--checkpoint", hsa.toString(), "--baseline", "dense=" + full, "--tasks", "passkey", "--lengths", "128,256,4K",
                "--depths", "0.5", "--samples", "1", "--max-memory", "100M", "--max-dense-length", "128", "--device", "java", "--out", dir.resolve("out").toString());
        assertEquals(0, rc, err.toString());
        JsonNode runs = new ObjectMapper().readTree(dir.resolve("out").resolve("report.json").toFile()).get("runs");
        assertEquals(List.of("hsa", "dense"), List.of(runs.get(0).get("label").asText(), runs.get(1).get("label").asText()));
        assertEquals("full_causal", runs.get(1).get("modelKind").asText());
        List<String> hsaStatus = statuses(runs.get(0)), denseStatus = statuses(runs.get(1));
        assertEquals(List.of("128:ok", "256:ok", "4096:not_run"), hsaStatus);
        assertEquals(List.of("128:ok", "256:not_run", "4096:not_run"), denseStatus);
        String memoryNote = runs.get(0).get("cells").get(2).get("note").asText();
        assertTrue(memoryNote.startsWith("not run: needs ") && memoryNote.contains("MiB") && memoryNote.contains("--max-memory"), memoryNote);
        String denseNote = runs.get(1).get("cells").get(1).get("note").asText();
        assertTrue(denseNote.contains("--max-dense-length"), denseNote);
        assertTrue(runs.get(0).get("cells").get(1).has("needleChunkSelected") && !runs.get(1).get("cells").get(0).has("needleChunkSelected"));
    }

    @Test
    void aLengthTooShortForATaskIsANoteNotAFailure() throws Exception {
        Path run = checkpoint(dir, "tiny-swa");
        StringWriter err = new StringWriter();
        int rc = hsa(err, "eval", "--checkpoint", run.toString(), "--tasks", "vt", "--lengths", "64", "--depths", "0.5", "--samples", "1",
                "--device", "java", "--out", dir.resolve("out").toString());
        assertEquals(0, rc, err.toString());
        JsonNode c = new ObjectMapper().readTree(dir.resolve("out").resolve("report.json").toFile()).get("runs").get(0).get("cells").get(0);
        assertEquals("variable_tracking", c.get("task").asText());
        assertEquals("not_run", c.get("status").asText());
        assertTrue(c.get("note").asText().contains("tokens"), c.toString());
    }

    @Test
    void badOptionsAreErrorsNamingTheOption() throws Exception {
        Path run = checkpoint(dir, "tiny-swa");
        StringWriter err = new StringWriter();
        assertEquals(2, hsa(err, "eval", "--checkpoint", run.toString(), "--tasks", "passkey,needle", "--device", "java"));
        assertTrue(err.toString().contains("--tasks: unknown task 'needle'"), err.toString());
        err = new StringWriter();
        assertEquals(2, hsa(err, "eval", "--checkpoint", run.toString(), "--baseline", "nolabel", "--device", "java"));
        assertTrue(err.toString().contains("--baseline: expected LABEL=DIR"), err.toString());
        err = new StringWriter();
        assertEquals(2, hsa(err, "eval", "--checkpoint", run.toString(), "--max-memory", "lots", "--device", "java"));
        assertTrue(err.toString().contains("--max-memory: not a size"), err.toString());
        err = new StringWriter();
        assertEquals(2, hsa(err, "eval", "--checkpoint", run.toString(), "--tasks", "ppl", "--ppl-corpus", dir.resolve("nope").toString(), "--device", "java"));
        assertTrue(err.toString().contains("--ppl-corpus: no such file"), err.toString());
    }

    @Test
    void aSecondEvaluationKeepsThePreviousReport() throws Exception {
        Path run = checkpoint(dir, "tiny-swa");
        String[] args = {"eval", "--checkpoint", run.toString(), "--lengths", "128", "--depths", "0.5", "--samples", "1", "--device", "java", "--out", dir.resolve("out").toString()};
        assertEquals(0, hsa(new StringWriter(), args));
        String first = Files.readString(dir.resolve("out").resolve("report.json"));
        assertEquals(0, hsa(new StringWriter(), args));
        List<String> kept = new ArrayList<>();
        try (var s = Files.list(dir.resolve("out"))) {
            s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("report-") && n.endsWith(".json")).forEach(kept::add);
        }
        assertEquals(1, kept.size(), kept.toString());
        assertEquals(first, Files.readString(dir.resolve("out").resolve(kept.getFirst())));
    }

    private static List<String> statuses(JsonNode run) {
        List<String> out = new ArrayList<>();
        for (JsonNode c : run.get("cells")) out.add(c.get("length").asInt() + ":" + c.get("status").asText());
        return out;
    }
}
