package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.loop.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

/** {@code ./hsa demo --quick}: the whole demo in seconds, on the Java backend, in-process and in a JVM without any OpenCL driver. */
class DemoCommandTest {
    @TempDir Path dir;

    private static final Path CONFIG = Path.of("..", "configs", "tiny-cpu.json");
    private static final Path SHIPPED = Path.of("..", "checkpoints", "tiny-passkey");

    @Test
    void quickDemoOnTheJavaBackendTrainsEvaluatesAndWritesTheReport() throws Exception {
        Path run = dir.resolve("demo");
        StringWriter err = new StringWriter();
        String printed;
        int rc;
        PrintStream stdout = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        try {
            CommandLine cl = HsaCli.commandLine();
            cl.setErr(new PrintWriter(err, true));
            rc = cl.execute("demo", "--quick", "--device", "java", "--out", run.toString(), "--config", CONFIG.toString(), "--shipped", SHIPPED.toString());
        } finally {
            System.setOut(stdout);
        }
        printed = captured.toString(StandardCharsets.UTF_8);
        System.out.print(printed);
        assertEquals(0, rc, err + "\n" + printed);

        List<Long> steps = new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps();
        assertFalse(steps.isEmpty(), "a checkpoint in the run folder");
        assertTrue(Files.exists(run.resolve(Trainer.METRICS_FILE)) && Files.exists(run.resolve("train-config.json")));

        JsonNode report = new ObjectMapper().readTree(run.resolve("report.json").toFile());
        JsonNode r = report.get("runs").get(0);
        assertEquals(steps.getLast().longValue(), r.get("step").asLong(), "the evaluated checkpoint is the latest one");
        assertEquals("hsa", r.get("modelKind").asText());
        assertTrue(report.get("commandLine").asText().startsWith("./hsa demo --quick"), report.get("commandLine").asText());
        Map<String, Set<Integer>> lengthsRun = new TreeMap<>();
        for (JsonNode c : r.get("cells")) {
            assertEquals("ok", c.get("status").asText(), c.toString());
            lengthsRun.computeIfAbsent(c.get("task").asText(), k -> new TreeSet<>()).add(c.get("length").asInt());
            double acc = c.get("accuracy").asDouble();
            assertTrue(acc >= 0 && acc <= 1 && c.get("samples").asInt() >= 1, c.toString());
        }
        int trainLength = r.get("trainLength").asInt();
        assertEquals(Set.of("niah_single", "passkey"), lengthsRun.keySet());
        for (Set<Integer> lengths : lengthsRun.values()) {
            assertTrue(lengths.size() >= 2 && lengths.contains(trainLength) && lengths.contains(4 * trainLength), lengthsRun.toString());
        }
        // the shipped model, evaluated at its training length beside the one trained now
        assertEquals(2, report.get("runs").size(), "the trained and the shipped model");
        JsonNode shipped = report.get("runs").get(1);
        assertEquals(256, shipped.get("trainLength").asInt());
        assertTrue(shipped.get("label").asText().contains("tiny-passkey"), shipped.get("label").asText());
        for (JsonNode c : shipped.get("cells")) {
            assertEquals("ok", c.get("status").asText(), c.toString());
            assertEquals(256, c.get("length").asInt(), c.toString());
        }
        String html = Files.readString(run.resolve("report.html"));
        assertTrue(html.contains("class=\"heatmap\""), "report.html has the heatmaps");

        assertTrue(printed.contains("All 11 kernel checks passed") || printed.contains("kernel checks passed"), printed);
        assertTrue(printed.contains("Report: " + run.resolve("report.html").toAbsolutePath()), printed);
        assertTrue(printed.contains("passkey") && printed.contains("niah_single") && printed.contains("exact match"), printed);
        assertTrue(printed.contains("docs/experiments.md"), "points to the training status");
        assertTrue(printed.contains("Evaluating the shipped model"), printed);

        // a second demo into the same folder would mix two runs: refused, the first run left as it was
        CommandLine again = HsaCli.commandLine();
        again.setErr(new PrintWriter(err, true));
        assertEquals(2, again.execute("demo", "--quick", "--device", "java", "--out", run.toString(), "--config", CONFIG.toString()));
        assertTrue(err.toString().contains("--out: " + run + " already holds a run's checkpoints"), err.toString());
        assertEquals(steps, new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
    }

    @Test
    void badOptionsAreErrorsNamingTheOption() throws Exception {
        StringWriter err = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        assertEquals(2, cl.execute("demo", "--quick", "--device", "java", "--minutes", "0", "--config", CONFIG.toString()));
        assertTrue(err.toString().contains("--minutes must be > 0"), err.toString());
        assertEquals(2, cl.execute("demo", "--quick", "--device", "java", "--config", dir.resolve("none.json").toString()));
        assertTrue(err.toString().contains("--config: no such file"), err.toString());
        assertEquals(2, cl.execute("demo", "--quick", "--device", "java", "--config", CONFIG.toString(), "--shipped", dir.resolve("none-here").toString()));
        assertTrue(err.toString().contains("--shipped: no such folder"), err.toString());
    }

    /**
     * A machine with no OpenCL driver: a JVM whose OpenCL loader cannot be found. The demo says so, tells
     * how to install PoCL, and completes on the Java backend without being asked.
     */
    @Test
    void withoutAnyOpenClDriverItSaysHowToInstallOneAndCompletesOnTheJavaBackend() throws Exception {
        Path run = dir.resolve("no-opencl");
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow",
                "-Dorg.lwjgl.opencl.libname=" + dir.resolve("no-such-libOpenCL.so"),
                "-cp", System.getProperty("java.class.path"), "org.hsajava.cli.HsaCli",
                "demo", "--quick", "--out", run.toString(), "--config", CONFIG.toString()));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("HSA_DEVICE");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), out);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("OpenCL was not found"), out);
        assertTrue(out.contains("pocl-opencl-icd"), "says how to install PoCL: " + out);
        assertTrue(out.contains("on java (Java backend"), "ran on the Java backend: " + out);
        assertTrue(Files.exists(run.resolve("report.json")) && Files.exists(run.resolve("report.html")), out);
    }
}
