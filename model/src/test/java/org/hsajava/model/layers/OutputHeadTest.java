package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.reference.GradCheck;
import org.hsajava.model.reference.RefOps;
import org.hsajava.model.reference.SwaReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class OutputHeadTest {
    static final int D = 32, VOCAB = 37, IGNORE = CrossEntropy.IGNORE_INDEX;

    static List<Arguments> devicesAndShapes() {
        List<Arguments> out = new ArrayList<>();
        LayerTests.devices().forEach(d -> {
            out.add(Arguments.of(d, true, 2, 13));
            out.add(Arguments.of(d, false, 1, 9));
        });
        return out;
    }

    private static int[] targets(Rand r, int rows) {
        int[] t = r.ints(rows, VOCAB);
        for (int i = 0; i < rows; i += 4) t[i] = IGNORE; // positions without a loss
        return t;
    }

    @ParameterizedTest(name = "tied={1} B={2} L={3} on {0}")
    @MethodSource("devicesAndShapes")
    void lossAndGradientsMatchTheDoubleReference(Device device, boolean tied, int batch, int length) {
        int rows = batch * length;
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, VOCAB, D, 48, 4, 2, 1, 5, tied, false);
        ModelParameters p = LayerTests.randomParams(c, 31);
        float[] prefill = LayerTests.prefillGrads(p, 32);
        Rand r = new Rand(33);
        float[] h = r.normal(rows * D, 1), dhPrefill = r.normal(rows * D, 0.1);
        int[] tg = targets(r, rows);
        int valid = CrossEntropy.checkTargets(tg, VOCAB, IGNORE);
        Tensor th = Tensor.of("h", h), tdh = Tensor.of("dh", dhPrefill.clone()), targets = Tensor.of("targets", tg), losses = Tensor.f32("losses", rows);
        Scalar scale = Scalar.of("lossScale", 1.0 / valid);
        OutputHead head = new OutputHead(new LayerContext(c, p, device, batch, length), th, tdh, targets, losses, scale);
        TaskGraph g = new TaskGraph("head").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads(), th, tdh, targets);
        head.forward(g);
        head.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, losses, tdh, p.allGrads());
        LayerTests.run(device, g);

        SwaReference ref = new SwaReference(p, batch, length);
        double[] hd = RefOps.toDouble(h);
        assertClose("row losses", ref.rowLosses(ref.logits(hd), tg, IGNORE), losses.toF32Array(), 1e-5);
        double mean = 0;
        for (float l : losses.toF32Array()) mean += l * scale.get();
        assertEquals(RefOps.crossEntropy(ref.logits(hd), tg, rows, VOCAB, IGNORE), mean, 1e-5 * Math.abs(mean));
        GradCheck.check("dh", v -> RefOps.crossEntropy(ref.logits(v), tg, rows, VOCAB, IGNORE), hd, LayerTests.minus(tdh.toF32Array(), dhPrefill), 80, 1e-3, 1);
        for (String name : List.of("backbone.norm_f.weight", ParameterLayout.LM_HEAD)) {
            GradCheck.check(name, v -> RefOps.crossEntropy(ref.logits(hd), tg, rows, VOCAB, IGNORE), ref.p(name), LayerTests.added(p, name, prefill), 80, 1e-3, 2);
        }
        if (!tied) {
            float[] emb = LayerTests.added(p, ParameterLayout.EMBEDDINGS, prefill);
            for (float v : emb) assertEquals(0f, v, "an untied head leaves the embedding gradient alone");
        }
    }

    /** The evaluation forward keeps the logits; the loss scale is read at every execution. */
    @ParameterizedTest(name = "on {0}")
    @MethodSource("org.hsajava.model.layers.LayerTests#devices")
    void evalKeepsLogitsAndLossScaleIsLive(Device device) {
        int batch = 2, length = 5, rows = batch * length;
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, VOCAB, D, 48, 4, 2, 1, 5, true, false);
        ModelParameters p = LayerTests.randomParams(c, 41);
        Rand r = new Rand(42);
        float[] h = r.normal(rows * D, 1);
        int[] tg = targets(r, rows);
        Tensor th = Tensor.of("h", h), targets = Tensor.of("targets", tg), losses = Tensor.f32("losses", rows);
        Scalar scale = Scalar.of("lossScale", 1);
        LayerContext ctx = new LayerContext(c, p, device, batch, length);

        OutputHead eval = new OutputHead(ctx, th, Tensor.f32("dh", rows * D), targets, losses, scale);
        TaskGraph ge = new TaskGraph("eval").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), th, targets);
        eval.forwardLoss(ge);
        ge.transferToHost(DataTransferMode.EVERY_EXECUTION, eval.logits(), losses);
        LayerTests.run(device, ge);
        SwaReference ref = new SwaReference(p, batch, length);
        double[] logits = ref.logits(RefOps.toDouble(h));
        assertClose("logits", logits, eval.logits().toF32Array(), 1e-5);
        assertClose("row losses", ref.rowLosses(logits, tg, IGNORE), losses.toF32Array(), 1e-5);

        Tensor dh = Tensor.f32("dh", rows * D);
        OutputHead train = new OutputHead(ctx, th, dh, targets, losses, scale);
        TaskGraph gt = new TaskGraph("train").transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all(), p.allGrads(), th, targets, dh);
        train.forward(gt);
        train.backward(gt);
        gt.transferToHost(DataTransferMode.EVERY_EXECUTION, dh);
        try (ExecutionPlan plan = new ExecutionPlan(gt.snapshot()).withDevice(device)) {
            plan.execute();
            float[] once = dh.toF32Array();
            scale.set(2);
            plan.execute(); // dh accumulates: 1x + 2x
            float[] thrice = new float[once.length];
            for (int i = 0; i < once.length; i++) thrice[i] = 3 * once[i];
            assertClose("dh after scales 1 and 2", thrice, dh.toF32Array(), 1e-5);
        }
    }
}
