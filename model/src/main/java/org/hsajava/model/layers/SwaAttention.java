package org.hsajava.model.layers;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Bf16Cast;
import org.hsajava.kernels.Rope;
import org.hsajava.kernels.SlidingWindowAttention;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;

/**
 * The authors' {@code SlidingWindowAttention} (docs/authors-model.md §2.2, §3.3) without its
 * residual: {@code out = o_proj(swa(rope(q_norm(q_proj x)), rope(k_norm(k_proj x)), v_proj x))}.
 * Used by {@link SwaDecoderLayer} ({@code self_attn.}) and by HSA layers with an SWA sublayer
 * ({@code attn.}).
 *
 * <p>Shapes, row-major over {@code rows = batch·length} tokens: {@code x, out [rows, D]};
 * q {@code [rows, HQ, hd]}, k and v {@code [rows, Hs, hd]} (heads head-major inside a row, as the
 * projections produce them). q/k are RMS-normed per head (eps {@code rms_norm_eps}, one weight of
 * size hd) BEFORE RoPE (theta {@code rope_theta}, position = index inside the sequence, plus the
 * context's {@link LayerContext#positionStart()} for windows of a long context). Key j is
 * visible to query t iff {@code t - W <= j <= t} (W = {@code sliding_window}; the full_causal
 * baseline uses W = L); query head g reads KV head {@code g / (HQ/Hs)}; scale {@code 1/sqrt(hd)}.
 * Biases on q/k/v/o exist iff {@code attention_bias}.
 *
 * <p>bf16 attention ({@link #BF16_PROPERTY}, by default with bf16 matmuls; head dims 16, 32, 64, 128;
 * where the context keeps bf16 copies and o_proj runs on them: Hopper): RoPE writes q and k as bf16,
 * v_proj writes v as bf16 (else v is cast), the sliding-window kernels run on those
 * ({@link SlidingWindowAttention#forwardBf16}) and write o as bf16, which o_proj reads; in the backward
 * o_proj's {@code dy·W} writes dO as bf16 for the attention's backward. The layer then keeps q, k, v
 * and o in bf16 only (the fp32 q, k, v are shared scratch of the forward pass); lse and the gradients
 * of q, k, v stay fp32.
 */
public final class SwaAttention implements Layer {
    private final String name;
    private final Device device;
    private final int rows, dModel, hd, heads, kvHeads, length;
    private final SlidingWindowAttention.Shape shape;
    private final Tensor x, x16, out, dx, dOut;
    private final Projection qProj, kProj, vProj, oProj;
    private final RmsNormBlock qNorm, kNorm;
    private final Tensor ropeFreq;
    private final Object positionStart;   // RoPE position of row 0: 0, or the streaming window's scalar
    // saved activations: raw projections (the norms' inputs), normed+rotated q/k, v, attention output and its log-sum-exp
    // (with bf16 attention q, k, v are the forward's scratch and q16, k16, v16 are kept instead; else those are null)
    private final Tensor qRaw, kRaw, q, k, v, o, lse;
    private final Tensor q16, k16, v16;
    private final boolean vDirect;   // v_proj writes v16 (no fp32 v)
    private final Tensor o16;  // bf16(o) for o_proj's GEMMs where the context keeps bf16 copies, else null
    // backward scratch (shared across layers through the pool); with bf16 attention dO16 (bf16) replaces dO
    private final Tensor dO, dO16, delta, dq, dk, dv, dqRaw, dkRaw;

    /** Property that overrides the choice of the bf16 attention kernels: auto (default), on, off. */
    public static final String BF16_PROPERTY = "hsa.swa.bf16";

    /**
     * @param prefix state-dict prefix of the attention module, e.g. {@code backbone.layers.3.self_attn.}
     * @param x      input {@code [rows, D]} (the pre-normed residual stream; kept for the backward)
     * @param out    output {@code [rows, D]}, overwritten
     * @param dx     gradient of x, {@code [rows, D]}: the backward ADDS into it (null: not needed)
     * @param dOut   gradient of out, {@code [rows, D]}
     */
    public SwaAttention(LayerContext ctx, ScratchPool scratch, String name, String prefix, Tensor x, Tensor out, Tensor dx, Tensor dOut) {
        this(ctx, scratch, name, prefix, x, null, out, dx, dOut);
    }

