package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainBenchCommandTest {
    @TempDir
    Path dir;

    @Test
    void measuresTheStepsAfterWarmupAndDeletesItsRunFolder() throws Exception {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(Path.of("..", "configs", "tiny-cpu.json").toFile());
        ObjectNode t = (ObjectNode) c.get("train");
        t.put("batch_size", 1).put("seq_len", 96).put("warmup_steps", 1);
        t.putObject("task_mix").put("passkey", 1.0);
        Path cfg = dir.resolve("small.json");
        json.writeValue(cfg.toFile(), c);

        ByteArrayOutputStream stdout = new ByteArrayOutputStream(), stderr = new ByteArrayOutputStream();
        PrintStream oldOut = System.out, oldErr = System.err;
        StringWriter errors = new StringWriter();
        int code;
        try {
            System.setOut(new PrintStream(stdout, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(stderr, true, StandardCharsets.UTF_8));
            CommandLine cl = HsaCli.commandLine();
            cl.setErr(new PrintWriter(errors, true));
            code = cl.execute("bench", "train", "--config", cfg.toString(), "--device", "java", "--steps", "3", "--warmup", "1", "--json");
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        assertEquals(0, code, errors + stderr.toString(StandardCharsets.UTF_8));
        JsonNode row = json.readTree(stdout.toString(StandardCharsets.UTF_8)).get("rows").get(0);
        assertEquals(3, row.get("steps").asInt());
        assertEquals(2, row.get("timedSteps").asInt());
        assertEquals(96, row.get("tokensPerStep").asLong());
        assertTrue(row.get("secondsPerStep").asDouble() > 0);
        assertEquals(96 / row.get("secondsPerStep").asDouble(), row.get("tokensPerSecond").asDouble(), 1e-6 * row.get("tokensPerSecond").asDouble());
        Matcher m = Pattern.compile("deleted at the end\\): (\\S+)").matcher(stderr.toString(StandardCharsets.UTF_8));
        assertTrue(m.find(), stderr.toString(StandardCharsets.UTF_8));
        assertFalse(Files.exists(Path.of(m.group(1))), "the throwaway run folder is gone");
    }

    @Test
    void warmupMustLeaveStepsToTime() {
        StringWriter errors = new StringWriter();
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(errors, true));
        assertEquals(2, cl.execute("bench", "train", "--config", "../configs/tiny-cpu.json", "--device", "java", "--steps", "4", "--warmup", "4"));
        assertTrue(errors.toString().contains("--warmup"), errors.toString());
    }
}
