package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.loop.Trainer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

class TrainCommandTest {
    @TempDir Path dir;

    private final StringWriter err = new StringWriter();

    private int hsa(String... args) {
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        return cl.execute(args);
    }

    /** configs/tiny-cpu.json made seconds-small: passkey rows of 96 bytes, answers only. */
    private Path smallConfig() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(Path.of("..", "configs", "tiny-cpu.json").toFile());
        ObjectNode t = (ObjectNode) c.get("train");
        t.put("batch_size", 2).put("seq_len", 96).put("steps", 4).put("warmup_steps", 1).put("checkpoint_interval", 2);
        t.putObject("task_mix").put("passkey", 1.0);
        Path p = dir.resolve("small.json");
        json.writeValue(p.toFile(), c);
        return p;
    }

    /** The CI smoke run of the real SWA+HSA model: a few steps of tiny-cpu, loss falls, checkpoint written and reloaded. */
    @Test
    void tinyCpuTrainsLossFallsAndResumes() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(Path.of("..", "configs", "tiny-cpu.json").toFile());
        ObjectNode t = (ObjectNode) c.get("train");
        t.put("batch_size", 2).put("seq_len", 128).put("steps", 8).put("warmup_steps", 1).put("lr", 0.003).put("checkpoint_interval", 4).put("corpus", "bundled");
        t.putObject("task_mix").put("corpus", 1.0);
        Path cfg = dir.resolve("tiny.json"), run = dir.resolve("tiny-run");
        json.writeValue(cfg.toFile(), c);
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "opencl", "--out", run.toString()), err.toString());
        List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
        assertEquals(8, lines.size());
        double first = json.readTree(lines.get(0)).get("loss").asDouble(), last = json.readTree(lines.get(7)).get("loss").asDouble();
        assertTrue(last < first - 0.3, "loss should fall in 8 steps: " + first + " -> " + last);
        assertEquals(List.of(4L, 8L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "opencl", "--resume", run.toString(), "--steps", "10"), err.toString());
        assertEquals(10, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size());
    }

    /** --minutes stops at a step boundary with a checkpoint there; --resume then finishes the run. */
    @Test
    void minutesStopsTheRunWithACheckpointAndResumeFinishesIt() throws IOException {
        Path cfg = smallConfig(), run = dir.resolve("timed");
        CommandLine cl = HsaCli.commandLine();
        cl.setErr(new PrintWriter(err, true));
        java.io.PrintStream stdout = System.out;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        int rc;
        try {
            // 6 ms: far less than one step, so the run stops after its first
            rc = cl.execute("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", run.toString(), "--minutes", "0.0001");
        } finally {
            System.setOut(stdout);
        }
        String printed = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, rc, err.toString());
        assertTrue(printed.contains("Stopped after") && printed.contains("at step 1 of 4"), printed);
        assertEquals(List.of(1L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertEquals(1, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size());
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--resume", run.toString()), err.toString());
        assertEquals(List.of(1L, 2L, 4L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertEquals(4, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size());

        assertEquals(2, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", dir.resolve("bad").toString(), "--minutes", "0"));
        assertTrue(err.toString().contains("--minutes must be > 0"), err.toString());
    }

    @Test
    void toyRunWritesMetricsAndCheckpointsAndResumes() throws IOException {
        Path cfg = smallConfig(), run = dir.resolve("run");
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", run.toString()), err.toString());
        assertEquals(4, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size());
        assertEquals(List.of(2L, 4L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertTrue(Files.exists(run.resolve("train-config.json")));

        assertEquals(2, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", run.toString()));
        assertTrue(err.toString().contains("already holds checkpoints"), err.toString());

        assertEquals(0, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--resume", run.toString(), "--steps", "6"), err.toString());
        assertEquals(6, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size());
        assertEquals(List.of(2L, 4L, 6L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps());
    }
}
