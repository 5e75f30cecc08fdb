package org.hsajava.model;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.stream.Stream;
import org.hsajava.compute.Bf16;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.WeightDType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class ModelParametersTest {
    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    private static ModelParameters params() {
        ModelConfig c = new ModelConfig(AttentionKind.SWA_ONLY, 37, 32, 48, 4, 2, 8, 1, 16, 10000, 1e-6, 1e-5, 0.02,
                true, false, WeightDType.FLOAT32, 0, 128, null);
        return ModelParameters.of(ParameterLayout.of(c)).initialize(3);
    }

    /** The bf16 copies are the fp32 parameters rounded to nearest-even, as stored and transposed. */
    @ParameterizedTest
    @MethodSource("devices")
    void refreshMakesTheBf16CopiesOfTheMasterWeights(Device device) {
        ModelParameters p = params();
        String up = "backbone.layers.0.mlp.up_proj.weight", q = "backbone.layers.0.self_attn.q_proj.weight";
        Tensor up16 = p.bf16(up), q16 = p.bf16(q), q16t = p.bf16Transposed(q);
        assertEquals(java.util.List.of(32, 32), java.util.List.of(q16t.dim(0), q16t.dim(1)));
        TaskGraph g = new TaskGraph("refresh").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all());
        p.appendBf16Refresh(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, up16, q16, q16t);
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }
        expectRounded(p.param(up).toF32Array(), up16.bf16ToF32Array(), false, 48, 32);
        float[] w = p.param(q).toF32Array();
        expectRounded(w, q16.bf16ToF32Array(), false, 32, 32);
        expectRounded(w, q16t.bf16ToF32Array(), true, 32, 32);
    }

    @Test
    void noCopyAskedForAppendsNothing() {
        TaskGraph g = new TaskGraph("none");
        params().appendBf16Refresh(g);
        assertEquals(0, g.snapshot().tasks().size());
    }

    @Test
    void onlyMatricesHaveTransposedCopies() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> params().bf16Transposed("backbone.norm_f.weight"));
        assertEquals(true, e.getMessage().contains("backbone.norm_f.weight"), e.getMessage());
    }

    private static void expectRounded(float[] w, float[] copy, boolean transposed, int rows, int cols) {
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++)
                assertEquals(Bf16.round(w[r * cols + c]), copy[transposed ? c * rows + r : r * cols + c], "[" + r + ", " + c + "]" + (transposed ? "ᵀ" : ""));
    }
}
