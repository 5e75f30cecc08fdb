package org.hsajava.model.layers;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Rope;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.kernels.SegmentAttention;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;

/**
 * The chunk encoder's self-attention (the authors' {@code encoder.py: Qwen2Attention};
 * docs/authors-model.md §3.4), over N independent segments of T tokens with no mask:
 * <pre>
 *   q  = q_norm(a·Wqᵀ + bq)  per head [rows, HQ, hd]     k = k_norm(a·Wkᵀ + bk)  [rows, Hs, hd]
 *   v  = a·Wvᵀ + bv                                      (q/k/v projections WITH bias)
 *   q, k = RoPE(q, k) at positions 0..T-1 inside each segment, theta 10000
 *   y  = SegmentAttention(q, k, v; scale hd^-1/2, GQA) · Woᵀ                  (o_proj, no bias)
 * </pre>
 * {@code a, y, da, dy: [N·T, D]} row-major; parameters under {@code prefix} ({@code ...self_attn.}).
 * Forward overwrites y; backward ADDS into da and the parameter gradients.
 */
public final class EncoderAttention implements Layer {
    /** The encoder's RoPE base: LlamaConfig's default, not the decoder's rope_theta. */
    static final double ROPE_THETA = 10000.0;

    private final String name;
    private final Device device;
    private final ModelParameters p;
    private final String prefix;
    private final int rows, dModel, heads, kvHeads, hd;
    private final SegmentAttention.Shape shape;
    private final Tensor a, y, da, dy;
    private final Tensor freq;
    // saved activations
    private final Tensor q, k, v, qr, kr, rstdQ, rstdK, att, lse;
    // backward scratch
    private final Tensor dAtt, dqr, dkr, dv, delta, dq, dk, partials;

    public EncoderAttention(LayerContext ctx, String name, String prefix, int segments, int segmentLength,
                            Tensor a, Tensor y, Tensor da, Tensor dy) {
        ModelConfig c = ctx.config();
        this.name = name;
        this.device = ctx.device();
        this.p = ctx.params();
        this.prefix = prefix;
        this.dModel = c.hiddenSize();
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        this.hd = c.headDim();
        this.rows = segments * segmentLength;
        this.shape = new SegmentAttention.Shape(segments, segmentLength, heads, kvHeads, hd);
        for (Object[] t : new Object[][] {{"a", a}, {"y", y}, {"da", da}, {"dy", dy}}) EncoderLayer.requireSize(name, (String) t[0], (Tensor) t[1], (long) rows * dModel);
        this.a = a;
        this.y = y;
        this.da = da;
        this.dy = dy;
        this.freq = Tensor.of(name + ".ropeFreq", Rope.frequencyTable(hd, ROPE_THETA));
        int qw = heads * hd, kw = kvHeads * hd;
        q = Tensor.f32(name + ".q", rows, qw);
        k = Tensor.f32(name + ".k", rows, kw);
        v = Tensor.f32(name + ".v", rows, kw);
        qr = Tensor.f32(name + ".qRope", rows, qw);
        kr = Tensor.f32(name + ".kRope", rows, kw);
        rstdQ = Tensor.f32(name + ".rstdQ", rows * heads);
        rstdK = Tensor.f32(name + ".rstdK", rows * kvHeads);
        att = Tensor.f32(name + ".att", rows, qw);
        lse = Tensor.f32(name + ".lse", rows * heads);
        dAtt = Tensor.f32(name + ".dAtt", rows, qw);
        dqr = Tensor.f32(name + ".dqRope", rows, qw);
        dkr = Tensor.f32(name + ".dkRope", rows, kw);
        dv = Tensor.f32(name + ".dv", rows, kw);
        delta = Tensor.f32(name + ".delta", rows * heads);
        dq = Tensor.f32(name + ".dq", rows, qw);
        dk = Tensor.f32(name + ".dk", rows, kw);
        partials = Tensor.f32(name + ".normPartials", RmsNorm.blocks(rows * heads, RmsNorm.DW_BLOCK_ROWS) * hd);
    }

