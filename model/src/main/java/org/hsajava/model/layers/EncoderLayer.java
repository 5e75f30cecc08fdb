package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.Residual;
import org.hsajava.kernels.RmsNorm;

/**
 * One layer of the chunk encoder (the authors' {@code encoder.py: Qwen2DecoderLayer}), pre-norm,
 * over N segments of T tokens:
 * <pre>
 *   x1 = x0 + EncoderAttention(input_layernorm(x0))
 *   x2 = x1 + SwiGluMlp(post_attention_layernorm(x1))          all norms eps 1e-6
 * </pre>
 * {@code x0, x2, dx0, dx2: [N·T, D]}; parameters under {@code prefix} ({@code ...encoder.layers.j.}).
 * Forward overwrites x2; backward ADDS into dx0 and the parameter gradients.
 */
public final class EncoderLayer implements Layer {
    /** Every norm of the chunk memory: LlamaConfig's rms_norm_eps default and Liger's default (docs/authors-model.md §3.1). */
    public static final float EPS = 1e-6f;

    private final String name, prefix;
    private final Device device;
    private final org.hsajava.model.ModelParameters p;
    private final int rows, dModel;
    private final Tensor x0, x2, dx0, dx2;
    private final Tensor a1, rstd1, yAttn, x1, a2, rstd2, yMlp;   // saved
    private final Tensor da, dx1, partials;                        // backward scratch
    private final EncoderAttention attention;
    private final SwiGluMlp mlp;

    public EncoderLayer(LayerContext ctx, String name, String prefix, int segments, int segmentLength, Tensor x0, Tensor x2, Tensor dx0, Tensor dx2) {
        this.name = name;
        this.prefix = prefix;
        this.device = ctx.device();
        this.p = ctx.params();
        this.dModel = ctx.config().hiddenSize();
        this.rows = segments * segmentLength;
        for (Object[] t : new Object[][] {{"x0", x0}, {"x2", x2}, {"dx0", dx0}, {"dx2", dx2}}) requireSize(name, (String) t[0], (Tensor) t[1], (long) rows * dModel);
        this.x0 = x0;
        this.x2 = x2;
        this.dx0 = dx0;
        this.dx2 = dx2;
        a1 = Tensor.f32(name + ".a1", rows, dModel);
        rstd1 = Tensor.f32(name + ".rstd1", rows);
        yAttn = Tensor.f32(name + ".yAttn", rows, dModel);
        x1 = Tensor.f32(name + ".x1", rows, dModel);
        a2 = Tensor.f32(name + ".a2", rows, dModel);
        rstd2 = Tensor.f32(name + ".rstd2", rows);
        yMlp = Tensor.f32(name + ".yMlp", rows, dModel);
        da = Tensor.f32(name + ".da", rows, dModel);
        dx1 = Tensor.f32(name + ".dx1", rows, dModel);
        partials = Tensor.f32(name + ".normPartials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS) * dModel);
        // yAttn and yMlp are only read through their gradients, which equal dx1 and dx2: pass those.
        attention = new EncoderAttention(ctx, name + ".self_attn", prefix + "self_attn.", segments, segmentLength, a1, yAttn, da, dx1);
        mlp = new SwiGluMlp(ctx, new ScratchPool(name + ".scratch"), name + ".mlp", prefix + "mlp.", rows, ctx.config().encoderIntermediateSize(), a2, yMlp, da, dx2);
    }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        int n = rows * dModel;
        g.task(name + ".input_layernorm", RmsNorm.FORWARD, x0, p.param(prefix + "input_layernorm.weight"), a1, rstd1, rows, dModel, EPS);
        attention.forward(g);
        // x1 = x0 + yAttn, written by the norm that normalises it
        g.task(name + ".post_attention_layernorm", RmsNorm.FORWARD_ADD, yAttn, x0, x1, p.param(prefix + "post_attention_layernorm.weight"), a2, rstd2, rows, dModel, EPS);
        mlp.forward(g);
        g.task(name + ".residual2", Fill.COPY, x1, x2, n);
        g.task(name + ".residual2.add", Residual.AXPBY, yMlp, x2, n, 1f, 1f);
    }

    @Override
    public void backward(TaskGraph g) {
        int n = rows * dModel;
        // MLP branch: dx1 = dx2 + norm2ᵀ(mlpᵀ(dx2))
        g.task(name + ".da2.zero", Fill.FILL, da, n, 0f);
        mlp.backward(g);
        g.task(name + ".post_attention_layernorm.dx", RmsNorm.BACKWARD_DX_ADD, da, x1, p.param(prefix + "post_attention_layernorm.weight"), rstd2, dx2, dx1, rows, dModel);
        RmsNorm.weightGradient(g, name + ".post_attention_layernorm.dw", da, x1, rstd2, partials, p.grad(prefix + "post_attention_layernorm.weight"), rows, dModel, true);
        // attention branch: dx0 += dx1 + norm1ᵀ(attnᵀ(dx1))
        g.task(name + ".da1.zero", Fill.FILL, da, n, 0f);
        attention.backward(g);
        g.task(name + ".input_layernorm.dx", RmsNorm.BACKWARD_DX_ADD, da, x0, p.param(prefix + "input_layernorm.weight"), rstd1, dx0, dx0, rows, dModel);
        RmsNorm.weightGradient(g, name + ".input_layernorm.dw", da, x0, rstd1, partials, p.grad(prefix + "input_layernorm.weight"), rows, dModel, true);
        g.task(name + ".dx0.residual", Residual.AXPBY, dx1, dx0, n, 1f, 1f);
    }

    /** {@code dx (+)= dy·W} for {@code y = x·Wᵀ}: W [out, in], dy [rows, out], dx [rows, in]; overwrites unless {@code accumulate}. */
    static void inputGrad(TaskGraph g, String task, Device device, Tensor dy, Tensor weight, Tensor dx, int rows, int in, int out, boolean accumulate) {
        g.task(task, Gemm.select(device, false, false, rows, in, out), dy, weight, dx, rows, in, out, out, in, in, 0, 0, 0, 1, 1f, accumulate ? 1f : 0f);
    }

    /** Throws naming the layer and argument when a tensor handed to a layer has the wrong size. */
    static void requireSize(String layer, String argument, Tensor t, long expected) {
        if (t == null) throw new IllegalArgumentException(layer + ": tensor '" + argument + "' must not be null");
        if (t.size() != expected) throw new IllegalArgumentException(layer + ": tensor '" + argument + "' (" + t + ") has " + t.size() + " elements, expected " + expected);
    }
}
