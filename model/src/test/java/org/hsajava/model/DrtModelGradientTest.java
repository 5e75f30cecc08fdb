package org.hsajava.model;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.layers.Layer;
import org.hsajava.model.layers.RetrievalLayer;
import org.hsajava.model.reference.DrtReference;
import org.hsajava.model.reference.GradCheck;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * The whole model, as {@link DrtModel} wires it, against {@link DrtReference} (the double-precision
 * composition of the layer references): one training step's loss, the evaluation logits, the chunk
 * selection, and EVERY parameter tensor's gradient against central finite differences of the
 * reference's mean loss, on the Java backend and OpenCL.
 *
 * <p>Shapes: vocab 23, D = 64, 4 query heads of hd 16 (the smallest head size the HSA kernels take),
 * 2 SWA KV heads, window 7, intermediate 40; HSA: one lower layer, chunk memory with a one-layer
 * encoder (MLP width 128), one group [retrieval, HSA, one SWA layer], 1 HSA KV head, R = dr = 16,
 * S = 16, K = 2. B = 2, L = 53 = 3 chunks + 5 tokens: tokens 32..47 have exactly K eligible chunks,
 * tokens 48..52 (the trailing partial chunk, which the memory leaves out) choose 2 of 3. The
 * baselines have the same depth (three SWA layers) and test both tied and untied heads.
 */
class DrtModelGradientTest {
    static final int B = 2, L = 53, ROWS = B * L, VOCAB = 23, IGNORE = CrossEntropy.IGNORE_INDEX;
    /** Finite-difference coordinates per parameter tensor. */
    static final int SAMPLES = 8;

    static ModelConfig config(String kind) {
        String common = """
                "vocab_size": 23, "hidden_size": 64, "intermediate_size": 40, "num_attention_heads": 4,
                "num_key_value_heads": 2, "sliding_window": 7, "rms_norm_eps": 1e-5, "layer_norm_epsilon": 1e-5,
                "max_position_embeddings": 64, "pad_token_id": 0""";
        return ModelConfig.parse(switch (kind) {
            case "hsa" -> """
                    {"attention_kind": "hsa", %s, "tie_word_embeddings": true, "num_lower_layers": 1,
                     "num_kv_heads": 1, "num_upper_groups": 1, "num_upper_layers": 1, "chunk_size": 16, "chunk_topk": 2,
                     "encoder_layers": 1, "retrieval_dim": 16}""".formatted(common);
            case "swa_only" -> """
                    {"attention_kind": "swa_only", %s, "tie_word_embeddings": false, "num_lower_layers": 3}""".formatted(common);
            case "full_causal" -> """
                    {"attention_kind": "full_causal", %s, "tie_word_embeddings": true, "num_lower_layers": 3}""".formatted(common);
            default -> throw new IllegalArgumentException(kind);
        });
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String kind : new String[] {"hsa", "swa_only", "full_causal"}) {
            for (String dev : new String[] {"java", "opencl"}) out.add(Arguments.of(kind, dev));
        }
        return out.stream();
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void lossLogitsSelectionAndEveryParameterGradientMatchTheDoubleReference(String kind, String dev) {
        Device device = dev.equals("java") ? TestDevices.java() : TestDevices.opencl();
        ModelConfig c = config(kind);
        ModelParameters p = randomParams(c, 101);
        float[] prefill = p.allGrads().f32().clone();

        Rand r = new Rand(17);
        int[] ids = r.ints(ROWS, VOCAB);
        ids[5] = -1;                                  // a negative id reads pad_token_id
        int[] tg = new int[ROWS];                     // next-token targets; none at the end of a sequence
        for (int i = 0; i < ROWS; i++) tg[i] = (i + 1) % L == 0 ? IGNORE : Math.max(ids[i + 1], c.padTokenId());
        tg[L + 20] = IGNORE;                          // and one ignored position inside a sequence
        int valid = CrossEntropy.checkTargets(tg, VOCAB, IGNORE);

        DrtReference ref = new DrtReference(p, B, L);
        DrtReference.Result want = ref.forward(ids, tg, IGNORE, null);
        if (c.hasHsa()) {
            // Finite differences and float rounding must not flip the top-K choice.
            assertTrue(want.minMargin() > 1e-3 && want.minMargin() < Double.POSITIVE_INFINITY,
                    "test data: no real choice or scores too close to a tie (" + want.minMargin() + ")");
        }

        String at = kind + " on " + dev + ": ";
        try (DrtModel m = new DrtModel(c, p, device, B, L)) {
            m.inputIds().set(ids.clone());
            m.targets().set(tg.clone());
            m.lossScale().set(1.0 / valid);
            m.prepareInputs();
            TaskGraph up = new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, p.all(), p.allGrads());
            List<Tensor> indices = new ArrayList<>();
            for (Layer l : m.layers()) if (l instanceof RetrievalLayer rl) indices.add(rl.selection().indices());
            assertEquals(c.hasHsa() ? c.hsa().numUpperGroups() : 0, indices.size(), at + "retrieval layers");
            try (ExecutionPlan plan = new ExecutionPlan(up.snapshot(), m.trainStep(), m.evalStep()).withDevice(device)) {
                plan.execute("params");
                plan.execute("train");
                plan.transferToHost(p.allGrads());
                plan.transferToHost(indices.toArray(Tensor[]::new));
                double loss = 0;
                for (float l : m.rowLosses().toF32Array()) loss += l;
                loss /= valid;
                assertEquals(want.loss(), loss, 1e-4 * want.loss(), at + "mean loss");
                for (int g = 0; g < indices.size(); g++) {
                    assertArrayEquals(want.selections()[g], indices.get(g).toI32Array(), at + "chunk indices of group " + g);
                }
                plan.execute("eval");
                plan.transferToHost(m.logits());
                assertClose(at + "logits", want.logits(), m.logits().toF32Array(), 1e-4);
            }
        }