    @Override
    public String name() { return name; }

    private Tensor w(String n) { return p.param(prefix + n); }

    private Tensor gw(String n) { return p.grad(prefix + n); }

    @Override
    public void forward(TaskGraph g) {
        int qw = heads * hd, kw = kvHeads * hd;
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, freq);
        Linear.forward(g, name + ".q_proj", device, a, w("q_proj.weight"), w("q_proj.bias"), q, rows, dModel, qw);
        Linear.forward(g, name + ".k_proj", device, a, w("k_proj.weight"), w("k_proj.bias"), k, rows, dModel, kw);
        Linear.forward(g, name + ".v_proj", device, a, w("v_proj.weight"), w("v_proj.bias"), v, rows, dModel, kw);
        // per-head RMSNorm before RoPE; RoPE in place on the normed heads
        g.task(name + ".q_norm", RmsNorm.FORWARD, q, w("q_norm.weight"), qr, rstdQ, rows * heads, hd, EncoderLayer.EPS);
        g.task(name + ".k_norm", RmsNorm.FORWARD, k, w("k_norm.weight"), kr, rstdK, rows * kvHeads, hd, EncoderLayer.EPS);
        g.task(name + ".q_rope", Rope.FORWARD_CONTIGUOUS, qr, qr, freq, rows, shape.length(), heads, hd, 0);
        g.task(name + ".k_rope", Rope.FORWARD_CONTIGUOUS, kr, kr, freq, rows, shape.length(), kvHeads, hd, 0);
        SegmentAttention.addForward(g, name + ".attn.", shape, qr, kr, v, att, lse);
        Linear.forward(g, name + ".o_proj", device, att, w("o_proj.weight"), null, y, rows, qw, dModel);
    }

    @Override
    public void backward(TaskGraph g) {
        int qw = heads * hd, kw = kvHeads * hd;
        EncoderLayer.inputGrad(g, name + ".o_proj.dx", device, dy, w("o_proj.weight"), dAtt, rows, qw, dModel, false);
        Linear.backward(g, name + ".o_proj", device, att, w("o_proj.weight"), dy, null, gw("o_proj.weight"), null, rows, qw, dModel);
        SegmentAttention.addBackward(g, name + ".attn.", shape, qr, kr, v, att, lse, dAtt, delta, dqr, dkr, dv);
        g.task(name + ".q_rope.bwd", Rope.BACKWARD_CONTIGUOUS, dqr, dqr, freq, rows, shape.length(), heads, hd, 0);
        g.task(name + ".k_rope.bwd", Rope.BACKWARD_CONTIGUOUS, dkr, dkr, freq, rows, shape.length(), kvHeads, hd, 0);
        g.task(name + ".q_norm.dx", RmsNorm.BACKWARD_DX, dqr, q, w("q_norm.weight"), rstdQ, dq, rows * heads, hd);
        RmsNorm.weightGradient(g, name + ".q_norm.dw", dqr, q, rstdQ, partials, gw("q_norm.weight"), rows * heads, hd, true);
        g.task(name + ".k_norm.dx", RmsNorm.BACKWARD_DX, dkr, k, w("k_norm.weight"), rstdK, dk, rows * kvHeads, hd);
        RmsNorm.weightGradient(g, name + ".k_norm.dw", dkr, k, rstdK, partials, gw("k_norm.weight"), rows * kvHeads, hd, true);
        Linear.backward(g, name + ".q_proj", device, a, w("q_proj.weight"), dq, da, gw("q_proj.weight"), gw("q_proj.bias"), rows, dModel, qw);
        Linear.backward(g, name + ".k_proj", device, a, w("k_proj.weight"), dk, da, gw("k_proj.weight"), gw("k_proj.bias"), rows, dModel, kw);
        Linear.backward(g, name + ".v_proj", device, a, w("v_proj.weight"), dv, da, gw("v_proj.weight"), gw("v_proj.bias"), rows, dModel, kw);
    }
}
