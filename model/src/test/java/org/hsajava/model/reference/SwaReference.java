package org.hsajava.model.reference;

import java.util.HashMap;
import java.util.Map;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.ParameterSpec;

/**
 * The embedding, the SWA decoder layer and the output head in double precision, written from
 * docs/authors-model.md §3.0–3.3 and §3.7 with {@link RefOps} (no kernels). Parameters live in a
 * map of state-dict name → double[]; finite differences perturb those arrays in place, so every
 * method reads them afresh. Activations are {@code [batch·length, features]} row-major.
 */
public final class SwaReference {
    public final ModelConfig config;
    public final int batch, length, rows;
    /** Every parameter by state-dict name (a tied lm_head is not a key: it reads the embedding). */
    public final Map<String, double[]> params = new HashMap<>();

    public SwaReference(ModelParameters p, int batch, int length) {
        this.config = p.layout().config();
        this.batch = batch;
        this.length = length;
        this.rows = batch * length;
        float[] flat = p.all().f32();
        for (ParameterSpec s : p.layout().specs()) {
            double[] v = new double[(int) s.size()];
            for (int i = 0; i < v.length; i++) v[i] = flat[(int) s.offset() + i];
            params.put(s.name(), v);
        }
    }

    public double[] p(String name) {
        if (name.equals(ParameterLayout.LM_HEAD) && config.tieWordEmbeddings()) name = ParameterLayout.EMBEDDINGS;
        double[] v = params.get(name);
        if (v == null) throw new IllegalArgumentException("no parameter " + name);
        return v;
    }

    /** {@code h[n] = embeddings[ids[n] < 0 ? pad : ids[n]]}. */
    public double[] embed(int[] ids) {
        int d = config.hiddenSize();
        double[] table = p(ParameterLayout.EMBEDDINGS), h = new double[ids.length * d];
        for (int n = 0; n < ids.length; n++) {
            int id = ids[n] < 0 ? config.padTokenId() : ids[n];
            System.arraycopy(table, id * d, h, n * d, d);
        }
        return h;
    }

    /** {@code o_proj(swa(rope(q_norm(q_proj x)), rope(k_norm(k_proj x)), v_proj x))} for the module at {@code prefix}. */
    public double[] attention(double[] x, String prefix) {
        int d = config.hiddenSize(), hd = config.headDim(), hq = config.numAttentionHeads(), hs = config.numKeyValueHeads();
        double eps = config.rmsNormEps();
        double[] q = RefOps.linear(x, p(prefix + "q_proj.weight"), bias(prefix + "q_proj.bias"), rows, d, hq * hd);
        double[] k = RefOps.linear(x, p(prefix + "k_proj.weight"), bias(prefix + "k_proj.bias"), rows, d, hs * hd);
        double[] v = RefOps.linear(x, p(prefix + "v_proj.weight"), bias(prefix + "v_proj.bias"), rows, d, hs * hd);
        q = RefOps.rmsNorm(q, p(prefix + "q_norm.weight"), rows * hq, hd, eps); // per head, before RoPE
        k = RefOps.rmsNorm(k, p(prefix + "k_norm.weight"), rows * hs, hd, eps);
        int[] pos = new int[rows];
        for (int r = 0; r < rows; r++) pos[r] = r % length;
        q = RefOps.rope(q, pos, rows, hq, hd, config.ropeTheta());
        k = RefOps.rope(k, pos, rows, hs, hd, config.ropeTheta());
        int w = config.attentionKind() == AttentionKind.FULL_CAUSAL ? length : config.slidingWindow();
        double[] o = RefOps.attention(q, k, v, batch, length, length, hq, hs, hd, 1 / Math.sqrt(hd), (t, j) -> j <= t && j >= t - w);
        return RefOps.linear(o, p(prefix + "o_proj.weight"), bias(prefix + "o_proj.bias"), rows, hq * hd, d);
    }

    /** {@code down(silu(gate x) ⊙ up x)} for the MLP at {@code prefix} of the given width. */
    public double[] mlp(double[] x, String prefix, int width) {
        int d = config.hiddenSize();
        double[] g = RefOps.linear(x, p(prefix + "gate_proj.weight"), null, rows, d, width);
        double[] u = RefOps.linear(x, p(prefix + "up_proj.weight"), null, rows, d, width);
        return RefOps.linear(RefOps.swiglu(g, u), p(prefix + "down_proj.weight"), null, rows, width, d);
    }

    /** SWADecoderLayer {@code index}: pre-norm attention and MLP, each with a residual. */
    public double[] decoderLayer(double[] h, int index) {
        String pre = "backbone.layers." + index + ".";
        int d = config.hiddenSize();
        double[] a = RefOps.rmsNorm(h, p(pre + "input_layernorm.weight"), rows, d, config.rmsNormEps());
        double[] h1 = RefOps.add(h, attention(a, pre + "self_attn."));
        double[] n = RefOps.rmsNorm(h1, p(pre + "post_attention_layernorm.weight"), rows, d, config.rmsNormEps());
        return RefOps.add(h1, mlp(n, pre + "mlp.", config.intermediateSize()));
    }

    /** {@code lm_head(norm_f(h))}, {@code [rows, V]}. */
    public double[] logits(double[] h) {
        int d = config.hiddenSize();
        double[] n = RefOps.rmsNorm(h, p("backbone.norm_f.weight"), rows, d, config.layerNormEpsilon());
        return RefOps.linear(n, p(ParameterLayout.LM_HEAD), null, rows, d, config.vocabSize());
    }

    /** Per-row cross-entropy of the logits (0 where the target is {@code ignore}). */
    public double[] rowLosses(double[] logits, int[] targets, int ignore) {
        int v = config.vocabSize();
        double[] out = new double[rows];
        for (int r = 0; r < rows; r++) {
            if (targets[r] == ignore) continue;
            double[] row = java.util.Arrays.copyOfRange(logits, r * v, (r + 1) * v);
            out[r] = RefOps.crossEntropy(row, new int[] {targets[r]}, 1, v, ignore);
        }
        return out;
    }

    /** The whole SWA stack: embed, decoder layers 0..layers-1, head; mean cross-entropy over non-ignored targets. */
    public double stackLoss(int[] ids, int[] targets, int layers, int ignore) {
        double[] h = embed(ids);
        for (int i = 0; i < layers; i++) h = decoderLayer(h, i);
        return RefOps.crossEntropy(logits(h), targets, rows, config.vocabSize(), ignore);
    }

    private double[] bias(String name) { return params.get(name); }
}
