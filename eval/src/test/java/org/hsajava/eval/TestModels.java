package org.hsajava.eval;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.SplittableRandom;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.model.DrtModel;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/** Shipped configs with O(1)-scaled random weights, and the full forward pass to compare with. */
public final class TestModels {
    private TestModels() {}

    public static ConfigFile config(String name) throws java.io.IOException {
        return ConfigFile.read(Path.of("..", "configs", name + ".json"));
    }

    /**
     * A shipped HSA config with the plain eligibility rule (mask_slide_window off: a chunk is eligible
     * once it lies wholly in the past), for tests written against that rule; tiny-cpu turns the mask
     * on since 2026-12-05.
     */
    public static ConfigFile unmasked(String name) throws java.io.IOException {
        var json = (com.fasterxml.jackson.databind.node.ObjectNode) new com.fasterxml.jackson.databind.ObjectMapper()
                .readTree(Path.of("..", "configs", name + ".json").toFile());
        json.remove("curriculum");
        json.put("mask_slide_window", false);
        return ConfigFile.fromJson(json);
    }

    /**
     * Norm weights 1, every other tensor N(0, 1/fan-in): logits and retrieval scores then spread out
     * (the authors' 0.02 init leaves them nearly tied, where rounding alone could flip an argmax).
     */
    public static ModelParameters params(ModelConfig config, long seed) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(config));
        SplittableRandom r = new SplittableRandom(seed);
        float[] all = p.all().f32();
        for (ParameterSpec s : p.layout().specs()) {
            boolean norm = s.name().endsWith("norm.weight");
            double std = 1 / Math.sqrt(s.shape()[s.shape().length - 1]);
            for (long i = 0; i < s.size(); i++) {
                double u = 1.0 - r.nextDouble(), v = r.nextDouble();
                all[(int) (s.offset() + i)] = norm ? 1f : (float) (std * Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
            }
        }
        return p;
    }

    /** Logits {@code [length, V]} of one sequence by the full forward pass. */
    public static float[] fullLogits(ModelConfig config, ModelParameters params, Device device, int[] tokens) {
        try (DrtModel m = new DrtModel(config, params, device, 1, tokens.length);
             ExecutionPlan plan = new ExecutionPlan(new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, params.all()).snapshot(),
                     m.evalStep()).withDevice(device)) {
            m.inputIds().set(tokens.clone());
            int[] targets = new int[tokens.length];
            Arrays.fill(targets, -100);
            m.targets().set(targets);
            m.prepareInputs();
            plan.execute();
            plan.transferToHost(m.logits());
            return m.logits().toF32Array();
        }
    }
}
