package org.hsajava.train.loop;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.LossTokens;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.checkpoint.CheckpointState;
import org.hsajava.train.text.Tokenizers;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The real SWA+HSA model (configs/tiny-cpu.json, shortened): N steps, checkpoint, a new process-like
 * trainer resumed from it, N more steps == 2N uninterrupted steps, bit for bit (losses, parameters,
 * AdamW moments), on the same device.
 */
class DrtResumeTest {
    @TempDir Path dir;

    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    @ParameterizedTest
    @MethodSource("devices")
    void resumeOfTheHsaModelIsExact(Device d) throws IOException {
        int n = 2;
        ConfigFile file = ConfigFile.read(Path.of("..", "configs", "tiny-cpu.json"));
        TrainConfig c = file.train();
        TrainConfig t = new TrainConfig(2, 96, 2 * n, 0.003, 1, c.minLrRatio(), c.weightDecay(), c.beta1(), c.beta2(), c.adamEps(), c.gradClip(),
                1, c.seed(), "byte", "bundled", Map.of("corpus", 1.0, "passkey", 1.0), LossTokens.ALL, n, 3, 1000);
        double[] straight;
        CheckpointState want;
        try (Trainer tr = trainer(d, file.model(), t, null)) {
            straight = ToyRuns.losses(tr, 2 * n);
            want = tr.state();
        }
        Path run = dir.resolve("run");
        double[] first, second;
        try (Trainer tr = trainer(d, file.model(), t, run)) {
            first = ToyRuns.losses(tr, n);
        }
        CheckpointState end;
        try (Trainer tr = trainer(d, file.model(), t, run)) {
            assertTrue(tr.resumeLatest());
            second = ToyRuns.losses(tr, 2 * n);
            end = tr.state();
        }
        double[] joined = new double[2 * n];
        System.arraycopy(first, 0, joined, 0, n);
        System.arraycopy(second, 0, joined, n, n);
        assertArrayEquals(straight, joined, 0.0);
        assertArrayEquals(want.parameters(), end.parameters(), 0f);
        assertArrayEquals(want.adamM(), end.adamM(), 0f);
        assertArrayEquals(want.adamV(), end.adamV(), 0f);
    }

    private static Trainer trainer(Device d, ModelConfig model, TrainConfig t, Path runDir) {
        DrtModel m = new DrtModel(model, ModelParameters.of(ParameterLayout.of(model)).initialize(t.seed()), d, t.batchSize(), t.seqLen());
        return new Trainer(m, t, new MixedBatchSource(t, Tokenizers.create(t.tokenizer()), t.seqLen(), null), runDir);
    }
}
