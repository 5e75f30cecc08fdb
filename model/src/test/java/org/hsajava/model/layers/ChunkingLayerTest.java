package org.hsajava.model.layers;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashMap;
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
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ChunkWeightMode;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;
import org.hsajava.model.config.WeightDType;
import org.hsajava.model.reference.ChunkingReference;
import org.hsajava.model.reference.GradCheck;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

class ChunkingLayerTest {

    /**
     * D=32, HQ=4 (hd=8), Hs=2, Hk=1, R=16, encoder MLP width int(32·8/3 // 64 · 64) = 64. S=16: the
     * smallest chunk size HsaConfig accepts (the chunking layer itself has no such limit).
     */
    static ModelConfig config(int encoderLayers, boolean encPrenorm, boolean qkNorm) {
        HsaConfig h = new HsaConfig(1, 1, 1, 16, 2, ChunkWeightMode.STICK_BREAKING, false, encoderLayers, 16,
                true, true, qkNorm, false, encPrenorm, false);
        return new ModelConfig(AttentionKind.HSA, 16, 32, 48, 4, 2, 8, 1, 8, 10000, 1e-6, 1e-5, 0.02,
                true, false, WeightDType.FLOAT32, 0, 64, h);
    }

    static Stream<Arguments> cases() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            // device, encoder layers, enc_prenorm, qk norm, batch, length
            b.add(Arguments.of(d, 1, false, false, 1, 48));   // 3 chunks, one encoder layer
            b.add(Arguments.of(d, 1, false, false, 2, 56));   // B = 2 and a trailing partial chunk of 8 tokens
            b.add(Arguments.of(d, 2, false, false, 2, 48));   // two encoder layers
            b.add(Arguments.of(d, 2, true, true, 1, 56));     // two layers, enc_prenorm, k_rmsnorm, partial chunk
            b.add(Arguments.of(d, 0, false, false, 1, 48));   // encoder-free: norm + mean-pooled landmark
            b.add(Arguments.of(d, 0, false, true, 2, 56));    // encoder-free, B = 2, partial chunk, k_rmsnorm
        }
        return b.build();
    }

    @ParameterizedTest(name = "{0}: encoder layers {1}, prenorm {2}, qk norm {3}, B={4} L={5}")
    @MethodSource("cases")
    void matchesTheDoubleReferenceAndFiniteDifferences(Device device, int encoderLayers, boolean prenorm, boolean qkNorm, int batch, int length) {
        ModelConfig cfg = config(encoderLayers, prenorm, qkNorm);
        ParameterLayout layout = ParameterLayout.of(cfg);
        ModelParameters params = ModelParameters.of(layout);
        Rand r = new Rand(7L * encoderLayers + batch + length);
        // Random weights far from init (norm weights around 1, biases non-zero) so every gradient is exercised.
        for (ParameterSpec s : layout.specs()) {
            float[] v = r.normal(Math.toIntExact(s.size()), 0.3);
            if (s.name().endsWith("norm.weight") || s.name().endsWith("layernorm.weight") || s.name().endsWith("k_rmsnorm.weight")) {
                for (int i = 0; i < v.length; i++) v[i] += 1;
            }
            params.param(s.name()).set(v);
        }
        float[] gradInit = r.normal(params.allGrads().size(), 1);
        params.allGrads().set(gradInit.clone());

        int d = cfg.hiddenSize(), s = cfg.hsa().chunkSize(), chunks = length / s, kv = cfg.hsa().numKvHeads() * cfg.headDim(), rDim = cfg.hsa().retrievalDim();
        float[] h = r.normal(batch * length * d, 1), dh0 = r.normal(batch * length * d, 1);
        float[] dK = r.normal(batch * chunks * s * kv, 1), dV = r.normal(batch * chunks * s * kv, 1), dL = r.normal(batch * chunks * rDim, 1);
        Tensor th = Tensor.of("h", h.clone()), tdh = Tensor.of("dh", dh0.clone());
        Tensor memK = Tensor.f32("memK", batch, chunks * s, 1, 8), memV = Tensor.f32("memV", batch, chunks * s, 1, 8), lmk = Tensor.f32("landmarks", batch, chunks, rDim);
        Tensor tdK = Tensor.of("dMemK", dK.clone()), tdV = Tensor.of("dMemV", dV.clone()), tdL = Tensor.of("dLandmarks", dL.clone());

        ChunkingLayer layer = new ChunkingLayer(new LayerContext(cfg, params, device, batch, length), th, tdh, memK, memV, lmk, tdK, tdV, tdL);
        assertEquals("layers.1.chunking", layer.name());
        TaskGraph g = new TaskGraph("chunking").transferToDevice(DataTransferMode.EVERY_EXECUTION, params.all(), params.allGrads(), th, tdh, tdK, tdV, tdL);
        layer.forward(g);
        layer.backward(g);
        g.transferToHost(DataTransferMode.EVERY_EXECUTION, th, memK, memV, lmk, tdh, params.allGrads());
        try (ExecutionPlan plan = new ExecutionPlan(g.snapshot()).withDevice(device)) {
            plan.execute();
        }

        Map<String, double[]> w = new HashMap<>();
        for (ParameterSpec spec : layout.specs()) w.put(spec.name(), toDouble(params.param(spec.name()).toF32Array()));
        double[] hd = toDouble(h), dKd = toDouble(dK), dVd = toDouble(dV), dLd = toDouble(dL);
        ChunkingReference.Memory ref = ChunkingReference.forward(cfg, w, hd, batch, length);
        String at = device + " enc=" + encoderLayers + " B=" + batch + " L=" + length + ": ";
        assertArrayEquals(h, th.toF32Array(), at + "the layer only reads h");
        assertClose(at + "mem_k", ref.memK(), memK.toF32Array(), 1e-4);
        assertClose(at + "mem_v", ref.memV(), memV.toF32Array(), 1e-4);
        assertClose(at + "landmarks", ref.landmarks(), lmk.toF32Array(), 1e-4);

        // dh: what the backward ADDED; the trailing partial chunk's rows must be untouched
        float[] dhAdded = tdh.toF32Array();
        for (int i = 0; i < dhAdded.length; i++) dhAdded[i] -= dh0[i];
        for (int b = 0; b < batch; b++) {
            for (int i = (b * length + chunks * s) * d; i < (b + 1) * length * d; i++) {
                assertEquals(0f, dhAdded[i], at + "dh of a token in the partial chunk (index " + i + ")");
            }
        }
        GradCheck.check(at + "dh", v -> ChunkingReference.forward(cfg, w, v, batch, length).dot(dKd, dVd, dLd), hd, dhAdded, 60, 1e-3, 1);

        // every parameter of the layer, ADDED onto the random initial gradients
        String prefix = "backbone.layers.1.";
        int checked = 0;
        for (ParameterSpec spec : layout.specs()) {
            if (!spec.name().startsWith(prefix)) continue;
            float[] added = params.grad(spec.name()).toF32Array();
            int off = (int) spec.offset();
            for (int i = 0; i < added.length; i++) added[i] -= gradInit[off + i];
            double[] x = w.get(spec.name());   // perturbed in place: the reference reads it through the map
            GradCheck.check(at + spec.name(), v -> ChunkingReference.forward(cfg, w, hd, batch, length).dot(dKd, dVd, dLd), x, added, 30, 1e-3, checked + 2);
            checked++;
        }
        // cls_emb + encoder.norm + 14 per encoder layer (or norm), proj_k, proj_v, lmk_ln, the optional norms
        int expected = (encoderLayers == 0 ? 1 : 2 + 14 * encoderLayers) + 3 + (prenorm ? 1 : 0) + (qkNorm ? 1 : 0);
        assertEquals(expected, checked, at + "parameters checked");
    }

    @Test
    void refusesWrongTensorsAndTooShortSequencesNamingThem() {
        ModelConfig cfg = config(1, false, false);
        ModelParameters params = ModelParameters.of(ParameterLayout.of(cfg));
        Device d = TestDevices.java();
        Tensor h = Tensor.f32("h", 2 * 40 * 32), ok = Tensor.f32("k", 2 * 32 * 8), lmk = Tensor.f32("l", 2 * 2 * 16);
        var e = assertThrows(IllegalArgumentException.class, () -> new ChunkingLayer(new LayerContext(cfg, params, d, 2, 40),
                h, h, ok, Tensor.f32("v", 7), lmk, ok, ok, lmk));
        assertTrue(e.getMessage().contains("'memV'"), e.getMessage());
        var e2 = assertThrows(IllegalArgumentException.class, () -> new ChunkingLayer(new LayerContext(cfg, params, d, 1, 8),
                Tensor.f32("h", 8 * 32), Tensor.f32("dh", 8 * 32), ok, ok, lmk, ok, ok, lmk));
        assertTrue(e2.getMessage().contains("shorter than chunk_size"), e2.getMessage());
    }

    static double[] toDouble(float[] a) {
        double[] r = new double[a.length];
        for (int i = 0; i < a.length; i++) r[i] = a[i];
        return r;
    }
}
