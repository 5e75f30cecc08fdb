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

    @Test
    void hsaConfigsSayTheModelIsNotAvailableYet() throws IOException {
        assertEquals(2, hsa("train", "--config", smallConfig().toString(), "--device", "java", "--out", dir.resolve("r").toString()));
        assertTrue(err.toString().contains("hsa model") && err.toString().contains("not available yet") && err.toString().contains("--toy-bigram"), err.toString());
        assertTrue(Files.notExists(dir.resolve("r")), "nothing trained");
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
