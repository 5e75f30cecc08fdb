package org.hsajava.train.optim;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.testing.TestDevices;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigFile;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class AdamWOptimizerTest {
    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    /** A small HSA model with an encoder: matrices, norms, biases and the CLS vector interleaved. */
    static ParameterLayout layout() {
        String json = """
            {"attention_kind": "hsa", "vocab_size": 50, "hidden_size": 32, "intermediate_size": 48,
             "num_attention_heads": 2, "num_key_value_heads": 1, "num_lower_layers": 1, "sliding_window": 8,
             "num_kv_heads": 1, "num_upper_groups": 1, "num_upper_layers": 1, "chunk_size": 16, "chunk_topk": 2,
             "encoder_layers": 1, "retrieval_dim": 32, "enable_qk_norm": true, "attention_bias": true,
             "train": {"batch_size": 1, "seq_len": 16, "steps": 10, "lr": 0.001, "tokenizer": "byte",
                       "task_mix": {"passkey": 1}, "checkpoint_interval": 5, "eval_interval": 5}}""";
        return ParameterLayout.of(ConfigFile.parse(json).model());
    }

    @Test
    void runsCoverTheBufferAndFollowEachTensorsDecayFlag() {
        ParameterLayout l = layout();
        List<AdamWOptimizer.Run> runs = AdamWOptimizer.runs(l);
        assertEquals(0, runs.get(0).from());
        assertEquals(l.totalSize(), runs.get(runs.size() - 1).to());
        for (int i = 1; i < runs.size(); i++) {
            assertEquals(runs.get(i - 1).to(), runs.get(i).from(), "contiguous");
            assertTrue(runs.get(i - 1).decay() != runs.get(i).decay(), "maximal: neighbours differ");
        }
        for (ParameterSpec s : l.specs()) {
            AdamWOptimizer.Run r = runs.stream().filter(x -> x.from() <= s.offset() && s.end() <= x.to()).findFirst().orElseThrow();
            assertEquals(s.weightDecay(), r.decay(), s.name());
            boolean shouldDecay = !(s.name().contains("norm") || s.name().endsWith(".bias") || s.name().endsWith("cls_emb"));
            assertEquals(shouldDecay, r.decay(), s.name());
        }
        assertTrue(runs.size() > 4);
    }

    /** One step on every element against AdamW in double precision (torch's order of operations), with clipping. */
    @ParameterizedTest
    @MethodSource("devices")
    void oneStepMatchesTheDoubleReference(Device d) {
        ParameterLayout l = layout();
        ModelParameters p = ModelParameters.of(l).initialize(3);
        int n = p.all().size();
        SplittableRandom r = new SplittableRandom(11);
        float[] g = new float[n], m0 = new float[n], v0 = new float[n];
        for (ParameterSpec s : l.specs()) {
            for (long i = s.offset(); i < s.end(); i++) {
                g[(int) i] = (float) (r.nextGaussian() * 0.3);
                m0[(int) i] = (float) (r.nextGaussian() * 0.01);
                v0[(int) i] = (float) (r.nextDouble() * 1e-3);
            }
        }
        float[] p0 = p.all().f32().clone();
        p.allGrads().set(g);
        double lr = 3e-3, b1 = 0.9, b2 = 0.95, eps = 1e-8, wd = 0.1, clip = 0.5;
        int t = 7;
        AdamWOptimizer opt = new AdamWOptimizer(p, b1, b2, eps, wd);
        opt.m().set(m0);
        opt.v().set(v0);
        double normSq = 0;
        for (float x : g) normSq += (double) x * x;
        double scale;
        try (ExecutionPlan plan = new ExecutionPlan(opt.gradNormGraph(), opt.stepGraph()).withDevice(d)) {
            plan.transferToDevice(p.all(), p.allGrads(), opt.m(), opt.v());
            plan.execute(AdamWOptimizer.NORM_GRAPH);
            assertEquals(Math.sqrt(normSq), opt.gradNorm(), 1e-6 * Math.sqrt(normSq));
            scale = GradientClipping.factor(opt.gradNorm(), clip);
            assertTrue(scale < 0.1, "the test clips: " + scale);
            opt.lr().set(lr);
            opt.step().set(t);
            opt.gradScale().set(scale);
            plan.execute(AdamWOptimizer.STEP_GRAPH);
            plan.transferToHost(p.all(), opt.m(), opt.v());
        }
        float[] p1 = p.all().toF32Array(), m1 = opt.m().toF32Array(), v1 = opt.v().toF32Array();
        for (ParameterSpec s : l.specs()) {
            double decay = s.weightDecay() ? wd : 0;
            for (long k = s.offset(); k < s.end(); k++) {
                int i = (int) k;
                double gi = g[i] * scale;
                double m = b1 * m0[i] + (1 - b1) * gi, v = b2 * v0[i] + (1 - b2) * gi * gi;
                double mh = m / (1 - Math.pow(b1, t)), vh = v / (1 - Math.pow(b2, t));
                double want = p0[i] * (1 - lr * decay) - lr * mh / (Math.sqrt(vh) + eps);
                // float rounding is relative to the terms, which may cancel
                assertEquals(m, m1[i], 1e-6 * (Math.abs(b1 * m0[i]) + Math.abs((1 - b1) * gi)) + 1e-15, "m " + s.name());
                assertEquals(v, v1[i], 1e-6 * (b2 * v0[i] + (1 - b2) * gi * gi) + 1e-18, "v " + s.name());
                assertEquals(want, p1[i], 1e-6 * Math.abs(p0[i]) + 1e-5 * lr, "param " + s.name() + " [" + (k - s.offset()) + "]");
            }
        }
    }

    @Test
    void clippingFactorFollowsTorch() {
        assertEquals(1.0, GradientClipping.factor(0.5, 1.0));
        assertEquals(1.0 / (4.0 + 1e-6), GradientClipping.factor(4.0, 1.0), 1e-15);
        assertEquals(1.0, GradientClipping.factor(1e9, 0), "0 = off");
        assertEquals(1.0, GradientClipping.factor(0, 1.0));
    }
}
