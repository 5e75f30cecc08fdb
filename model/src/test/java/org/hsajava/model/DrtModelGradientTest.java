package org.hsajava.model;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
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
 * 2 SWA KV heads, window 7, intermediate 40, B = 2, L = 53 = 3 chunks of S = 16 + 5 tokens: tokens
 * 32..47 have exactly K = 2 eligible chunks, tokens 48..52 (the trailing partial chunk, which the
 * memory leaves out) choose 2 of 3.
 * <ul>
 * <li>{@code hsa}: the authors' defaults: one lower layer, chunk memory with a one-layer encoder
 *     (MLP width 128) and CLS landmark, one group [retrieval, HSA, one SWA layer], 1 HSA KV head,
 *     R = dr = 16, stick-breaking weights, bypassing residual, tied head.
 * <li>{@code hsa-variant}: every HSA switch flipped and TWO groups reading one memory: encoder-free
 *     memory, 2 HSA KV heads (R = 32), softmax weights, softmax off-by-one, reset_hsa_residual,
 *     q/k and landmark norms, untied head.
 * <li>{@code swa_only}, {@code full_causal}: three SWA (resp. causal) layers, untied resp. tied head.
 * </ul>
 */
class DrtModelGradientTest {
    static final int B = 2, L = 53, ROWS = B * L, VOCAB = 23, IGNORE = CrossEntropy.IGNORE_INDEX;
    /** Finite-difference coordinates per parameter tensor. */
    static final int SAMPLES = 8;
    /** Per config, the reference's finite differences by parameter name (see {@link #finiteDifferences}). */
    private static final Map<String, Map<String, double[]>> NUMERIC = new ConcurrentHashMap<>();

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
            // Every switch the first model leaves at its default flipped, and two groups sharing one memory.
            case "hsa-variant" -> """
                    {"attention_kind": "hsa", %s, "tie_word_embeddings": false, "num_lower_layers": 1,
                     "num_kv_heads": 2, "num_upper_groups": 2, "num_upper_layers": 2, "chunk_size": 16, "chunk_topk": 2,
                     "encoder_layers": 0, "retrieval_dim": 32, "enable_softmax": true, "enable_softmax1": true,
                     "reset_hsa_residual": true, "enable_qk_norm": true, "enable_lmk_norm": true}""".formatted(common);
            // The authors' mask_slide_window: only chunks starting W = 20 or more tokens back (c·16 <= t - 20).
            case "hsa-mask" -> """
                    {"attention_kind": "hsa", "vocab_size": 23, "hidden_size": 64, "intermediate_size": 40, "num_attention_heads": 4,
                     "num_key_value_heads": 2, "sliding_window": 20, "rms_norm_eps": 1e-5, "layer_norm_epsilon": 1e-5,
                     "max_position_embeddings": 64, "pad_token_id": 0, "tie_word_embeddings": true, "num_lower_layers": 1,
                     "num_kv_heads": 1, "num_upper_groups": 1, "num_upper_layers": 1, "chunk_size": 16, "chunk_topk": 2,
                     "encoder_layers": 1, "retrieval_dim": 16, "mask_slide_window": true}""";
            case "swa_only" -> """
                    {"attention_kind": "swa_only", %s, "tie_word_embeddings": false, "num_lower_layers": 3}""".formatted(common);
            case "full_causal" -> """
                    {"attention_kind": "full_causal", %s, "tie_word_embeddings": true, "num_lower_layers": 3}""".formatted(common);
            default -> throw new IllegalArgumentException(kind);
        });
    }

    static Stream<Arguments> cases() {
        List<Arguments> out = new ArrayList<>();
        for (String kind : new String[] {"hsa", "hsa-variant", "hsa-mask", "swa_only", "full_causal"}) {
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
        float[] secondStep;
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
                // A second step recomputes everything and ADDS the same gradients again: every
                // activation gradient (dmem_k, dlandmarks, dweights, ...) was zeroed by the step.
                float[] afterOne = p.allGrads().toF32Array();
                plan.execute("train");
                plan.transferToHost(p.allGrads());
                double loss2 = 0;
                for (float l : m.rowLosses().toF32Array()) loss2 += l;
                assertEquals(loss, loss2 / valid, 1e-6 * loss, at + "mean loss of the second step");
                secondStep = minus(p.allGrads().toF32Array(), afterOne);
                p.allGrads().set(afterOne);
                plan.execute("eval");
                plan.transferToHost(m.logits());
                assertClose(at + "logits", want.logits(), m.logits().toF32Array(), 1e-4);
            }
        }

        // Every parameter tensor: what the step ADDED to its gradient vs finite differences of the mean loss.
        float[] now = p.allGrads().f32();
        Map<String, double[]> numeric = NUMERIC.computeIfAbsent(kind, k -> finiteDifferences(ref, ids, tg, want.selections()));
        int checked = 0;
        for (ParameterSpec s : p.layout().specs()) {
            float[] added = new float[Math.toIntExact(s.size())];
            double max = 0;
            for (int i = 0; i < added.length; i++) {
                added[i] = now[(int) s.offset() + i] - prefill[(int) s.offset() + i];
                max = Math.max(max, Math.abs(added[i]));
            }
            assertTrue(max > 0, at + s.name() + ": the backward left its gradient unchanged");
            for (int i = 0; i < added.length; i++) {
                float again = secondStep[(int) s.offset() + i];
                if (Math.abs(again - added[i]) > 1e-4 * max) {
                    fail(at + s.name() + "[" + i + "]: the second step added " + again + ", the first " + added[i]);
                }
            }
            int[] coords = coordinates(s.name(), added.length);
            double[] fd = numeric.get(s.name());
            for (int k = 0; k < coords.length; k++) {
                double err = Math.abs(fd[k] - added[coords[k]]) / max;
                if (err > 1e-3) {
                    fail(String.format("%s%s: coordinate %d: finite difference %.6g, backward %.6g (error %.2g of max |grad| %.3g > 1e-3)",
                            at, s.name(), coords[k], fd[k], added[coords[k]], err, max));
                }
            }
            checked++;
        }
        assertEquals(p.layout().specs().size(), checked);
    }

    /**
     * Central finite differences of the reference's mean loss (selection held fixed) at
     * {@link #coordinates} of every parameter tensor, by name: the same for every device, so each
     * config computes them once. Step and error measure as in {@link org.hsajava.model.reference.GradCheck}.
     */
    static Map<String, double[]> finiteDifferences(DrtReference ref, int[] ids, int[] targets, int[][] fixed) {
        Map<String, double[]> out = new HashMap<>();
        for (Map.Entry<String, double[]> e : ref.params.entrySet()) {
            double[] x = e.getValue();   // perturbed in place: the reference reads it through the map
            int[] coords = coordinates(e.getKey(), x.length);
            double[] fd = new double[coords.length];
            for (int k = 0; k < coords.length; k++) {
                int i = coords[k];
                double keep = x[i], h = 1e-5 * Math.max(1, Math.abs(keep));
                x[i] = keep + h;
                double up = ref.loss(ids, targets, IGNORE, fixed);
                x[i] = keep - h;
                double down = ref.loss(ids, targets, IGNORE, fixed);
                x[i] = keep;
                fd[k] = (up - down) / (2 * h);
            }
            out.put(e.getKey(), fd);
        }
        return out;
    }

    /** {@link #SAMPLES} random coordinates of a tensor (all of them if it is smaller), seeded by its name. */
    static int[] coordinates(String name, int size) {
        int n = Math.min(SAMPLES, size);
        SplittableRandom r = new SplittableRandom(name.hashCode());
        int[] c = new int[n];
        for (int k = 0; k < n; k++) c[k] = n == size ? k : r.nextInt(size);
        return c;
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

    private static float[] minus(float[] a, float[] b) {
        float[] c = new float[a.length];
        for (int i = 0; i < a.length; i++) c[i] = a[i] - b[i];
        return c;
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
