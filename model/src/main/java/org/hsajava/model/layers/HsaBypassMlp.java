package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.SwiGlu;
import org.hsajava.model.ModelParameters;

/**
 * The SwiGLU MLP of the HSA layer's bypass ({@code _mlp.}, Liger's {@code LigerSwiGLUMLP}):
 * {@code y = down(silu(gate(x)) ⊙ up(x))}, no biases, width {@code intermediate_size}.
 * x {@code [rows, D]}, y {@code [rows, D]}; saves gate, up and the product {@code [rows, I]}.
 * Backward ADDS into dx and into the three weight gradients.
 *
 * <p>A block of its own for now; the SWA layer's MLP is the same math and the two are to be folded
 * into one class.
 */
final class HsaBypassMlp {
    private final String name;
    private final Device device;
    private final int rows, d, width;
    private final Tensor gateW, upW, downW, dGateW, dUpW, dDownW;
    private final Tensor gate, up, act, dAct, dGate, dUp;

    /** {@code prefix} is the parameter prefix ending in {@code "_mlp."}; {@code name} prefixes task names. */
    HsaBypassMlp(String name, Device device, ModelParameters p, String prefix, int rows, int d, int width) {
        this.name = name;
        this.device = device;
        this.rows = rows;
        this.d = d;
        this.width = width;
        this.gateW = p.param(prefix + "gate_proj.weight");
        this.upW = p.param(prefix + "up_proj.weight");
        this.downW = p.param(prefix + "down_proj.weight");
        this.dGateW = p.grad(prefix + "gate_proj.weight");
        this.dUpW = p.grad(prefix + "up_proj.weight");
        this.dDownW = p.grad(prefix + "down_proj.weight");
        this.gate = Tensor.f32(name + ".gate", rows, width);
        this.up = Tensor.f32(name + ".up", rows, width);
        this.act = Tensor.f32(name + ".act", rows, width);
        this.dAct = Tensor.f32(name + ".dAct", rows, width);
        this.dGate = Tensor.f32(name + ".dGate", rows, width);
        this.dUp = Tensor.f32(name + ".dUp", rows, width);
    }

    /** {@code y = down(silu(gate(x)) ⊙ up(x))}, y overwritten. */
    void forward(TaskGraph g, Tensor x, Tensor y) {
        Linear.forward(g, name + ".gate", device, x, gateW, null, gate, rows, d, width);
        Linear.forward(g, name + ".up", device, x, upW, null, up, rows, d, width);
        g.task(name + ".swiglu", SwiGlu.FORWARD, gate, up, act, rows * width);
        Linear.forward(g, name + ".down", device, act, downW, null, y, rows, width, d);
    }

    /** {@code dx += ∂(Σ y·dy)/∂x}, and the weight gradients; x is the forward's input. */
    void backward(TaskGraph g, Tensor x, Tensor dy, Tensor dx) {
        g.task(name + ".zeroDAct", Fill.FILL, dAct, rows * width, 0f);
        Linear.backward(g, name + ".down", device, act, downW, dy, dAct, dDownW, null, rows, width, d);
        g.task(name + ".swigluBwd", SwiGlu.BACKWARD, gate, up, dAct, dGate, dUp, rows * width);
        Linear.backward(g, name + ".gate", device, x, gateW, dGate, dx, dGateW, null, rows, d, width);
        Linear.backward(g, name + ".up", device, x, upW, dUp, dx, dUpW, null, rows, d, width);
    }
}
