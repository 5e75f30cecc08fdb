package org.hsajava.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /** configs/tiny-cpu.json's final stage made seconds-small: passkey rows of 96 bytes, answers only. */
    private Path smallConfig() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(Path.of("..", "configs", "tiny-cpu.json").toFile());
        c.remove("curriculum");
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
        c.remove("curriculum");
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

    /**
     * train.matmul_precision = bf16 on a device without tensor cores (PoCL): the GEMMs stay fp32, so the
     * run is bit for bit the run without the field, and the setting does not leak into later plans.
     */
    @Test
    void bf16MatmulsFallBackToFp32WithoutTensorCores() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path plain = smallConfig();
        ObjectNode c = (ObjectNode) json.readTree(plain.toFile());
        ((ObjectNode) c.get("train")).put("matmul_precision", "bf16");
        Path bf16 = dir.resolve("bf16.json");
        json.writeValue(bf16.toFile(), c);
        org.hsajava.kernels.Gemm.Precision before = org.hsajava.kernels.Gemm.precision();
        List<String> losses = new java.util.ArrayList<>();
        for (Path cfg : List.of(plain, bf16)) {
            Path run = dir.resolve(cfg.getFileName() + "-run");
            assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "opencl", "--out", run.toString(), "--steps", "2"), err.toString());
            StringBuilder l = new StringBuilder();
            for (String line : Files.readAllLines(run.resolve(Trainer.METRICS_FILE))) l.append(json.readTree(line).get("loss").asText()).append(' ');
            losses.add(l.toString());
        }
        assertEquals(losses.get(0), losses.get(1));
        assertEquals(before, org.hsajava.kernels.Gemm.precision());
    }

    /**
     * --init-from: a second stage with another window and mask_slide_window (the window curriculum)
     * starts from exactly the first stage's weights, with its own step count and fresh optimizer
     * state; a config with other parameters is refused, naming a tensor.
     */
    @Test
    void initFromStartsANewStageFromAnotherRunsWeights() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path first = smallConfig(), firstRun = dir.resolve("stage1"), secondRun = dir.resolve("stage2");
        assertEquals(0, hsa("train", "--config", first.toString(), "--device", "java", "--out", firstRun.toString(), "--val-batches", "0"), err.toString());
        ObjectNode c = (ObjectNode) json.readTree(first.toFile());
        c.put("sliding_window", 32).put("mask_slide_window", true);
        ((ObjectNode) c.get("train")).put("steps", 2).put("seed", 99); // another seed: its own init would be far from stage 1's weights
        Path second = dir.resolve("stage2.json");
        json.writeValue(second.toFile(), c);
        assertEquals(0, hsa("train", "--config", second.toString(), "--device", "java", "--init-from", firstRun.toString(),
                "--out", secondRun.toString(), "--val-batches", "0"), err.toString());
        var stage1 = org.hsajava.eval.Checkpoints.load(firstRun);
        var stage2 = org.hsajava.eval.Checkpoints.load(secondRun);
        assertEquals(4, stage1.step());
        assertEquals(2, stage2.step(), "the new stage counts its own steps");
        assertTrue(stage2.model().hsa().maskSlideWindow());
        assertEquals(firstRun.toAbsolutePath().toString(), json.readTree(secondRun.resolve(TrainCommand.INIT_FROM_FILE).toFile()).get("source").asText());
        // Two AdamW steps from stage 1's weights move each weight by about lr or less; seed 99's own init lies O(0.02) away.
        float[] a = stage1.parameters(), b = stage2.parameters();
        double lr = c.get("train").get("lr").asDouble(), worst = 0;
        for (int i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
        assertTrue(worst <= 2.5 * lr, "stage 2 should start at stage 1's weights; largest change " + worst);

        ObjectNode other = (ObjectNode) json.readTree(first.toFile());
        other.put("chunk_topk", 2).put("retrieval_dim", 64);
        Path bad = dir.resolve("bad.json");
        json.writeValue(bad.toFile(), other);
        assertTrue(hsa("train", "--config", bad.toString(), "--device", "java", "--init-from", firstRun.toString(),
                "--out", dir.resolve("bad-run").toString(), "--val-batches", "0") != 0);
        assertTrue(err.toString().contains("other parameters than this config's"), err.toString());
        assertTrue(err.toString().contains("ln.weight"), err.toString());
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
    /**
     * A weights-only export (./hsa export --format weights) starts a new run with --init-from, but a run
     * whose latest checkpoint has no optimizer state is refused by --resume, saying why.
     */
    @Test
    void weightsOnlyCheckpointStartsRunsButIsNotResumed() throws IOException {
        Path cfg = smallConfig(), run = dir.resolve("run");
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "java", "--out", run.toString(), "--steps", "2", "--val-batches", "0"), err.toString());
        Path weights = dir.resolve("weights");
        assertEquals(0, hsa("export", "--checkpoint", run.toString(), "--format", "weights", "--out", weights.toString()), err.toString());
        try (var files = Files.list(weights)) {
            assertEquals(List.of("config.json", "manifest.json", "model.safetensors"), files.map(p -> p.getFileName().toString()).sorted().toList());
        }
        org.hsajava.train.checkpoint.CheckpointState full = org.hsajava.eval.Checkpoints.load(run), slim = org.hsajava.eval.Checkpoints.load(weights);
        assertTrue(full.hasOptimizerState() && !slim.hasOptimizerState());
        assertArrayEquals(full.parameters(), slim.parameters(), 0f);
        assertEquals(full.step(), slim.step());
        assertEquals(full.model(), slim.model());
        assertEquals(full.train(), slim.train());
        assertArrayEquals(full.rngState(), slim.rngState());
        assertEquals(full.dataPosition(), slim.dataPosition());

        assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "java", "--out", dir.resolve("next").toString(), "--init-from", weights.toString(),
                "--steps", "1", "--val-batches", "0"), err.toString());

        // a run folder whose latest checkpoint is weights-only
        Path slimRun = dir.resolve("slim-run");
        assertEquals(0, hsa("export", "--checkpoint", run.toString(), "--format", "weights",
                "--out", slimRun.resolve(Trainer.CHECKPOINTS).resolve(CheckpointStore.folderName(full.step())).toString()), err.toString());
        Files.writeString(slimRun.resolve(Trainer.CHECKPOINTS).resolve(CheckpointStore.LATEST_FILE), CheckpointStore.folderName(full.step()));
        assertEquals(2, hsa("train", "--config", cfg.toString(), "--device", "java", "--resume", slimRun.toString(), "--steps", "3", "--val-batches", "0"));
        String named = "checkpoint " + slimRun.resolve(Trainer.CHECKPOINTS).resolve(CheckpointStore.folderName(full.step()))
                + " holds weights only (no optimizer state)";
        assertTrue(err.toString().contains(named) && err.toString().contains("--init-from"), err.toString());
        // continuing into another folder is refused before the checkpoint is copied there
        err.getBuffer().setLength(0);
        Path elsewhere = dir.resolve("elsewhere");
        assertEquals(2, hsa("train", "--config", cfg.toString(), "--device", "java", "--resume", slimRun.toString(), "--out", elsewhere.toString(),
                "--steps", "3", "--val-batches", "0"));
        assertTrue(err.toString().contains(named), err.toString());
        assertTrue(!Files.exists(elsewhere.resolve(Trainer.CHECKPOINTS)), "nothing copied into " + elsewhere);

        assertEquals(2, hsa("export", "--checkpoint", run.toString(), "--format", "weights", "--dtype", "bfloat16", "--out", dir.resolve("w2").toString()));
        assertTrue(err.toString().contains("a weights-only checkpoint is float32"), err.toString());
    }
    @Test
    void untilLossStopsWhenTheWindowMeanIsBelowTheTarget() throws IOException {
        Path cfg = smallConfig(), run = dir.resolve("until");
        java.io.PrintStream stdout = System.out;
        java.io.ByteArrayOutputStream captured = new java.io.ByteArrayOutputStream();
        System.setOut(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        int rc;
        try {
            // any loss is below 1e9: the first full window of 2 steps stops the run
            rc = hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", run.toString(), "--until-loss", "1e9", "--loss-window", "2");
        } finally {
            System.setOut(stdout);
        }
        String printed = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, rc, err.toString());
        assertTrue(printed.contains("Stopped at step 2 of 4") && printed.contains("(--until-loss)"), printed);
        assertEquals(2L, new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps().getLast());
        assertFalse(printed.contains("Warning"), printed);

        captured.reset();
        System.setOut(new java.io.PrintStream(captured, true, java.nio.charset.StandardCharsets.UTF_8));
        try {
            // no loss is below 1e-9: all 4 steps run, and the output says the target was missed
            rc = hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", dir.resolve("missed").toString(), "--until-loss", "1e-9", "--loss-window", "2");
        } finally {
            System.setOut(stdout);
        }
        printed = captured.toString(java.nio.charset.StandardCharsets.UTF_8);
        assertEquals(0, rc, err.toString());
        assertTrue(printed.contains("Warning: all 4 steps ran and the mean training loss of the last 2 steps never fell below 1.0E-9 (--until-loss)"), printed);
        assertEquals(2, hsa("train", "--config", cfg.toString(), "--toy-bigram", "--device", "java", "--out", dir.resolve("bad").toString(), "--until-loss", "0"));
        assertTrue(err.toString().contains("--until-loss must be > 0"), err.toString());
    }

    /** smallConfig() with a two-stage curriculum before its own 4 steps. */
    private Path curriculumConfig() throws IOException {
        ObjectMapper json = new ObjectMapper();
        ObjectNode c = (ObjectNode) json.readTree(smallConfig().toFile());
        c.set("curriculum", json.readTree("""
                [{"name": "copy", "sliding_window": 96, "mask_slide_window": true, "train": {"steps": 2, "lr": 0.002}},
                 {"name": "short", "train": {"steps": 3, "seq_len": 80, "batch_size": 3, "answer_jitter": 10}}]
                """));
        Path p = dir.resolve("curriculum.json");
        json.writeValue(p.toFile(), c);
        return p;
    }

    /**
     * A config's curriculum: its stages run in order in run/curriculum/N-name, each from the previous
     * stage's weights, then the config's own training in the run folder; a run interrupted anywhere
     * (--minutes, one step per call here) and resumed until done ends bit for bit where the
     * uninterrupted run does.
     */
    @Test
    void curriculumRunsItsStagesInOrderAndResumesExactly() throws IOException {
        ObjectMapper json = new ObjectMapper();
        Path cfg = curriculumConfig(), whole = dir.resolve("whole"), pieces = dir.resolve("pieces");
        assertEquals(0, hsa("train", "--config", cfg.toString(), "--device", "java", "--out", whole.toString(), "--val-batches", "0"), err.toString());
        Path copy = whole.resolve("curriculum").resolve("1-copy"), shortStage = whole.resolve("curriculum").resolve("2-short");
        assertEquals(List.of(2L), new CheckpointStore(copy.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertEquals(List.of(2L, 3L), new CheckpointStore(shortStage.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertEquals(List.of(2L, 4L), new CheckpointStore(whole.resolve(Trainer.CHECKPOINTS), 3).steps());
        assertTrue(Files.exists(copy.resolve(TrainCommand.STAGE_DONE_FILE)) && Files.exists(shortStage.resolve(TrainCommand.STAGE_DONE_FILE)));
        assertEquals(copy.toAbsolutePath().toString(), json.readTree(shortStage.resolve(TrainCommand.INIT_FROM_FILE).toFile()).get("source").asText());
        assertEquals(shortStage.toAbsolutePath().toString(), json.readTree(whole.resolve(TrainCommand.INIT_FROM_FILE).toFile()).get("source").asText());
        assertTrue(Files.notExists(copy.resolve(TrainCommand.INIT_FROM_FILE)), "the first stage starts fresh");
        var copyState = org.hsajava.eval.Checkpoints.load(copy);
        assertEquals(96, copyState.model().slidingWindow());
        assertEquals(80, org.hsajava.eval.Checkpoints.load(shortStage).train().seqLen());
        assertEquals(4, org.hsajava.eval.Checkpoints.load(whole).step());

        assertEquals(2, hsa("train", "--config", cfg.toString(), "--device", "java", "--out", whole.toString(), "--val-batches", "0"));
        assertTrue(err.toString().contains("already holds a curriculum"), err.toString());
        ObjectNode tooShort = (ObjectNode) json.readTree(cfg.toFile());
        ((ObjectNode) tooShort.get("curriculum").get(1).get("train")).put("seq_len", 64);
        Path bad = dir.resolve("bad.json"), badRun = dir.resolve("bad-run");
        json.writeValue(bad.toFile(), tooShort);
        assertEquals(2, hsa("train", "--config", bad.toString(), "--device", "java", "--out", badRun.toString()));
        assertTrue(err.toString().contains("curriculum[1].train.task_mix.passkey: does not fit train.seq_len = 64"), err.toString());
        assertTrue(Files.notExists(badRun), "a stage that cannot run is found before the first stage trains");

        List<String> calls = new java.util.ArrayList<>(List.of("train", "--config", cfg.toString(), "--device", "java", "--out", pieces.toString(),
                "--val-batches", "0", "--minutes", "0.0001"));
        int n = 0;
        while (!new CheckpointStore(pieces.resolve(Trainer.CHECKPOINTS), 3).steps().contains(4L)) {
            assertTrue(++n <= 20, "a resumed curriculum should finish");
            assertEquals(0, hsa(calls.toArray(String[]::new)), err.toString());
            calls.set(5, "--resume");
        }
        assertTrue(n >= 5, "the run should have been cut into pieces, was " + n);
        assertArrayEquals(org.hsajava.eval.Checkpoints.load(whole).parameters(), org.hsajava.eval.Checkpoints.load(pieces).parameters());
        assertEquals(Files.readAllLines(whole.resolve(Trainer.METRICS_FILE)).stream().map(l -> readLoss(json, l)).toList(),
                Files.readAllLines(pieces.resolve(Trainer.METRICS_FILE)).stream().map(l -> readLoss(json, l)).toList());
    }

    private static double readLoss(ObjectMapper json, String line) {
        try {
            return json.readTree(line).get("loss").asDouble();
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }
}
