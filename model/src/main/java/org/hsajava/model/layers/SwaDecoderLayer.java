package org.hsajava.model.layers;

import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.model.config.ModelConfig;

/**
 * The authors' {@code SWADecoderLayer} (docs/authors-model.md §2.2, §3.3), pre-norm:
 * <pre>
 *   a   = input_layernorm(h)                       eps rms_norm_eps
 *   h1  = h + self_attn(a)                         {@link SwaAttention}
 *   n   = post_attention_layernorm(h1)             (with the add before it: one kernel)
 *   out = h1 + mlp(n)                              {@link SwiGluMlp}, width intermediate_size
 * </pre>
 * Backward, the same steps in reverse:
 * <pre>
 *   dn  = mlp'(dOut);   dh1 = norm2'(dn) + dOut    (one kernel)
 *   da  = attn'(dh1);   dh += norm1'(da) + dh1     (the norm's gradient added in its kernel)
 * </pre>
 * Parameters {@code backbone.layers.{index}.…}; activations {@code [batch·length, D]} row-major.
 */
public final class SwaDecoderLayer implements Layer {
    private final String name;
    private final int n;
    private final Tensor h, out, dh, dOut;
    private final RmsNormBlock inputNorm, postNorm;
    private final SwaAttention attention;
    private final SwiGluMlp mlp;
    // saved activations
    private final Tensor a, h1, nrm;
    // backward scratch: dA and dN are never live at once, so they share one buffer
    private final Tensor dAorN, dh1;

    /** As {@link #SwaDecoderLayer(LayerContext, ScratchPool, int, Tensor, Tensor, Tensor, Tensor)} with a private scratch pool. */
    public SwaDecoderLayer(LayerContext ctx, int index, Tensor h, Tensor out, Tensor dh, Tensor dOut) {
        this(ctx, new ScratchPool("layers." + index + ".scratch"), index, h, out, dh, dOut);
    }

    /**
     * @param scratch backward scratch, shared with the model's other layers
     * @param index   position in the authors' {@code backbone.layers} list
     * @param h       input hidden states {@code [rows, D]} (kept: the backward reads it)
     * @param out     output hidden states {@code [rows, D]}, overwritten; must not be {@code h}
     * @param dh      gradient of h: the backward ADDS into it
     * @param dOut    gradient of out
     */
    public SwaDecoderLayer(LayerContext ctx, ScratchPool scratch, int index, Tensor h, Tensor out, Tensor dh, Tensor dOut) {
        ModelConfig c = ctx.config();
        String prefix = "backbone.layers." + index + ".";
        this.name = "layers." + index;
        this.n = ctx.rows() * c.hiddenSize();
        if (h == out) throw new IllegalArgumentException(name + ": output must be a tensor other than the input (the backward reads the input)");
        SwaAttention.requireSize(name, "h", h, n);
        SwaAttention.requireSize(name, "out", out, n);
        SwaAttention.requireSize(name, "dh", dh, n);
        SwaAttention.requireSize(name, "dOut", dOut, n);
        this.h = h;
        this.out = out;
        this.dh = dh;
        this.dOut = dOut;
        int rows = ctx.rows(), d = c.hiddenSize();
        this.a = Tensor.f32(name + ".a", rows, d);
        this.h1 = Tensor.f32(name + ".h1", rows, d);
        this.nrm = Tensor.f32(name + ".n", rows, d);
        this.dAorN = scratch.f32("SwaDecoderLayer.dAorN", rows, d);
        this.dh1 = scratch.f32("SwaDecoderLayer.dh1", rows, d);
        // bf16(a) for q/k/v and bf16(n) for gate/up, written by the norms, read by the GEMMs forward and backward
        Tensor a16 = ctx.bf16Copies() ? Tensor.bf16(name + ".a16", rows, d) : null, n16 = ctx.bf16Copies() ? Tensor.bf16(name + ".n16", rows, d) : null;
        this.inputNorm = new RmsNormBlock(ctx, scratch, name + ".input_layernorm", prefix + "input_layernorm.weight", c.rmsNormEps(), rows, d, h, a, a16);
        this.attention = new SwaAttention(ctx, scratch, name + ".self_attn", prefix + "self_attn.", a, a16, h1, dAorN, dh1);
        this.postNorm = new RmsNormBlock(ctx, scratch, name + ".post_attention_layernorm", prefix + "post_attention_layernorm.weight", c.rmsNormEps(), rows, d, h1, nrm, n16);
        this.mlp = new SwiGluMlp(ctx, scratch, name + ".mlp", prefix + "mlp.", rows, c.intermediateSize(), nrm, n16, out, dAorN, dOut);
    }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        inputNorm.forward(g);
        attention.forward(g);                          // h1 = attn(a)
        postNorm.forwardAfterAdd(g, h1, h);            // h1 += h; n = norm(h1)
        mlp.forward(g);                                // out = mlp(n)
        Ops.addInto(g, name + ".residual2", h1, out, n);
    }

    @Override
    public void backward(TaskGraph g) {
        Tensor dN = dAorN, dA = dAorN;
        g.task(name + ".dnZero", Fill.FILL, dN, n, 0f);
        mlp.backward(g);                               // dN += mlp'(dOut)
        postNorm.backwardPlus(g, dN, dh1, dOut);       // dh1 = dOut + norm2'(dN)
        g.task(name + ".daZero", Fill.FILL, dA, n, 0f);
        attention.backward(g);                         // dA += attn'(dh1)
        inputNorm.backward(g, dA, dh, true);           // dh += norm1'(dA)
        Ops.addInto(g, name + ".dhResidual", dh1, dh, n);
    }
}
