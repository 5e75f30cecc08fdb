package org.hsajava.model.reference;

import java.util.Map;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;

/**
 * The chunk memory (docs/authors-model.md §3.4) in double precision from {@link RefOps}, written
 * from the specification and independent of the kernels and of the layer classes: the reference
 * that ChunkingLayer's outputs and finite-difference gradients are checked against.
 * Parameters come by full state-dict name; {@code h} is the residual stream [B, L, D].
 */
public final class ChunkingReference {
    private ChunkingReference() {}

    private static final double EPS = 1e-6;

    /** mem_k, mem_v [B, C·S, Hk, hd] and landmarks [B, C, R]. */
    public record Memory(double[] memK, double[] memV, double[] landmarks) {
        /** {@code Σ mem_k·dK + Σ mem_v·dV + Σ landmarks·dL}: the scalar whose gradient the backward pass computes. */
        public double dot(double[] dK, double[] dV, double[] dL) {
            return RefOps.dot(memK, dK) + RefOps.dot(memV, dV) + RefOps.dot(landmarks, dL);
        }
    }

    public static Memory forward(ModelConfig c, Map<String, double[]> w, double[] h, int batch, int length) {
        HsaConfig hsa = c.hsa();
        String p = "backbone.layers." + c.numLowerLayers() + ".";
        int d = c.hiddenSize(), s = hsa.chunkSize(), chunks = length / s, n = batch * chunks;
        boolean encoder = hsa.encoderLayers() > 0;
        int t = encoder ? s + 1 : s;
        // the chunks as independent sequences, CLS appended at index S
        double[] x = new double[n * t * d];
        for (int b = 0; b < batch; b++) {
            for (int ch = 0; ch < chunks; ch++) {
                int seg = b * chunks + ch;
                for (int j = 0; j < t; j++) {
                    for (int i = 0; i < d; i++) {
                        x[(seg * t + j) * d + i] = j < s ? h[(b * length + ch * s + j) * d + i] : w.get(p + "cls_emb")[i];
                    }
                }
            }
        }
        double[] tokens = new double[n * s * d], pooled = new double[n * d];
        if (encoder) {
            if (hsa.encPrenorm()) x = RefOps.rmsNorm(x, w.get(p + "enc_prenorm.weight"), n * t, d, EPS);
            for (int l = 0; l < hsa.encoderLayers(); l++) x = encoderLayer(c, w, p + "encoder.layers." + l + ".", x, n, t);
            double[] e = RefOps.rmsNorm(x, w.get(p + "encoder.norm.weight"), n * t, d, EPS);
            for (int seg = 0; seg < n; seg++) {
                System.arraycopy(e, (seg * t + s) * d, pooled, seg * d, d);
                System.arraycopy(e, seg * t * d, tokens, seg * s * d, s * d);
            }
        } else {
            tokens = RefOps.rmsNorm(x, w.get(p + "norm.weight"), n * s, d, EPS);
            for (int seg = 0; seg < n; seg++) {
                for (int j = 0; j < s; j++) for (int i = 0; i < d; i++) pooled[seg * d + i] += tokens[(seg * s + j) * d + i] / s;
            }
        }
        int kv = hsa.numKvHeads() * c.headDim();
        double[] lmk = RefOps.linear(pooled, w.get(p + "lmk_ln.weight"), null, n, d, hsa.retrievalDim());
        double[] k = RefOps.linear(tokens, w.get(p + "proj_k.weight"), null, n * s, d, kv);
        if (hsa.qkNorm()) k = RefOps.rmsNorm(k, w.get(p + "k_rmsnorm.weight"), n * s * hsa.numKvHeads(), c.headDim(), EPS);
        double[] v = RefOps.linear(tokens, w.get(p + "proj_v.weight"), null, n * s, d, kv);
        return new Memory(k, v, lmk);
    }

    /** Qwen2DecoderLayer: pre-norm bidirectional attention (biased q/k/v, per-head q/k norm, RoPE 0..T-1) and SwiGLU, each with a residual. */
    static double[] encoderLayer(ModelConfig c, Map<String, double[]> w, String p, double[] x, int n, int t) {
        int d = c.hiddenSize(), hq = c.numAttentionHeads(), hs = c.numKeyValueHeads(), hd = c.headDim(), rows = n * t, ie = c.encoderIntermediateSize();
        int[] pos = new int[rows];
        for (int r = 0; r < rows; r++) pos[r] = r % t;
        double[] a = RefOps.rmsNorm(x, w.get(p + "input_layernorm.weight"), rows, d, EPS);
        String at = p + "self_attn.";
        double[] q = RefOps.linear(a, w.get(at + "q_proj.weight"), w.get(at + "q_proj.bias"), rows, d, hq * hd);
        double[] k = RefOps.linear(a, w.get(at + "k_proj.weight"), w.get(at + "k_proj.bias"), rows, d, hs * hd);
        double[] v = RefOps.linear(a, w.get(at + "v_proj.weight"), w.get(at + "v_proj.bias"), rows, d, hs * hd);
        q = RefOps.rope(RefOps.rmsNorm(q, w.get(at + "q_norm.weight"), rows * hq, hd, EPS), pos, rows, hq, hd, 10000.0);
        k = RefOps.rope(RefOps.rmsNorm(k, w.get(at + "k_norm.weight"), rows * hs, hd, EPS), pos, rows, hs, hd, 10000.0);
        double[] o = RefOps.attention(q, k, v, n, t, t, hq, hs, hd, 1 / Math.sqrt(hd), (qi, ki) -> true);
        double[] x1 = RefOps.add(x, RefOps.linear(o, w.get(at + "o_proj.weight"), null, rows, hq * hd, d));
        double[] a2 = RefOps.rmsNorm(x1, w.get(p + "post_attention_layernorm.weight"), rows, d, EPS);
        double[] hidden = RefOps.swiglu(RefOps.linear(a2, w.get(p + "mlp.gate_proj.weight"), null, rows, d, ie),
                RefOps.linear(a2, w.get(p + "mlp.up_proj.weight"), null, rows, d, ie));
        return RefOps.add(x1, RefOps.linear(hidden, w.get(p + "mlp.down_proj.weight"), null, rows, ie, d));
    }
}
