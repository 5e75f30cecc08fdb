package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.SwiGlu;
import org.hsajava.model.ModelParameters;

/**
 * Liger's {@code LigerSwiGLUMLP} (docs/authors-model.md §2.2, §3.3), without residual:
 * {@code out = down_proj( silu(gate_proj x) ⊙ up_proj x )}, no biases. The SWA layers' {@code mlp.},
 * the HSA layers' bypass {@code _mlp.} (both width {@code intermediate_size}) and the chunk
 * encoder's {@code mlp.} (width {@code Ie = int(D·8/3 // 64 · 64)}, over its S+1-token chunk rows;
 * encoder_dropout, 0 in every config, is not modelled) are this block with their own prefix and width.
 *
 * <p>Shapes over {@code rows = batch·length}: {@code x, out [rows, D]}; saved {@code gate, up, act [rows, width]}.
 *
 * <p>Where the context keeps bf16 copies and all six GEMMs run on them ({@link Linear#runsOnBf16}), the
 * MLP's activations live in bf16 only: the gate/up GEMMs write {@code gate16, up16}, SwiGLU reads them and
 * writes {@code act16} ({@link SwiGlu#FORWARD_16}; with {@code -Dhsa.mlp.swiglu.epilogue=on} the up GEMM's
 * epilogue computes the same values instead: 2.8% slower on the H100, BENCHMARKS.md, so off by default), and SwiGLU's backward writes only the bf16 gradients
 * the GEMMs read ({@link SwiGlu#BACKWARD_16}); 6 bytes per element kept instead of 14.
 * {@code -Dhsa.mlp.bf16=off} keeps the fp32 activations next to the bf16 copies.
 */
public final class SwiGluMlp implements Layer {
    private final String name;
    private final Device device;
    private final int rows, dModel, width;
    private final Tensor x, x16, out, dx, dOut;
    private final Projection gateProj, upProj, downProj;
    private final Tensor gate, up, act, act16;  // fp32 (null with bf16 activations) and bf16 (null without bf16 copies)
    private final Tensor gate16, up16;          // the bf16 activations, else null
    private final boolean epilogue;             // SwiGLU in the up projection's epilogue
    private final Tensor dAct, dUp;
    private final Tensor dGate16, dUp16;  // bf16 copies of the gate/up gradients for their bf16 GEMMs, else null

    /**
     * @param prefix state-dict prefix, e.g. {@code backbone.layers.3.mlp.} or {@code backbone.layers.14._mlp.}
     * @param width  intermediate width (the gate/up output size)
     * @param x      input {@code [rows, D]} (kept for the backward)
     * @param out    output {@code [rows, D]}, overwritten
     * @param dx     gradient of x: the backward ADDS into it (null: not needed)
     * @param dOut   gradient of out
     */
    public SwiGluMlp(LayerContext ctx, ScratchPool scratch, String name, String prefix, int width, Tensor x, Tensor out, Tensor dx, Tensor dOut) {
        this(ctx, scratch, name, prefix, ctx.rows(), width, x, out, dx, dOut);
    }

    /** As above over {@code rows} rows instead of batch·length (the chunk encoder runs over chunks of S+1 tokens). */
    public SwiGluMlp(LayerContext ctx, ScratchPool scratch, String name, String prefix, int rows, int width, Tensor x, Tensor out, Tensor dx, Tensor dOut) {
        this(ctx, scratch, name, prefix, rows, width, x, null, out, dx, dOut);
    }

