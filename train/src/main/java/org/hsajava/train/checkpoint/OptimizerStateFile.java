package org.hsajava.train.checkpoint;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/**
 * {@code optimizer.safetensors}: AdamW's moments per parameter, named after PyTorch's AdamW state
 * ({@code <param>.exp_avg}, {@code <param>.exp_avg_sq}, F32, the parameter's shape), and the step
 * count as an I64 scalar {@code step}.
 */
public final class OptimizerStateFile {
    public static final String STEP = "step";
    static final Map<String, String> METADATA = Map.of("format", "pt", "optimizer", "adamw");

    private OptimizerStateFile() {}

    public static byte[] encode(ParameterLayout layout, float[] m, float[] v, long step) {
        return Safetensors.encode(tensors(layout, m, v, step), METADATA);
    }

    /** The moments as tensors in layout order ({@code exp_avg}, {@code exp_avg_sq} per parameter), then {@code step}. */
    public static List<SafeTensor> tensors(ParameterLayout layout, float[] m, float[] v, long step) {
        ModelWeights.checkLength(layout, m);
        ModelWeights.checkLength(layout, v);
        List<SafeTensor> out = new ArrayList<>();
        for (ParameterSpec s : layout.specs()) {
            long[] shape = ModelWeights.toLongs(s.shape());
            int off = Math.toIntExact(s.offset());
            out.add(SafeTensor.ofFloats(s.name() + ".exp_avg", SafeDType.F32, shape, m, off));
            out.add(SafeTensor.ofFloats(s.name() + ".exp_avg_sq", SafeDType.F32, shape, v, off));
        }
        out.add(SafeTensor.ofLongs(STEP, new long[0], new long[] {step}));
        return out;
    }

    /** Fills m and v from the file and returns its step; every tensor must be present, F32, correctly shaped, and nothing else. */
    public static long readInto(SafetensorsContent file, ParameterLayout layout, float[] m, float[] v) throws SafetensorsFormatException {
        ModelWeights.checkLength(layout, m);
        ModelWeights.checkLength(layout, v);
        Set<String> expected = new HashSet<>();
        for (ParameterSpec s : layout.specs()) {
            for (String suffix : new String[] {".exp_avg", ".exp_avg_sq"}) {
                SafeTensor t = file.get(s.name() + suffix);
                expected.add(t.name());
                ModelWeights.requireShape(file.source(), t, s.shape());
                if (t.dtype() != SafeDType.F32) {
                    throw new SafetensorsFormatException(file.source(), "tensor '" + t.name() + "' is " + t.dtype() + ", expected F32");
                }
                t.copyFloatsTo(suffix.equals(".exp_avg") ? m : v, Math.toIntExact(s.offset()));
            }
        }
        SafeTensor step = file.get(STEP);
        expected.add(STEP);
        if (step.dtype() != SafeDType.I64 || step.elementCount() != 1) {
            throw new SafetensorsFormatException(file.source(), "tensor 'step' must be one I64 value, got " + step);
        }
        for (String name : file.tensors().keySet()) {
            if (!expected.contains(name)) {
                throw new SafetensorsFormatException(file.source(), "tensor '" + name + "' does not belong to this model's optimizer state");
            }
        }
        return step.toLongs()[0];
    }
}