    /**
     * As above, with {@code x16 = bf16(x)} written by x's producer for the q/k/v GEMMs and kept for their
     * weight gradients (null: none).
     */
    public SwaAttention(LayerContext ctx, ScratchPool scratch, String name, String prefix, Tensor x, Tensor x16, Tensor out, Tensor dx, Tensor dOut) {
        ModelConfig c = ctx.config();
        ModelParameters p = ctx.params();
        if (!p.has(prefix + "q_proj.weight")) throw new IllegalArgumentException(name + ": the model has no SWA attention parameters under '" + prefix + "'");
        this.name = name;
        this.device = ctx.device();
        this.rows = ctx.rows();
        this.length = ctx.length();
        this.positionStart = ctx.positionArgument();
        this.dModel = c.hiddenSize();
        this.hd = c.headDim();
        this.heads = c.numAttentionHeads();
        this.kvHeads = c.numKeyValueHeads();
        // W >= L is full causal attention; the kernel then sees every earlier key.
        int window = c.attentionKind() == AttentionKind.FULL_CAUSAL ? length : Math.min(c.slidingWindow(), length);
        this.shape = new SlidingWindowAttention.Shape(ctx.batch(), length, heads, kvHeads, hd, window);
        requireSize(name, "x", x, rows * dModel);
        requireSize(name, "out", out, rows * dModel);
        requireSize(name, "dOut", dOut, rows * dModel);
        if (dx != null) requireSize(name, "dx", dx, rows * dModel);
        this.x = x;
        this.x16 = x16;
        this.out = out;
        this.dx = dx;
        this.dOut = dOut;
        this.qProj = Projection.of(ctx, prefix + "q_proj");
        this.kProj = Projection.of(ctx, prefix + "k_proj");
        this.vProj = Projection.of(ctx, prefix + "v_proj");
        this.oProj = Projection.of(ctx, prefix + "o_proj");
        int qw = heads * hd, kw = kvHeads * hd;
        this.qRaw = Tensor.f32(name + ".qRaw", rows, qw);
        this.kRaw = Tensor.f32(name + ".kRaw", rows, kw);
        boolean bf16 = SlidingWindowAttention.tcHeadDim(hd) && Bf16Attention.enabled(BF16_PROPERTY, device)
                && Linear.runsOnBf16(ctx, rows, qw, dModel) && oProj.b() == null;
        this.q = bf16 ? scratch.f32("SwaAttention.qFwd", rows, qw) : Tensor.f32(name + ".q", rows, qw);
        this.k = bf16 ? scratch.f32("SwaAttention.kFwd", rows, kw) : Tensor.f32(name + ".k", rows, kw);
        this.vDirect = bf16 && vProj.b() == null && Linear.forwardOnBf16(ctx, rows, dModel, kw);  // v_proj writes v16 itself
        this.v = vDirect ? null : bf16 ? scratch.f32("SwaAttention.vFwd", rows, kw) : Tensor.f32(name + ".v", rows, kw);
        this.q16 = bf16 ? Tensor.bf16(name + ".q16", rows, qw) : null;
        this.k16 = bf16 ? Tensor.bf16(name + ".k16", rows, kw) : null;
        this.v16 = bf16 ? Tensor.bf16(name + ".v16", rows, kw) : null;
        this.dO16 = bf16 ? scratch.bf16("SwaAttention.dO16", rows, qw) : null;
        this.dO = bf16 ? null : scratch.f32("SwaAttention.dO", rows, qw);
        this.o = bf16 ? null : Tensor.f32(name + ".o", rows, qw);
        this.lse = Tensor.f32(name + ".lse", rows, heads);
        this.o16 = bf16 || Linear.keepsBf16Input(ctx, rows, qw, dModel) ? Tensor.bf16(name + ".o16", rows, qw) : null;
        this.qNorm = new RmsNormBlock(ctx, scratch, name + ".q_norm", prefix + "q_norm.weight", c.rmsNormEps(), rows * heads, hd, qRaw, q);
        this.kNorm = new RmsNormBlock(ctx, scratch, name + ".k_norm", prefix + "k_norm.weight", c.rmsNormEps(), rows * kvHeads, hd, kRaw, k);
        this.ropeFreq = Tensor.of(name + ".ropeFreq", Rope.frequencyTable(hd, c.ropeTheta()));
        this.delta = scratch.f32("SwaAttention.delta", rows, heads);
        this.dq = scratch.f32("SwaAttention.dq", rows, qw);
        this.dk = scratch.f32("SwaAttention.dk", rows, kw);
        this.dv = scratch.f32("SwaAttention.dv", rows, kw);
        this.dqRaw = scratch.f32("SwaAttention.dqRaw", rows, qw);
        this.dkRaw = scratch.f32("SwaAttention.dkRaw", rows, kw);
    }

