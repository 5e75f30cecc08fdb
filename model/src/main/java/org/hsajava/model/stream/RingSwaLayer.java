package org.hsajava.model.stream;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Residual;
import org.hsajava.kernels.Rope;
import org.hsajava.kernels.SegmentRows;
import org.hsajava.kernels.SlidingWindowAttention;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.layers.LayerContext;
import org.hsajava.model.layers.Linear;
import org.hsajava.model.layers.RmsNormBlock;
import org.hsajava.model.layers.ScratchPool;
import org.hsajava.model.layers.SwiGluMlp;

/**
 * An {@link org.hsajava.model.layers.SwaDecoderLayer} for decoding: one new token per execution,
 * its keys and values kept in a ring buffer of the window's last {@code R = W + 1} positions
 * (window (W, 0): a token sees itself and the W before it). Same parameters and math:
 * <pre>
 *   a = input_layernorm(h);  q, k = rope(q_norm(q_proj a)), rope(k_norm(k_proj a)) at position p;  v = v_proj a
 *   kCache[p mod R], vCache[p mod R] = k, v
 *   h1 = h + o_proj(attention of q over the min(p+1, R) cached keys)       ({@link SlidingWindowAttention#decode})
 *   out = h1 + mlp(post_attention_layernorm(h1))
 * </pre>
 * The position p, its ring slot and the filled count are scalars the decoder sets before each step.
 */
final class RingSwaLayer {
    private final String name, prefix;
    private final Device device;
    private final ModelParameters p;
    private final int D, HQ, Hs, hd, ringSize;
    private final Object position;
    private final Scalar slot, count;
    private final Tensor h, out, a, qRaw, kRaw, q, k, v, o, h1, n, kCache, vCache, scores, freq;
    private final RmsNormBlock inputNorm, qNorm, kNorm, postNorm;
    private final SwiGluMlp mlp;

    /**
     * @param ctx      batch 1, length 1; its position scalar is the token's position p
     * @param ringSize R: W + 1 (or fewer when the whole sequence is shorter)
     * @param slot     p mod R
     * @param count    min(p + 1, R)
     */
    RingSwaLayer(LayerContext ctx, ScratchPool scratch, int index, Tensor h, Tensor out, int ringSize, Scalar slot, Scalar count) {
        ModelConfig c = ctx.config();
        if (ctx.batch() != 1 || ctx.length() != 1) throw new IllegalArgumentException("a ring-buffer layer decodes one token of one sequence");
        this.name = "layers." + index;
        this.prefix = "backbone.layers." + index + ".";
        this.device = ctx.device();
        this.p = ctx.params();
        this.D = c.hiddenSize();
        this.HQ = c.numAttentionHeads();
        this.Hs = c.numKeyValueHeads();
        this.hd = c.headDim();
        this.ringSize = ringSize;
        this.position = ctx.positionArgument();
        this.slot = slot;
        this.count = count;
        this.h = h;
        this.out = out;
        a = Tensor.f32(name + ".a", 1, D);
        qRaw = Tensor.f32(name + ".qRaw", HQ, hd);
        kRaw = Tensor.f32(name + ".kRaw", Hs, hd);
        q = Tensor.f32(name + ".q", HQ, hd);
        k = Tensor.f32(name + ".k", Hs, hd);
        v = Tensor.f32(name + ".v", Hs, hd);
        o = Tensor.f32(name + ".o", HQ, hd);
        h1 = Tensor.f32(name + ".h1", 1, D);
        n = Tensor.f32(name + ".n", 1, D);
        kCache = Tensor.f32(name + ".kCache", ringSize, Hs, hd);
        vCache = Tensor.f32(name + ".vCache", ringSize, Hs, hd);
        scores = Tensor.f32(name + ".scores", HQ, ringSize);
        freq = Tensor.of(name + ".ropeFreq", Rope.frequencyTable(hd, c.ropeTheta()));
        inputNorm = new RmsNormBlock(ctx, scratch, name + ".input_layernorm", prefix + "input_layernorm.weight", c.rmsNormEps(), 1, D, h, a);
        qNorm = new RmsNormBlock(ctx, scratch, name + ".q_norm", prefix + "self_attn.q_norm.weight", c.rmsNormEps(), HQ, hd, qRaw, q);
        kNorm = new RmsNormBlock(ctx, scratch, name + ".k_norm", prefix + "self_attn.k_norm.weight", c.rmsNormEps(), Hs, hd, kRaw, k);
        postNorm = new RmsNormBlock(ctx, scratch, name + ".post_attention_layernorm", prefix + "post_attention_layernorm.weight", c.rmsNormEps(), 1, D, h1, n);
        mlp = new SwiGluMlp(ctx, scratch, name + ".mlp", prefix + "mlp.", 1, c.intermediateSize(), n, out, null, NoGrad.of(name + ".dOut", 1, D));
    }

    /** Device bytes of the two caches. */
    long cacheBytes() { return kCache.bytes() + vCache.bytes(); }

    private Tensor bias(String proj) { return p.has(prefix + "self_attn." + proj + ".bias") ? p.param(prefix + "self_attn." + proj + ".bias") : null; }

    void forward(TaskGraph g) {
        String attn = prefix + "self_attn.";
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, freq);
        inputNorm.forward(g);
        Linear.forward(g, name + ".q_proj", device, a, p.param(attn + "q_proj.weight"), bias("q_proj"), qRaw, 1, D, HQ * hd);
        Linear.forward(g, name + ".k_proj", device, a, p.param(attn + "k_proj.weight"), bias("k_proj"), kRaw, 1, D, Hs * hd);
        Linear.forward(g, name + ".v_proj", device, a, p.param(attn + "v_proj.weight"), bias("v_proj"), v, 1, D, Hs * hd);
        qNorm.forward(g);
        kNorm.forward(g);
        g.task(name + ".q_rope", Rope.FORWARD_CONTIGUOUS, q, q, freq, 1, 1, HQ, hd, position);
        g.task(name + ".k_rope", Rope.FORWARD_CONTIGUOUS, k, k, freq, 1, 1, Hs, hd, position);
        g.task(name + ".kCache", SegmentRows.COPY_ROWS, k, kCache, 1, 1, 1, Hs * hd, 0, 0, 0, 0, 0, slot, 0);
        g.task(name + ".vCache", SegmentRows.COPY_ROWS, v, vCache, 1, 1, 1, Hs * hd, 0, 0, 0, 0, 0, slot, 0);
        g.task(name + ".attn", SlidingWindowAttention.decode(hd), q, kCache, vCache, o, scores, 1, HQ, Hs, ringSize, count, (float) (1.0 / Math.sqrt(hd)));
        Linear.forward(g, name + ".o_proj", device, o, p.param(attn + "o_proj.weight"), bias("o_proj"), h1, 1, HQ * hd, D);
        g.task(name + ".residual1", Residual.AXPBY, h, h1, D, 1f, 1f);          // h1 += h
        postNorm.forward(g);
        mlp.forward(g);
        g.task(name + ".residual2", Residual.AXPBY, h1, out, D, 1f, 1f);
    }
}
