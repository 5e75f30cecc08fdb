package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.reference.RefOps;
import org.hsajava.model.reference.SwaReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class EmbeddingLayerTest {
    static Stream<Device> devices() { return LayerTests.devices(); }

    /** Two batches through one plan: the inverted index must follow the ids, gradients must add up. */
    @ParameterizedTest
    @MethodSource("devices")
    void lookupAndDeterministicGradientOverTwoBatches(Device device) {
        int batch = 2, length = 13, rows = batch * length, d = 32, vocab = 37;
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, vocab, d, 48, 4, 2, 1, 5, true, false);
        ModelParameters p = LayerTests.randomParams(c, 21);
        float[] prefill = LayerTests.prefillGrads(p, 22);
        Rand r = new Rand(23);
        Tensor ids = Tensor.i32("ids", rows), out = Tensor.f32("out", rows * d), dOut = Tensor.f32("dOut", rows * d);
        EmbeddingLayer layer = new EmbeddingLayer(new LayerContext(c, p, device, batch, length), ids, out, dOut);
        TaskGraph g = new TaskGraph("emb").transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all(), p.allGrads())
                .transferToDevice(DataTransferMode.EVERY_EXECUTION, ids, dOut);
        layer.forward(g);
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, out, p.allGrads());

        SwaReference ref = new SwaReference(p, batch, length);
        double[] expectedGrad = new double[vocab * d];
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            for (int step = 0; step < 2; step++) {
                // few distinct ids so most repeat; step 0 also has negative ids, which become pad_token_id (0)
                int[] batchIds = r.ints(rows, step == 0 ? 6 : vocab);
                if (step == 0) { batchIds[3] = -1; batchIds[17] = -100; }
                int[] original = batchIds.clone();
                float[] grad = r.normal(rows * d, 1);
                ids.set(batchIds);
                dOut.set(grad);
                layer.indexIds();
                plan.execute();
                assertTrue(ids.i32()[3] == (step == 0 ? 0 : original[3]), "negative ids are replaced by the pad id on the host");
                assertClose("out (step " + step + ")", ref.embed(original), out.toF32Array(), 0);
                double[] table = ref.params.get(ParameterLayout.EMBEDDINGS);
                // the gradient of this batch by finite differences of Σ out·dOut, accumulated over the steps
                double[] exact = fd(ref, original, RefOps.toDouble(grad), table);
                for (int i = 0; i < exact.length; i++) expectedGrad[i] += exact[i];
                assertClose("accumulated embedding gradient after step " + step, expectedGrad, LayerTests.added(p, ParameterLayout.EMBEDDINGS, prefill), 1e-6);
            }
        }
    }

    /** ∂(Σ out·dOut)/∂table by central differences over every entry (exact: the function is linear). */
    private static double[] fd(SwaReference ref, int[] ids, double[] dOut, double[] table) {
        double[] g = new double[table.length];
        for (int i = 0; i < table.length; i++) {
            double keep = table[i];
            table[i] = keep + 0.5;
            double up = RefOps.dot(ref.embed(ids), dOut);
            table[i] = keep - 0.5;
            double down = RefOps.dot(ref.embed(ids), dOut);
            table[i] = keep;
            g[i] = up - down;
        }
        return g;
    }

    @Test
    void anIdOutsideTheVocabularyIsNamedByPosition() {
        ModelConfig c = LayerTests.swaConfig(AttentionKind.SWA_ONLY, 37, 32, 48, 4, 2, 1, 5, true, false);
        ModelParameters p = ModelParameters.of(ParameterLayout.of(c));
        Tensor ids = Tensor.i32("ids", 13);
        EmbeddingLayer layer = new EmbeddingLayer(new LayerContext(c, p, TestDevices.java(), 1, 13), ids, Tensor.f32("o", 13 * 32), Tensor.f32("d", 13 * 32));
        ids.i32()[5] = 37;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, layer::indexIds);
        assertTrue(e.getMessage().contains("position 5"), e.getMessage());
    }
}