    /**
     * As above, with {@code x16 = bf16(x)} written by x's producer for the gate/up GEMMs and kept for
     * their weight gradients (null: none). Where the context keeps bf16 copies, the gate also writes a
     * bf16 copy of its output for the down projection and its weight gradient.
     */
    public SwiGluMlp(LayerContext ctx, ScratchPool scratch, String name, String prefix, int rows, int width, Tensor x, Tensor x16, Tensor out, Tensor dx, Tensor dOut) {
        ModelParameters p = ctx.params();
        if (!p.has(prefix + "gate_proj.weight")) throw new IllegalArgumentException(name + ": the model has no SwiGLU MLP parameters under '" + prefix + "'");
        this.name = name;
        this.device = ctx.device();
        this.rows = rows;
        this.dModel = ctx.config().hiddenSize();
        this.width = width;
        int[] gateShape = p.layout().get(prefix + "gate_proj.weight").shape();
        if (gateShape[0] != width || gateShape[1] != dModel) {
            throw new IllegalArgumentException(name + ": '" + prefix + "gate_proj.weight' is " + java.util.Arrays.toString(gateShape) + ", expected [" + width + ", " + dModel + "]");
        }
        SwaAttention.requireSize(name, "x", x, rows * dModel);
        SwaAttention.requireSize(name, "out", out, rows * dModel);
        SwaAttention.requireSize(name, "dOut", dOut, rows * dModel);
        if (dx != null) SwaAttention.requireSize(name, "dx", dx, rows * dModel);
        this.x = x;
        this.x16 = x16;
        this.out = out;
        this.dx = dx;
        this.dOut = dOut;
        this.gateProj = Projection.of(ctx, prefix + "gate_proj");
        this.upProj = Projection.of(ctx, prefix + "up_proj");
        this.downProj = Projection.of(ctx, prefix + "down_proj");
        boolean bf16Only = !TensorCores.isOff(System.getProperty(BF16_PROPERTY))
                && Linear.runsOnBf16(ctx, rows, dModel, width) && Linear.runsOnBf16(ctx, rows, width, dModel);
        this.gate = bf16Only ? null : Tensor.f32(name + ".gate", rows, width);
        this.up = bf16Only ? null : Tensor.f32(name + ".up", rows, width);
        this.act = bf16Only ? null : Tensor.f32(name + ".act", rows, width);
        this.gate16 = bf16Only ? Tensor.bf16(name + ".gate16", rows, width) : null;
        this.epilogue = bf16Only && TensorCores.isOn(System.getProperty(EPILOGUE_PROPERTY));
        this.up16 = bf16Only ? Tensor.bf16(name + ".up16", rows, width) : null;
        // down_proj and the gate/up input gradients are GEMMs [rows, width] -> [rows, D]: bf16 copies of their
        // inputs (act; dGate and dUp) where those run on bf16
        boolean narrowingOnBf16 = Linear.keepsBf16Input(ctx, rows, width, dModel);
        this.act16 = narrowingOnBf16 ? Tensor.bf16(name + ".act16", rows, width) : null;
        this.dAct = scratch.f32("SwiGluMlp.dAct", rows, width);
        this.dUp = bf16Only ? null : scratch.f32("SwiGluMlp.dUp", rows, width);
        this.dGate16 = narrowingOnBf16 ? scratch.bf16("SwiGluMlp.dGate16", rows, width) : null;
        this.dUp16 = narrowingOnBf16 ? scratch.bf16("SwiGluMlp.dUp16", rows, width) : null;
    }

    /** Property: {@code off} keeps fp32 activations where they could be bf16 only (see the class comment). */
    public static final String BF16_PROPERTY = "hsa.mlp.bf16";
    /** Property: {@code on} computes SwiGLU in the up projection's epilogue with bf16 activations (see the class comment). */
    public static final String EPILOGUE_PROPERTY = "hsa.mlp.swiglu.epilogue";

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        if (gate16 != null) {
            Linear.forward(g, name + ".gate_proj", device, gateProj, x, x16, gate16, rows, dModel, width);
            if (epilogue) {   // the up projection computes the activation in its epilogue (what SwiGlu.FORWARD_16 computes)
                Linear.forwardSwiGlu(g, name + ".up_proj", device, upProj, x, x16, gate16, up16, act16, rows, dModel, width);
            } else {
                Linear.forward(g, name + ".up_proj", device, upProj, x, x16, up16, rows, dModel, width);
                g.task(name + ".swiglu", SwiGlu.FORWARD_16, gate16, up16, act16, rows * width);
            }
            Linear.forward(g, name + ".down_proj", device, downProj, null, act16, out, rows, width, dModel);
            return;
        }
        Linear.forward(g, name + ".gate_proj", device, gateProj, x, x16, gate, rows, dModel, width);
        Linear.forward(g, name + ".up_proj", device, upProj, x, x16, up, rows, dModel, width);
        if (act16 != null) g.task(name + ".swiglu", SwiGlu.FORWARD_BF16, gate, up, act, act16, rows * width);
        else g.task(name + ".swiglu", SwiGlu.FORWARD, gate, up, act, rows * width);
        Linear.forward(g, name + ".down_proj", device, downProj, act, act16, out, rows, width, dModel);
    }

    @Override
    public void backward(TaskGraph g) {
        Tensor dOut16 = Ops.projectBack(g, name + ".down_proj.dx", device, dOut, downProj, dAct, rows, width, dModel);
        Linear.backward(g, name + ".down_proj", device, downProj, act, act16, dOut, dOut16, null, rows, width, dModel);
        if (gate16 != null) {
            // bf16 activations: the gate/up GEMMs read only the bf16 gradients
            g.task(name + ".swiglu.bwd", SwiGlu.BACKWARD_16, gate16, up16, dAct, dGate16, dUp16, rows * width);
            Linear.backward(g, name + ".gate_proj", device, gateProj, x, x16, null, dGate16, dx, rows, dModel, width);
            Linear.backward(g, name + ".up_proj", device, upProj, x, x16, null, dUp16, dx, rows, dModel, width);
            return;
        }
        // The gate gradient overwrites dAct in place: the kernel is element-wise and reads dAct[i] before writing it.
        Tensor dGate = dAct;
        if (dGate16 != null) g.task(name + ".swiglu.bwd", SwiGlu.BACKWARD_BF16, gate, up, dAct, dGate, dUp, dGate16, dUp16, rows * width);
        else g.task(name + ".swiglu.bwd", SwiGlu.BACKWARD, gate, up, dAct, dGate, dUp, rows * width);
        Linear.backward(g, name + ".gate_proj", device, gateProj, x, x16, dGate, dGate16, dx, rows, dModel, width);
        Linear.backward(g, name + ".up_proj", device, upProj, x, x16, dUp, dUp16, dx, rows, dModel, width);
    }
}
