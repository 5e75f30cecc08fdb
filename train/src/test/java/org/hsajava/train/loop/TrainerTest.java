package org.hsajava.train.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.checkpoint.CheckpointStore;
import org.hsajava.train.optim.LrSchedule;
import org.hsajava.train.text.Tokenizers;
import org.hsajava.train.toy.BigramModel;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class TrainerTest {
    @TempDir Path dir;

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    @ParameterizedTest
    @MethodSource("devices")
    void lossDecreasesOnATinyCorpus(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 24, 60, 1, ToyRuns.corpus(dir), 1000, 0.05);
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            double[] loss = ToyRuns.losses(tr, t.steps());
            assertEquals(60, loss.length);
            // ln(260) = 5.56 at the start; a bigram model of this text gets far below it.
            assertEquals(Math.log(260), loss[0], 0.05, "untrained loss ≈ ln V");
            double early = Arrays.stream(loss, 10, 15).average().orElseThrow(), last = Arrays.stream(loss, 55, 60).average().orElseThrow();
            assertTrue(last < early && last < 2.5, "loss after 60 steps: " + last + " (steps 11-15: " + early + ", first " + loss[0] + ")");
        }
    }

    @ParameterizedTest
    @MethodSource("devices")
    void sameSeedGivesTheSameLossCurveBitForBit(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 13, 8, 2, ToyRuns.corpus(dir), 1000);
        double[] a, b;
        float[] pa, pb;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) { a = ToyRuns.losses(tr, 8); pa = tr.parameters(); }
        try (Trainer tr = ToyRuns.trainer(d, t, null)) { b = ToyRuns.losses(tr, 8); pb = tr.parameters(); }
        assertArrayEquals(a, b, 0.0);
        assertArrayEquals(pa, pb, 0f);
    }

    /** N steps + checkpoint + a fresh trainer resumed from it + N steps == 2N steps in one go, bit for bit. */
    @ParameterizedTest
    @MethodSource("devices")
    void resumeContinuesExactly(Device d) throws IOException {
        int n = 5;
        checkResume(d, ToyRuns.config(2, 11, 2 * n, 2, ToyRuns.corpus(dir), n), n);
    }

    /** The same with corpus rows and passkey samples mixed, loss on answers only (the passkey rows' RNG must resume too). */
    @ParameterizedTest
    @MethodSource("devices")
    void resumeContinuesExactlyWithSyntheticTasksMixedIn(Device d) throws IOException {
        int n = 3;
        java.util.Map<String, Double> mix = new java.util.LinkedHashMap<>();
        mix.put("corpus", 1.0);
        mix.put("passkey", 1.0);
        TrainConfig c = ToyRuns.config(2, 72, 2 * n, 2, ToyRuns.corpus(dir), n);
        TrainConfig t = new TrainConfig(c.batchSize(), c.seqLen(), c.steps(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(),
                c.beta1(), c.beta2(), c.adamEps(), c.gradClip(), c.gradAccumulation(), c.seed(), c.tokenizer(), c.corpus(),
                mix, org.hsajava.model.config.LossTokens.ANSWERS, c.checkpointInterval(), c.keepCheckpoints(), c.evalInterval());
        checkResume(d, t, n);
    }

    /**
     * A step-0 checkpoint with no data position (what {@code ./hsa import} writes: weights from
     * elsewhere, fresh optimizer state) resumes into exactly the run a fresh trainer with those
     * weights would take: the same rows, the same losses. The recorder sees those rows.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void aStepZeroCheckpointWithoutDataPositionResumesAtTheStartOfTheData(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 11, 4, 2, ToyRuns.corpus(dir), 100);
        double[] fresh;
        CheckpointState init;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            init = tr.state();
            fresh = ToyRuns.losses(tr, 4);
        }
        Path run = dir.resolve("imported");
        new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).save(new CheckpointState(init.model(), t, 0, new long[0], null,
                init.parameters(), new float[init.parameters().length], new float[init.parameters().length]));
        BigramModel m = BigramModel.create(BigramModel.config(ToyRuns.VOCAB, ToyRuns.DIM, 0.02), d, t.batchSize(), t.seqLen(), t.seed() + 1);
        RecordingBatchSource recorder = new RecordingBatchSource(new MixedBatchSource(t, Tokenizers.create(t.tokenizer()), t.seqLen(), null));
        double[] resumed;
        try (Trainer tr = new Trainer(m, t, recorder, run)) {
            assertTrue(tr.resumeLatest());
            assertEquals(0, tr.completedSteps());
            resumed = ToyRuns.losses(tr, 4);
        }
        assertArrayEquals(fresh, resumed, 0.0);
        assertEquals(4 * 2, recorder.microBatches(), "4 steps of 2 micro-batches");
        Path file = dir.resolve("rows.safetensors");
        recorder.write(file);
        var content = org.hsajava.train.checkpoint.Safetensors.read(file);
        int[] inputs = content.get("inputs").toInts(), targets = content.get("targets").toInts();
        assertArrayEquals(new long[] {8 * 2, 11}, content.get("inputs").shape());
        MixedBatchSource again = new MixedBatchSource(t, Tokenizers.create(t.tokenizer()), t.seqLen(), null);
        int[] in = new int[2 * 11], out = new int[2 * 11];
        for (int b = 0; b < 8; b++) {
            again.next(in, out, 2, 11);
            assertArrayEquals(in, Arrays.copyOfRange(inputs, b * 22, b * 22 + 22), "inputs of micro-batch " + b);
            assertArrayEquals(out, Arrays.copyOfRange(targets, b * 22, b * 22 + 22), "targets of micro-batch " + b);
        }
    }

    private void checkResume(Device d, TrainConfig t, int n) throws IOException {
        double[] straight;
        float[] params, m, v;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            straight = ToyRuns.losses(tr, 2 * n);
            CheckpointState s = tr.state();
            params = s.parameters();
            m = s.adamM();
            v = s.adamV();
        }
        Path run = dir.resolve("run-" + t.seqLen());
        double[] first, second;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            first = ToyRuns.losses(tr, n);
        }
        // The first run went on past its checkpoint before it stopped: those steps are redone, and logged once.
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            tr.resumeLatest();
            tr.withListener((x, sm) -> { if (sm.step() == n + 2) throw new IllegalStateException("simulated crash"); });
            assertThrows(IllegalStateException.class, () -> tr.runUntil(2 * n));
        }
        CheckpointState end;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            assertTrue(tr.resumeLatest());
            assertEquals(n, tr.completedSteps());
            second = ToyRuns.losses(tr, 2 * n);
            end = tr.state();
        }
        double[] joined = new double[2 * n];
        System.arraycopy(first, 0, joined, 0, n);
        System.arraycopy(second, 0, joined, n, n);
        assertArrayEquals(straight, joined, 0.0);
        assertArrayEquals(params, end.parameters(), 0f);
        assertArrayEquals(m, end.adamM(), 0f);
        assertArrayEquals(v, end.adamV(), 0f);
        assertEquals(2 * n, end.step());
        List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
        assertEquals(2 * n, lines.size(), "one metrics line per step");
        for (int i = 0; i < 2 * n; i++) {
            JsonNode o = new ObjectMapper().readTree(lines.get(i));
            assertEquals(i + 1, o.get("step").asLong());
            assertEquals(joined[i], o.get("loss").asDouble(), 0.0);
        }
    }

    /**
     * A time limit stops the run at a step boundary as if that step were the last: validation and a
     * checkpoint at that step, nothing after it; resuming from it and finishing equals the
     * uninterrupted run bit for bit. The clock is a fake one that advances one second per step.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void aTimeLimitStopsCleanlyAtAStepBoundaryAndTheRunResumesExactly(Device d) throws IOException {
        TrainConfig c = ToyRuns.config(2, 11, 8, 1, ToyRuns.corpus(dir), 5);
        TrainConfig t = new TrainConfig(c.batchSize(), c.seqLen(), c.steps(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(),
                c.beta1(), c.beta2(), c.adamEps(), c.gradClip(), c.gradAccumulation(), c.seed(), c.tokenizer(), c.corpus(),
                c.taskMix(), c.lossOn(), c.checkpointInterval(), c.keepCheckpoints(), 1000);
        double[] straight;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) { straight = ToyRuns.losses(tr, 8); }

        Path run = dir.resolve("timed");
        long[] now = {0};
        double[] first;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            tr.withValidation(validationSource(t), 1).withClock(() -> now[0]).withTimeLimit(java.time.Duration.ofMillis(2500));
            List<Double> losses = new java.util.ArrayList<>();
            tr.withListener((x, m) -> { losses.add(m.loss()); now[0] += 1_000_000_000L; });
            tr.runUntil(8);
            first = losses.stream().mapToDouble(Double::doubleValue).toArray();
            // after step k the clock reads k - 1 s (the listener advances it after the check): 3 s >= 2.5 s after step 4
            assertTrue(tr.stoppedByTimeLimit());
            assertEquals(4, tr.completedSteps());
        }
        assertEquals(List.of(4L), new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps(), "a checkpoint at the stopping step (the interval is 5)");
        List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
        assertEquals(4, lines.size());
        for (int i = 0; i < 4; i++) {
            assertEquals(i == 3, new ObjectMapper().readTree(lines.get(i)).has("val_loss"), "only the stopping step is validated (the interval is 1000): " + lines.get(i));
        }

        double[] second;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            assertTrue(tr.resumeLatest());
            tr.withTimeLimit(java.time.Duration.ofHours(1));
            second = ToyRuns.losses(tr, 8);
            assertTrue(!tr.stoppedByTimeLimit(), "reached its last step");
            assertEquals(8, tr.completedSteps());
        }
        double[] joined = new double[8];
        System.arraycopy(first, 0, joined, 0, 4);
        System.arraycopy(second, 0, joined, 4, 4);
        assertArrayEquals(straight, joined, 0.0);

        // a zero limit still takes one step (and checkpoints it)
        try (Trainer tr = ToyRuns.trainer(d, t, dir.resolve("zero"))) {
            tr.withTimeLimit(java.time.Duration.ZERO).runUntil(8);
            assertEquals(1, tr.completedSteps());
            assertTrue(tr.stoppedByTimeLimit());
        }
        assertEquals(List.of(1L), new CheckpointStore(dir.resolve("zero").resolve(Trainer.CHECKPOINTS), 3).steps());
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            assertThrows(IllegalArgumentException.class, () -> tr.withTimeLimit(java.time.Duration.ofSeconds(-1)));
        }
    }

    /** --until-loss: the run stops at the first step whose window of losses has a mean below the target, with a checkpoint there. */
    @ParameterizedTest
    @MethodSource("devices")
    void aLossTargetStopsAtTheFirstStepWhoseWindowMeanIsBelowIt(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 11, 8, 1, ToyRuns.corpus(dir), 5);
        double[] straight;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) { straight = ToyRuns.losses(tr, 8); }
        int window = 2;
        double target = (straight[4] + straight[5]) / 2 + 1e-9;   // the window ending at step 6 is below it
        int expected = -1;
        for (int k = window; k <= 8 && expected < 0; k++) if ((straight[k - 2] + straight[k - 1]) / 2 < target) expected = k;
        assertTrue(expected >= window && expected <= 6, "expected stop " + expected);

        Path run = dir.resolve("until");
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            double[] got = ToyRuns.losses(tr.withLossTarget(target, window), 8);
            assertTrue(tr.reachedLossTarget());
            assertEquals(expected, tr.completedSteps());
            assertArrayEquals(java.util.Arrays.copyOf(straight, expected), got, 0.0, "the same steps as the straight run up to the stop");
        }
        List<Long> saved = new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3).steps();
        assertEquals((long) expected, saved.getLast(), "a checkpoint at the stopping step");
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            assertThrows(IllegalArgumentException.class, () -> tr.withLossTarget(0, 5));
            assertThrows(IllegalArgumentException.class, () -> tr.withLossTarget(1, 0));
        }
    }

    private static MixedBatchSource validationSource(TrainConfig t) {
        return new MixedBatchSource(t, org.hsajava.train.text.Tokenizers.create("byte"), t.seqLen(), null, org.hsajava.train.data.Split.Part.VALIDATION);
    }

    @ParameterizedTest
    @MethodSource("devices")
    void nanStopsTheRunAndLeavesTheLastCheckpointIntact(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(1, 9, 10, 1, ToyRuns.corpus(dir), 2);
        Path run = dir.resolve("run");
        float[][] atTwo = new float[1][];
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            tr.withListener((trainer, m) -> {
                if (m.step() == 2) {
                    atTwo[0] = trainer.parameters(); // also refreshes the host copy of the flat buffer
                    // Poison one LM-head weight on the device: every row's logsumexp becomes NaN.
                    ParameterSpec head = ParameterLayout.of(org.hsajava.train.toy.BigramModel.config(ToyRuns.VOCAB, ToyRuns.DIM, 0.02)).get(ParameterLayout.LM_HEAD);
                    trainer.parametersTensor().f32()[(int) head.offset()] = Float.NaN;
                    trainer.plan().transferToDevice(trainer.parametersTensor());
                }
            });
            TrainingDivergedException e = assertThrows(TrainingDivergedException.class, () -> tr.runUntil(10));
            assertEquals(3, e.step());
            assertTrue(e.getMessage().contains("step 3") && e.getMessage().contains("NaN"), e.getMessage());
            assertTrue(e.getMessage().contains("step 2) is intact"), e.getMessage());
        }
        CheckpointStore store = new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3);
        assertEquals(List.of(2L), store.steps());
        CheckpointState s = store.loadLatest().orElseThrow();
        assertEquals(2, s.step());
        assertArrayEquals(atTwo[0], s.parameters(), 0f);
        assertEquals(2, Files.readAllLines(run.resolve(Trainer.METRICS_FILE)).size(), "no metrics line for the failed step");
    }

    /** Two micro-batches of one row give the same loss and gradient as one batch of two rows. */
    @ParameterizedTest
    @MethodSource("devices")
    void gradientAccumulationEqualsOneBatchOfTwiceTheSize(Device d) throws IOException {
        Path corpus = ToyRuns.corpus(dir);
        double lossA, lossB;
        float[] gA, gB;
        try (Trainer tr = ToyRuns.trainer(d, ToyRuns.config(2, 10, 4, 1, corpus, 1000), null)) {
            lossA = tr.accumulateGradients();
            gA = tr.gradients();
        }
        try (Trainer tr = ToyRuns.trainer(d, ToyRuns.config(1, 10, 4, 2, corpus, 1000), null)) {
            lossB = tr.accumulateGradients();
            gB = tr.gradients();
        }
        assertEquals(lossA, lossB, 1e-6 * lossA);
        float max = 0;
        for (float x : gA) max = Math.max(max, Math.abs(x));
        assertTrue(max > 0);
        for (int i = 0; i < gA.length; i++) assertEquals(gA[i], gB[i], 1e-5f * max, "gradient element " + i);
    }

    /** val_loss every eval_interval steps and at the end, on the same rows each time; training itself unchanged. */
    @ParameterizedTest
    @MethodSource("devices")
    void validationIsLoggedAndDoesNotChangeTraining(Device d) throws IOException {
        Path corpus = ToyRuns.corpus(dir);
        TrainConfig c = ToyRuns.config(2, 12, 5, 1, corpus, 1000, 0.05);
        TrainConfig t = new TrainConfig(c.batchSize(), c.seqLen(), c.steps(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(),
                c.beta1(), c.beta2(), c.adamEps(), c.gradClip(), c.gradAccumulation(), c.seed(), c.tokenizer(), c.corpus(),
                c.taskMix(), c.lossOn(), c.checkpointInterval(), c.keepCheckpoints(), 2);
        double[] plain;
        try (Trainer tr = ToyRuns.trainer(d, t, null)) { plain = ToyRuns.losses(tr, 5); }
        Path run = dir.resolve("val");
        double[] withVal;
        double again;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            tr.withValidation(new MixedBatchSource(t, org.hsajava.train.text.Tokenizers.create("byte"), t.seqLen(), null,
                    org.hsajava.train.data.Split.Part.VALIDATION), 3);
            withVal = ToyRuns.losses(tr, 5);
            again = tr.validate();
        }
        assertArrayEquals(plain, withVal, 0.0);
        ObjectMapper json = new ObjectMapper();
        List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
        double[] val = new double[6];
        for (int i = 0; i < 5; i++) {
            JsonNode o = json.readTree(lines.get(i));
            boolean want = (i + 1) % 2 == 0 || i + 1 == 5;
            assertEquals(want, o.has("val_loss"), lines.get(i));
            if (want) val[i + 1] = o.get("val_loss").asDouble();
        }
        assertTrue(val[4] < val[2] && val[2] < Math.log(260), "validation loss falls: " + val[2] + ", " + val[4]);
        assertEquals(val[5], again, 0.0, "same rows, same parameters: same loss");
    }

    /** With grad_clip far below the norm, the first update's moments are those of the clipped gradient. */
    @ParameterizedTest
    @MethodSource("devices")
    void clippingScalesTheGradientThatAdamWSees(Device d) throws IOException {
        TrainConfig c = ToyRuns.config(2, 9, 3, 1, ToyRuns.corpus(dir), 1000);
        double clip = 1e-3;
        TrainConfig t = new TrainConfig(c.batchSize(), c.seqLen(), c.steps(), c.lr(), c.warmupSteps(), c.minLrRatio(), c.weightDecay(),
                c.beta1(), c.beta2(), c.adamEps(), clip, c.gradAccumulation(), c.seed(), c.tokenizer(), c.corpus(),
                c.taskMix(), c.lossOn(), c.checkpointInterval(), c.keepCheckpoints(), c.evalInterval());
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            StepMetrics m = tr.trainStep();
            float[] g = tr.gradients(), adamM = tr.state().adamM(), adamV = tr.state().adamV();
            double sq = 0;
            for (float x : g) sq += (double) x * x;
            assertEquals(Math.sqrt(sq), m.gradNorm(), 1e-5 * m.gradNorm(), "norm before clipping");
            double f = clip / (m.gradNorm() + 1e-6);
            assertTrue(f < 0.1, "clips: " + f);
            for (int i = 0; i < g.length; i++) {
                assertEquals((1 - t.beta1()) * g[i] * f, adamM[i], 1e-5 * Math.abs((1 - t.beta1()) * g[i] * f) + 1e-20, "m " + i);
                assertEquals((1 - t.beta2()) * g[i] * f * g[i] * f, adamV[i], 1e-5 * (1 - t.beta2()) * g[i] * f * g[i] * f + 1e-24, "v " + i);
            }
        }
    }

    /** Checkpoint folders at the interval and at the end; their contents are the trainer's state. */
    @ParameterizedTest
    @MethodSource("devices")
    void checkpointsHoldTheRunState(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(2, 8, 5, 1, ToyRuns.corpus(dir), 2);
        Path run = dir.resolve("run");
        CheckpointState live;
        try (Trainer tr = ToyRuns.trainer(d, t, run)) {
            tr.run();
            live = tr.state();
        }
        CheckpointStore store = new CheckpointStore(run.resolve(Trainer.CHECKPOINTS), 3);
        assertEquals(List.of(2L, 4L, 5L), store.steps());
        CheckpointState s = store.loadLatest().orElseThrow();
        assertEquals(5, s.step());
        assertEquals(t, s.train());
        assertArrayEquals(live.parameters(), s.parameters(), 0f);
        assertArrayEquals(live.adamM(), s.adamM(), 0f);
        assertArrayEquals(live.adamV(), s.adamV(), 0f);
        assertTrue(s.dataPosition().has("rng") && s.dataPosition().has("corpus"), s.dataPosition().toString());
        assertEquals(s.dataPosition().get("rng").longValue(), s.rngState()[0]);
        assertEquals(10, s.dataPosition().get("corpus").get("sequences").longValue(), "2 rows x 5 steps packed");
        // The moments are not trivially zero: the used tensors moved.
        assertTrue(maxAbs(s.adamV()) > 0);

        List<String> lines = Files.readAllLines(run.resolve(Trainer.METRICS_FILE));
        assertEquals(5, lines.size());
        ObjectMapper json = new ObjectMapper();
        LrSchedule sched = LrSchedule.of(t);
        for (int i = 0; i < 5; i++) {
            JsonNode o = json.readTree(lines.get(i));
            assertEquals(i + 1, o.get("step").asLong());
            assertEquals(sched.lr(i + 1), o.get("lr").asDouble(), 0);
            for (String f : List.of("loss", "grad_norm", "tokens_per_s", "elapsed")) assertTrue(o.get(f).isNumber(), f + " in " + o);
        }
    }

    /**
     * Tensors without gradient: with weight decay they shrink by Π(1 − lr_t·wd) and nothing else;
     * without (norm_f, a norm weight) they stay exactly 1.
     */
    @ParameterizedTest
    @MethodSource("devices")
    void weightDecayMaskActsOnlyOnDecayedTensors(Device d) throws IOException {
        TrainConfig t = ToyRuns.config(1, 8, 4, 1, ToyRuns.corpus(dir), 1000);
        try (Trainer tr = ToyRuns.trainer(d, t, null)) {
            float[] before = tr.parameters();
            tr.runUntil(4);
            float[] after = tr.parameters();
            ParameterLayout layout = ParameterLayout.of(org.hsajava.train.toy.BigramModel.config(ToyRuns.VOCAB, ToyRuns.DIM, 0.02));
            ParameterSpec norm = layout.get("backbone.norm_f.weight"), q = layout.get("backbone.layers.0.self_attn.q_proj.weight");
            for (long i = norm.offset(); i < norm.end(); i++) assertEquals(1f, after[(int) i], 0f);
            double shrink = 1;
            LrSchedule s = LrSchedule.of(t);
            for (int k = 1; k <= 4; k++) shrink *= 1 - (float) s.lr(k) * (float) t.weightDecay();
            for (long i = q.offset(); i < q.end(); i++) assertEquals(before[(int) i] * shrink, after[(int) i], 1e-7 + 1e-6 * Math.abs(before[(int) i]));
            assertTrue(before[(int) q.offset()] != after[(int) q.offset()]);
        }
    }

    private static float maxAbs(float[] a) {
        float m = 0;
        for (float x : a) m = Math.max(m, Math.abs(x));
        return m;
    }
}
