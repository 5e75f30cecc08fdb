package org.hsajava.model.layers;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.kernels.Fill;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.reference.SwaReference;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Embedding → 2 SWA decoder layers → output head, wired as a model wires them (one scratch pool,
 * gradients of the hidden states zeroed at the start of the backward): the loss and EVERY
 * parameter gradient against the double reference of the whole stack.
 * Vocab 37, D = 32, 4 heads, 2 KV heads (hd 8), W = 5, L = 13, B = 2.
 */
class SwaStackTest {
    static final int B = 2, L = 13, ROWS = B * L, D = 32, VOCAB = 37, LAYERS = 2, IGNORE = CrossEntropy.IGNORE_INDEX;

    static List<Arguments> devicesAndTying() {
        List<Arguments> out = new ArrayList<>();
        LayerTests.devices().forEach(d -> {
            out.add(Arguments.of(d, true));
            out.add(Arguments.of(d, false));
        });
        return out;
    }

    @ParameterizedTest(name = "tied={1} on {0}")
    @MethodSource("devicesAndTying")
    void lossAndEveryParameterGradientMatchTheDoubleReference(Device device, boolean tied) {
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, VOCAB, D, 40, 4, 2, LAYERS, 5, tied, false);
        ModelParameters p = LayerTests.randomParams(c, 61);
        float[] prefill = LayerTests.prefillGrads(p, 62);
        Rand r = new Rand(63);
        int[] idsHost = r.ints(ROWS, VOCAB);
        int[] tg = new int[ROWS]; // next-token targets; the last position of each sequence has none
        for (int b = 0; b < B; b++) {
            for (int t = 0; t < L; t++) tg[b * L + t] = t == L - 1 ? IGNORE : idsHost[b * L + t + 1];
        }
        int valid = CrossEntropy.checkTargets(tg, VOCAB, IGNORE);

        LayerContext ctx = new LayerContext(c, p, device, B, L);
        ScratchPool scratch = new ScratchPool("scratch");
        Tensor ids = Tensor.of("ids", idsHost.clone()), targets = Tensor.of("targets", tg), losses = Tensor.f32("losses", ROWS);
        Tensor[] h = new Tensor[LAYERS + 1], dh = new Tensor[LAYERS + 1];
        for (int i = 0; i <= LAYERS; i++) {
            h[i] = Tensor.f32("h" + i, ROWS, D);
            dh[i] = Tensor.f32("dh" + i, ROWS, D);
        }
        Scalar scale = Scalar.of("lossScale", 1.0 / valid);
        EmbeddingLayer emb = new EmbeddingLayer(ctx, ids, h[0], dh[0]);
        List<SwaDecoderLayer> layers = new ArrayList<>();
        for (int i = 0; i < LAYERS; i++) layers.add(new SwaDecoderLayer(ctx, scratch, i, h[i], h[i + 1], dh[i], dh[i + 1]));
        OutputHead head = new OutputHead(ctx, scratch, h[LAYERS], dh[LAYERS], targets, losses, scale);

        TaskGraph g = new TaskGraph("step").transferToDevice(DataTransferMode.EVERY_EXECUTION, p.all(), p.allGrads(), ids, targets);
        emb.forward(g);
        layers.forEach(l -> l.forward(g));
        head.forward(g);
        for (int i = 0; i <= LAYERS; i++) g.task("zero.dh" + i, Fill.FILL, dh[i], ROWS * D, 0f);
        head.backward(g);
        for (int i = LAYERS - 1; i >= 0; i--) layers.get(i).backward(g);
        emb.indexIds();
        emb.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, losses, p.allGrads());
        LayerTests.run(device, g);

        SwaReference ref = new SwaReference(p, B, L);
        double loss = 0;
        for (float l : losses.toF32Array()) loss += l * scale.get();
        double want = ref.stackLoss(idsHost, tg, LAYERS, IGNORE);
        assertEquals(want, loss, 1e-5 * want, "mean loss");
        LayerTests.checkParameterGradients(p, ref, "", prefill, () -> ref.stackLoss(idsHost, tg, LAYERS, IGNORE), 30, 1e-3);
    }
}