        // Every parameter tensor: what the step ADDED to its gradient vs finite differences of the mean loss.
        float[] now = p.allGrads().f32();
        int[][] fixed = want.selections();
        int checked = 0;
        for (ParameterSpec s : p.layout().specs()) {
            float[] added = new float[Math.toIntExact(s.size())];
            double max = 0;
            for (int i = 0; i < added.length; i++) {
                added[i] = now[(int) s.offset() + i] - prefill[(int) s.offset() + i];
                max = Math.max(max, Math.abs(added[i]));
            }
            assertTrue(max > 0, at + s.name() + ": the backward left its gradient unchanged");
            GradCheck.check(at + s.name(), v -> ref.loss(ids, tg, IGNORE, fixed), ref.params.get(s.name()), added, SAMPLES, 1e-3, s.name().hashCode());
            checked++;
        }
        assertEquals(p.layout().specs().size(), checked);
    }

    /**
     * Parameters at O(1) scale so every path matters and retrieval scores spread out (the authors'
     * 0.02 init makes them nearly tied): matrices N(0, 1/fan_in), the embedding N(0, 0.5²), cls_emb N(0, 1), norm
     * weights 1 + N(0, 0.2), biases N(0, 0.1); the gradient buffer pre-filled with noise, since the
     * backward must ADD to it.
     */
    static ModelParameters randomParams(ModelConfig c, long seed) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(c));
        SplittableRandom r = new SplittableRandom(seed);
        float[] flat = p.all().f32();
        for (ParameterSpec s : p.layout().specs()) {
            int[] shape = s.shape();
            double std = switch (s.init()) {
                case ONES -> 0.2;
                case ZEROS -> 0.1;
                case NORMAL -> s.name().equals(ParameterLayout.EMBEDDINGS) ? 0.5 : s.name().endsWith("cls_emb") ? 1 : 1 / Math.sqrt(shape[shape.length - 1]);
            };
            double mean = switch (s.init()) {
                case ONES -> 1;
                default -> 0;
            };
            for (long i = s.offset(); i < s.end(); i++) flat[(int) i] = (float) (mean + std * gaussian(r));
        }
        float[] g = p.allGrads().f32();
        for (int i = 0; i < g.length; i++) g[i] = (float) (0.1 * gaussian(r));
        return p;
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
