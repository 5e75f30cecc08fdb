package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ChunkWeightMode;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.WeightDType;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.RefOps;
import org.hsajava.model.reference.SwaReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * {@link SwaAttention} and {@link SwiGluMlp} as the reusable blocks of an HSA layer: the SWA
 * sublayer {@code attn.} of a layer with {@code hsa_only = false} and the bypass MLP {@code _mlp.},
 * on an HSA config (no lower layers: layer 0 chunking, 1 retrieval, 2 HSA).
 */
class SwaBlocksTest {
    static final int D = 24, INTER = 40;
    static final String HSA_LAYER = "backbone.layers.2.";

    static ModelConfig hsaConfig() {
        HsaConfig h = new HsaConfig(1, 1, 0, 16, 2, ChunkWeightMode.STICK_BREAKING, false, 0, 16, true, false, false, false, false, false);
        return new ModelConfig(AttentionKind.HSA, 19, D, INTER, 4, 2, D / 4, 0, 4, 500, 1e-5, 1e-5, 0.02, true, true,
                WeightDType.FLOAT32, 0, 128, h);
    }

    static List<Arguments> devicesAndBlocks() {
        List<Arguments> out = new ArrayList<>();
        LayerTests.devices().forEach(d -> {
            out.add(Arguments.of(d, "attn", 2, 9));
            out.add(Arguments.of(d, "_mlp", 1, 5));
        });
        return out;
    }

    @ParameterizedTest(name = "{1} B={2} L={3} on {0}")
    @MethodSource("devicesAndBlocks")
    void blockMatchesTheDoubleReference(Device device, String block, int batch, int length) {
        ModelConfig c = hsaConfig();
        ModelParameters p = LayerTests.randomParams(c, 51);
        float[] prefill = LayerTests.prefillGrads(p, 52);
        int rows = batch * length;
        Rand r = new Rand(53);
        float[] x = r.normal(rows * D, 1), dOut = r.normal(rows * D, 1), dxPrefill = r.normal(rows * D, 0.1);
        Tensor tx = Tensor.of("x", x), tout = Tensor.f32("out", rows * D), tdx = Tensor.of("dx", dxPrefill.clone()), tdOut = Tensor.of("dOut", dOut);
        LayerContext ctx = new LayerContext(c, p, device, batch, length);
        ScratchPool scratch = new ScratchPool("scratch");
        String prefix = HSA_LAYER + block + ".";
        Layer layer = block.equals("attn")
                ? new SwaAttention(ctx, scratch, "hsa.attn", prefix, tx, tout, tdx, tdOut)
                : new SwiGluMlp(ctx, scratch, "hsa.mlp", prefix, INTER, tx, tout, tdx, tdOut);
        TaskGraph g = new TaskGraph("block").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads(), tx, tdx, tdOut);
        layer.forward(g);
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tout, tdx, p.allGrads());
        LayerTests.run(device, g);

        SwaReference ref = new SwaReference(p, batch, length);
        java.util.function.UnaryOperator<double[]> f = block.equals("attn") ? v -> ref.attention(v, prefix) : v -> ref.mlp(v, prefix, INTER);
        double[] xd = RefOps.toDouble(x), dOutD = RefOps.toDouble(dOut);
        assertClose("out", f.apply(xd), tout.toF32Array(), 1e-4);
        GradCheck.check("dx", v -> RefOps.dot(f.apply(v), dOutD), xd, LayerTests.minus(tdx.toF32Array(), dxPrefill), 60, 1e-3, 1);
        LayerTests.checkParameterGradients(p, ref, prefix, prefill, () -> RefOps.dot(f.apply(xd), dOutD), 40, 1e-3);
    }
}
