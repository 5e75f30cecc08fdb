package org.hsajava.model.layers;

import java.util.HashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.hsajava.compute.testing.Rand;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.reference.HsaRef;

/**
 * Shared set-up of the retrieval / HSA layer tests: a tiny HSA model config (no lower layers, one
 * group: layer 0 chunking, 1 retrieval, 2 HSA), parameters filled with O(1)-scaled random values
 * (the authors' 0.02 init would make every retrieval score nearly tied), and their double copies.
 */
final class HsaFixture {
    static final int RETRIEVAL = 1, HSA = 2;
    static final String RETRIEVAL_PREFIX = "backbone.layers.1.", HSA_PREFIX = "backbone.layers.2.";

    /** The smallest shapes the kernels are built for: head_dim, chunk_size and dr at 16. */
    static final int D = 64, HQ = 4, HD = 16, S = 16, TOPK = 2, I = 40;

    /** One test case's shape and switches. */
    record Case(int hk, int batch, int length, boolean softmax, int n, boolean bypass, boolean qkNorm, boolean lmkNorm) {
        int r() { return 16 * hk; } // dr = 16, the smallest retrieval head size the selection kernels support

        HsaRef.Dims dims() {
            return new HsaRef.Dims(batch, length, D, HQ, hk, HD, r(), S, Math.min(TOPK, length / S), I, softmax, n, bypass, qkNorm, lmkNorm, 0);
        }

        ModelConfig config() {
            return ModelConfig.parse("""
                    {"attention_kind": "hsa", "vocab_size": 32, "hidden_size": %d, "intermediate_size": %d,
                     "num_attention_heads": %d, "num_key_value_heads": %d, "num_lower_layers": 0, "sliding_window": 16,
                     "num_kv_heads": %d, "num_upper_groups": 1, "num_upper_layers": 0, "chunk_size": %d, "chunk_topk": %d,
                     "enable_softmax": %b, "enable_softmax1": %b, "encoder_layers": 0, "retrieval_dim": %d,
                     "reset_hsa_residual": %b, "hsa_only": true, "enable_qk_norm": %b, "enable_lmk_norm": %b}
                    """.formatted(D, I, HQ, HQ, hk, S, TOPK, softmax, n == 1, r(), !bypass, qkNorm, lmkNorm));
        }

        @Override
        public String toString() {
            return "Hk=" + hk + " B=" + batch + " L=" + length + (softmax ? " softmax" : " stick") + " n=" + n
                    + (bypass ? " bypass" : " reset") + (qkNorm ? " qkNorm" : "") + (lmkNorm ? " lmkNorm" : "");
        }
    }

    private HsaFixture() {}

    /** Parameters with norm weights 1 + N(0, 0.2) and linear weights N(0, 1/in), gradients random (to check accumulation). */
    static ModelParameters params(ModelConfig config, long seed) {
        ModelParameters p = ModelParameters.of(ParameterLayout.of(config));
        SplittableRandom r = new SplittableRandom(seed);
        Rand rand = new Rand(seed);
        float[] all = p.all().f32();
        for (ParameterSpec s : p.layout().specs()) {
            int[] shape = s.shape();
            boolean norm = s.name().endsWith("norm.weight");
            double std = norm ? 0.2 : 1 / Math.sqrt(shape[shape.length - 1]);
            for (long i = 0; i < s.size(); i++) all[(int) (s.offset() + i)] = (float) ((norm ? 1 : 0) + std * gaussian(r));
        }
        p.allGrads().set(rand.normal(p.allGrads().size(), 0.1));
        return p;
    }

    /** Double copies of every parameter, by name (the reference reads and finite differences perturb these). */
    static Map<String, double[]> doubles(ModelParameters p) {
        Map<String, double[]> m = new HashMap<>();
        for (ParameterSpec s : p.layout().specs()) m.put(s.name(), toDouble(p.param(s.name()).toF32Array()));
        return m;
    }

    /** Host copies of every gradient, by name. */
    static Map<String, float[]> grads(ModelParameters p) {
        Map<String, float[]> m = new HashMap<>();
        for (ParameterSpec s : p.layout().specs()) m.put(s.name(), p.grad(s.name()).toF32Array());
        return m;
    }

    static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    static float[] minus(float[] a, float[] b) {
        float[] c = new float[a.length];
        for (int i = 0; i < a.length; i++) c[i] = a[i] - b[i];
        return c;
    }

    private static double gaussian(SplittableRandom r) {
        double u = 1.0 - r.nextDouble(), v = r.nextDouble();
        return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
    }
}
