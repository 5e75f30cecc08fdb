package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.hsajava.model.layers.HsaFixture.RETRIEVAL;
import static org.hsajava.model.layers.HsaFixture.RETRIEVAL_PREFIX;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.layers.HsaFixture.Case;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.HsaRef;
import org.hsajava.model.reference.RefOps;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class RetrievalLayerTest {
    static Stream<Arguments> cases() {
        List<Case> cs = List.of(
                new Case(1, 1, 64, false, 0, true, false, false),
                new Case(2, 2, 72, true, 0, true, false, true),
                new Case(2, 1, 72, false, 0, true, false, true),
                new Case(1, 2, 72, true, 0, true, false, false));
        List<Arguments> out = new ArrayList<>();
        for (String dev : new String[] {"java", "opencl"}) for (Case c : cs) out.add(Arguments.of(dev, c));
        return out.stream();
    }

    static Device device(String which) { return which.equals("java") ? TestDevices.java() : TestDevices.opencl(); }

    @ParameterizedTest(name = "{0} {1}")
    @MethodSource("cases")
    void selectionWeightsAndGradientsMatchTheDoubleReference(String dev, Case c) {
        Device device = device(dev);
        HsaRef.Dims dims = c.dims();
        ModelConfig cfg = c.config();
        ModelParameters params = HsaFixture.params(cfg, 11 + c.hashCode());
        Map<String, float[]> grads0 = HsaFixture.grads(params);
        int rows = dims.rows(), D = dims.D(), lmSize = dims.B() * dims.C() * dims.Hk() * dims.dr();
        Rand r = new Rand(3 + c.length());
        float[] h = r.normal(rows * D, 1), lm = r.normal(lmSize, 1), dh0 = r.normal(rows * D, 0.1), dlm0 = r.normal(lmSize, 0.1);
        Tensor th = Tensor.of("h", h.clone()), tdh = Tensor.of("dh", dh0.clone()), tlm = Tensor.of("landmarks", lm.clone()), tdlm = Tensor.of("dLandmarks", dlm0.clone());

        RetrievalLayer layer = new RetrievalLayer(new LayerContext(cfg, params, device, c.batch(), c.length()), RETRIEVAL, th, tdh, tlm, tdlm);
        ChunkSelection sel = layer.selection();
        assertTrue(sel.slots() == dims.K() && sel.chunks() == dims.C());
        float[] dw = r.normal(rows * dims.Hk() * dims.K(), 1);
        sel.dweights().set(dw);

        TaskGraph g = new TaskGraph("retrieval").transferToDevice(DataTransferMode.EVERY_EXECUTION, params.all(), params.allGrads(), th, tdh, tlm, tdlm);
        layer.forward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, sel.indices(), sel.weights(), th);
        // The HSA layer would accumulate dweights here; the test injects them.
        g.transferToDevice(DataTransferMode.EVERY_EXECUTION, sel.dweights());
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, tdh, tdlm, params.allGrads());
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }

        Map<String, double[]> pd = HsaFixture.doubles(params);
        HsaRef ref = new HsaRef(dims, pd, RETRIEVAL_PREFIX, null);
        double[] hd = RefOps.toDouble(h), lmd = RefOps.toDouble(lm), dwd = RefOps.toDouble(dw);
        HsaRef.Selection s = ref.select(hd, lmd);
        assertTrue(s.minMargin() > 1e-3, "test data: scores too close to a tie for a stable selection (" + s.minMargin() + ")");
        assertArrayEquals(s.indices(), sel.indices().toI32Array(), "indices");
        assertArrayEquals(h, th.toF32Array(), "h is left unchanged");
        int[] idx = s.indices();
        assertClose("weights", ref.weights(hd, lmd, idx), sel.weights().toF32Array(), 1e-4);

        // Σ weights·dweights with the selection fixed: its gradient is what the backward adds.
        java.util.function.ToDoubleFunction<double[]> loss = v -> RefOps.dot(ref.weights(hd, lmd, idx), dwd);
        Map<String, float[]> grads = HsaFixture.grads(params);
        GradCheck.check("dh", v -> RefOps.dot(ref.weights(v, lmd, idx), dwd), hd, HsaFixture.minus(tdh.toF32Array(), dh0), 60, 1e-3, 1);
        GradCheck.check("dlandmarks", v -> RefOps.dot(ref.weights(hd, v, idx), dwd), lmd, HsaFixture.minus(tdlm.toF32Array(), dlm0), 60, 1e-3, 2);
        List<String> names = new ArrayList<>(List.of("pre_norm.weight", "ln.weight"));
        if (c.lmkNorm()) names.addAll(List.of("lmk_q_norm.weight", "lmk_k_norm.weight"));
        for (String n : names) {
            String key = RETRIEVAL_PREFIX + n;
            GradCheck.check(n, loss, pd.get(key), HsaFixture.minus(grads.get(key), grads0.get(key)), 60, 1e-3, 3);
        }
    }

    @Test
    void rejectsUnsupportedShapesNamingTheField() {
        Case c = new Case(1, 1, 64, false, 0, true, false, false);
        ModelConfig cfg = c.config();
        ModelParameters p = HsaFixture.params(cfg, 1);
        Tensor h = Tensor.f32("h", 64 * 64), lm = Tensor.f32("lm", 4 * 16);
        LayerContext shortCtx = new LayerContext(cfg, p, TestDevices.java(), 1, 8);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> new RetrievalLayer(shortCtx, RETRIEVAL, Tensor.f32("h", 8 * 64), Tensor.f32("dh", 8 * 64), lm, lm));
        assertTrue(e.getMessage().contains("chunk_size"), e.getMessage());
        LayerContext ctx = new LayerContext(cfg, p, TestDevices.java(), 1, 64);
        e = assertThrows(IllegalArgumentException.class, () -> new RetrievalLayer(ctx, RETRIEVAL, h, h, Tensor.f32("lm", 5), lm));
        assertTrue(e.getMessage().contains("landmarks"), e.getMessage());
        ModelConfig wide = ModelConfig.parse(c.config().toJson().put("retrieval_dim", 8).toString());
        ConfigException ce = assertThrows(ConfigException.class,
                () -> new RetrievalLayer(new LayerContext(wide, HsaFixture.params(wide, 1), TestDevices.java(), 1, 64), RETRIEVAL, h, h, lm, lm));
        assertTrue(ce.field().equals("retrieval_dim"), ce.getMessage());
    }
}
