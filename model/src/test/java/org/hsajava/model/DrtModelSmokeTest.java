package org.hsajava.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The shipped configs build, and one training step of the whole model runs on both backends with
 * the same loss and gradients: a uniform-ish start (loss ≈ ln V) and finite, non-zero gradients.
 */
class DrtModelSmokeTest {
    static Stream<String> configs() { return Stream.of("tiny-cpu", "tiny-swa", "tiny-full"); }

    /** Every shipped config builds a model: the layers' own checks (kernel head sizes, tiles) pass. */
    @ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tiny-cpu", "tiny-swa", "tiny-full", "small-gpu"})
    void everyShippedConfigBuilds(String name) throws Exception {
        ModelConfig c = ConfigFile.read(Path.of("..", "configs", name + ".json")).model();
        ModelParameters p = ModelParameters.of(ParameterLayout.of(c));
        try (DrtModel m = new DrtModel(c, p, TestDevices.java(), 1, 256)) {
            assertTrue(m.layers().size() >= c.numSwaLayers(), "layers of " + name);
        }
    }

    @ParameterizedTest
    @MethodSource("configs")
    void oneStepAgreesOnJavaAndOpenCl(String name) throws Exception {
        ModelConfig c = ConfigFile.read(Path.of("..", "configs", name + ".json")).model();
        int batch = 2, length = 64;
        Rand r = new Rand(7);
        int[] ids = r.ints(batch * length, c.vocabSize());
        int[] targets = new int[ids.length];
        for (int i = 0; i < ids.length; i++) targets[i] = (i + 1) % length == 0 ? -100 : ids[i + 1];
        float[][] grads = new float[2][];
        double[] loss = new double[2];
        Device[] devices = {TestDevices.java(), TestDevices.opencl()};
        for (int k = 0; k < 2; k++) {
            ModelParameters p = ModelParameters.of(ParameterLayout.of(c)).initialize(11);
            try (DrtModel m = new DrtModel(c, p, devices[k], batch, length)) {
                m.inputIds().set(ids.clone());
                m.targets().set(targets.clone());
                m.lossScale().set(1.0 / (ids.length - batch));
                m.prepareInputs();
                TaskGraph up = new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all(), p.allGrads());
                try (ExecutionPlan plan = new ExecutionPlan(up.snapshot(), m.trainStep()).withDevice(devices[k])) {
                    plan.execute();
                    plan.transferToHost(p.allGrads());
                }
                for (float l : m.rowLosses().toF32Array()) loss[k] += l;
                loss[k] /= ids.length - batch;
                grads[k] = p.allGrads().toF32Array();
            }
        }
        assertEquals(Math.log(c.vocabSize()), loss[0], 0.5, "initial loss should be near ln(vocab)");
        assertEquals(loss[0], loss[1], 1e-4 * loss[0], "loss on Java vs OpenCL");
        double max = 0, diff = 0;
        for (int i = 0; i < grads[0].length; i++) {
            assertTrue(Float.isFinite(grads[0][i]) && Float.isFinite(grads[1][i]), "non-finite gradient at " + i);
            max = Math.max(max, Math.abs(grads[0][i]));
            diff = Math.max(diff, Math.abs(grads[0][i] - grads[1][i]));
        }
        assertTrue(max > 0, "all gradients are zero");
        assertTrue(diff <= 1e-3 * max, "gradients differ between backends: " + diff + " vs max " + max);
    }
    /**
     * Mixed precision as on an H100 (wgmma emulated): the model refreshes its bf16 weight copies at
     * the start of each step, so its gradients track the fp32 model's, also after the weights have
     * been replaced between two steps of one plan (stale copies would give the old weights' gradients).
     */
    @org.junit.jupiter.api.Test
    void mixedPrecisionStepsTrackTheFp32StepsAfterTheWeightsChange() throws Exception {
        ModelConfig c = ConfigFile.read(Path.of("..", "configs", "tiny-cpu.json")).model();
        int batch = 2, length = 64;
        Rand r = new Rand(8);
        int[] ids = r.ints(batch * length, c.vocabSize());
        int[] targets = new int[ids.length];
        for (int i = 0; i < ids.length; i++) targets[i] = (i + 1) % length == 0 ? -100 : ids[i + 1];
        Device device = TestDevices.opencl();
        float[][][] grads = new float[2][][];
        for (int k = 0; k < 2; k++) {
            ModelParameters p = ModelParameters.of(ParameterLayout.of(c)).initialize(11);
            boolean mixed = k == 1;
            try (DrtModel m = mixed ? org.hsajava.compute.testing.EmulatedWgmma.with(() -> new DrtModel(c, p, device, batch, length))
                    : new DrtModel(c, p, device, batch, length)) {
                var launched = m.trainStep().tasks().stream().map(org.hsajava.compute.Task::name).toList();
                assertEquals(mixed, launched.contains("params.toBf16"), "weight copies refreshed in the mixed-precision step: " + launched);
                m.inputIds().set(ids.clone());
                m.targets().set(targets.clone());
                m.lossScale().set(1.0 / (ids.length - batch));
                m.prepareInputs();
                TaskGraph up = new TaskGraph("params").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads());
                grads[k] = new float[2][];
                try (ExecutionPlan plan = new ExecutionPlan(up.snapshot(), m.trainStep()).withDevice(device)) {
                    for (int step = 0; step < 2; step++) {
                        if (step == 1) {
                            p.initialize(12);
                            java.util.Arrays.fill(p.allGrads().f32(), 0f);
                        }
                        plan.execute();
                        plan.transferToHost(p.allGrads());
                        grads[k][step] = p.allGrads().toF32Array();
                    }
                }
            }
        }
        for (int step = 0; step < 2; step++) {
            double max = 0, diff = 0;
            for (int i = 0; i < grads[0][step].length; i++) {
                max = Math.max(max, Math.abs(grads[0][step][i]));
                diff = Math.max(diff, Math.abs(grads[0][step][i] - grads[1][step][i]));
            }
            assertTrue(max > 0 && diff <= 0.05 * max, "step " + step + ": bf16 gradients differ from fp32 by " + diff + " (largest " + max + ")");
        }
    }
}