    static void requireSize(String layer, String what, Tensor t, int n) {
        if (t == null) throw new IllegalArgumentException(layer + ": tensor '" + what + "' must be given");
        if (t.size() != n) throw new IllegalArgumentException(layer + ": tensor '" + what + "' (" + t + ") must have " + n + " elements, has " + t.size());
    }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        int qw = heads * hd, kw = kvHeads * hd;
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, ropeFreq);
        Linear.forward(g, name + ".q_proj", device, qProj, x, x16, qRaw, rows, dModel, qw);
        Linear.forward(g, name + ".k_proj", device, kProj, x, x16, kRaw, rows, dModel, kw);
        Linear.forward(g, name + ".v_proj", device, vProj, x, x16, vDirect ? v16 : v, rows, dModel, kw);
        qNorm.forward(g);
        kNorm.forward(g);
        if (q16 != null) {
            g.task(name + ".q_rope", Rope.FORWARD_CONTIGUOUS_BF16, q, q16, ropeFreq, rows, length, heads, hd, positionStart);
            g.task(name + ".k_rope", Rope.FORWARD_CONTIGUOUS_BF16, k, k16, ropeFreq, rows, length, kvHeads, hd, positionStart);
            if (!vDirect) g.task(name + ".v16", Bf16Cast.TO_BF16, v, v16, rows, kw, kw);
            SlidingWindowAttention.addForward(g, name + ".swa.", shape, q16, k16, v16, o16, lse);   // o16 is o_proj's input
        } else {
            g.task(name + ".q_rope", Rope.FORWARD_CONTIGUOUS, q, q, ropeFreq, rows, length, heads, hd, positionStart);
            g.task(name + ".k_rope", Rope.FORWARD_CONTIGUOUS, k, k, ropeFreq, rows, length, kvHeads, hd, positionStart);
            SlidingWindowAttention.addForward(g, name + ".swa.", shape, q, k, v, o, lse);
            if (o16 != null) g.task(name + ".o16", Bf16Cast.TO_BF16, o, o16, rows, qw, qw);
        }
        Linear.forward(g, name + ".o_proj", device, oProj, o, o16, out, rows, qw, dModel);
    }

    @Override
    public void backward(TaskGraph g) {
        int qw = heads * hd, kw = kvHeads * hd;
        // The rope table is uploaded here too, in case the backward runs in a plan of its own.
        g.transferToDevice(DataTransferMode.FIRST_EXECUTION, ropeFreq);
        // with bf16 attention dy·W writes dO in bf16 (dO16) for the attention's backward
        Tensor dOut16 = Ops.projectBack(g, name + ".o_proj.dx", device, dOut, oProj, q16 != null ? dO16 : dO, rows, qw, dModel);
        Linear.backward(g, name + ".o_proj", device, oProj, o, o16, dOut, dOut16, null, rows, qw, dModel);
        if (q16 != null) {
            SlidingWindowAttention.addBackward(g, name + ".swa.", shape, q16, k16, v16, o16, lse, dO16, delta, dq, dk, dv);
        } else {
            SlidingWindowAttention.addBackward(g, name + ".swa.", shape, q, k, v, o, lse, dO, delta, dq, dk, dv);
        }
        // RoPE is a rotation: its backward turns the gradient back by the same angle.
        g.task(name + ".q_rope.bwd", Rope.BACKWARD_CONTIGUOUS, dq, dq, ropeFreq, rows, length, heads, hd, positionStart);
        g.task(name + ".k_rope.bwd", Rope.BACKWARD_CONTIGUOUS, dk, dk, ropeFreq, rows, length, kvHeads, hd, positionStart);
        qNorm.backward(g, dq, dqRaw, false);
        kNorm.backward(g, dk, dkRaw, false);
        Linear.backward(g, name + ".q_proj", device, qProj, x, x16, dqRaw, null, dx, rows, dModel, qw);
        Linear.backward(g, name + ".k_proj", device, kProj, x, x16, dkRaw, null, dx, rows, dModel, kw);
        Linear.backward(g, name + ".v_proj", device, vProj, x, x16, dv, null, dx, rows, dModel, kw);
    }
}
