package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.SwiGlu;
import org.hsajava.model.ModelParameters;

/**
 * The chunk encoder's SwiGLU MLP (the authors' {@code encoder.py: Qwen2MLP}), width
 * {@code Ie = int(D·8/3 // 64 · 64)} ({@code ModelConfig.encoderIntermediateSize}, not intermediate_size):
 * {@code y = (silu(a·Wgᵀ) ⊙ a·Wuᵀ)·Wdᵀ}, no biases. {@code a, y, da, dy: [rows, D]}; parameters
 * {@code prefix + gate_proj/up_proj/down_proj.weight}. Forward overwrites y; backward ADDS into da
 * and the parameter gradients. (encoder_dropout is not modelled: it is 0 in every config.)
 */
public final class EncoderMlp implements Layer {
    private final String name, prefix;
    private final Device device;
    private final ModelParameters p;
    private final int rows, dModel, width;
    private final Tensor a, y, da, dy;
    private final Tensor gate, up, hidden;      // saved
    private final Tensor dHidden, dGate, dUp;   // backward scratch

    public EncoderMlp(LayerContext ctx, String name, String prefix, int rows, Tensor a, Tensor y, Tensor da, Tensor dy) {
        this.name = name;
        this.prefix = prefix;
        this.device = ctx.device();
        this.p = ctx.params();
        this.rows = rows;
        this.dModel = ctx.config().hiddenSize();
        this.width = ctx.config().encoderIntermediateSize();
        for (Object[] t : new Object[][] {{"a", a}, {"y", y}, {"da", da}, {"dy", dy}}) EncoderLayer.requireSize(name, (String) t[0], (Tensor) t[1], (long) rows * dModel);
        this.a = a;
        this.y = y;
        this.da = da;
        this.dy = dy;
        gate = Tensor.f32(name + ".gate", rows, width);
        up = Tensor.f32(name + ".up", rows, width);
        hidden = Tensor.f32(name + ".hidden", rows, width);
        dHidden = Tensor.f32(name + ".dHidden", rows, width);
        dGate = Tensor.f32(name + ".dGate", rows, width);
        dUp = Tensor.f32(name + ".dUp", rows, width);
    }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        Linear.forward(g, name + ".gate_proj", device, a, p.param(prefix + "gate_proj.weight"), null, gate, rows, dModel, width);
        Linear.forward(g, name + ".up_proj", device, a, p.param(prefix + "up_proj.weight"), null, up, rows, dModel, width);
        g.task(name + ".swiglu", SwiGlu.FORWARD, gate, up, hidden, rows * width);
        Linear.forward(g, name + ".down_proj", device, hidden, p.param(prefix + "down_proj.weight"), null, y, rows, width, dModel);
    }

    @Override
    public void backward(TaskGraph g) {
        Tensor wd = p.param(prefix + "down_proj.weight");
        EncoderLayer.inputGrad(g, name + ".down_proj.dx", device, dy, wd, dHidden, rows, width, dModel, false);
        Linear.backward(g, name + ".down_proj", device, hidden, wd, dy, null, p.grad(prefix + "down_proj.weight"), null, rows, width, dModel);
        g.task(name + ".swiglu.bwd", SwiGlu.BACKWARD, gate, up, dHidden, dGate, dUp, rows * width);
        Linear.backward(g, name + ".gate_proj", device, a, p.param(prefix + "gate_proj.weight"), dGate, da, p.grad(prefix + "gate_proj.weight"), null, rows, dModel, width);
        Linear.backward(g, name + ".up_proj", device, a, p.param(prefix + "up_proj.weight"), dUp, da, p.grad(prefix + "up_proj.weight"), null, rows, dModel, width);
    }
}
