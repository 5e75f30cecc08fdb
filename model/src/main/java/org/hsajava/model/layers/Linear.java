package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.GemmBf16Cast;
import org.hsajava.kernels.GemmSplitK;
import org.hsajava.kernels.Reduce;

/**
 * PyTorch's {@code nn.Linear} as GEMM tasks: {@code y = x·Wᵀ + b} with {@code x [rows, in]},
 * {@code W [out, in]} (row-major, the state-dict layout), optional {@code b [out]}, {@code y [rows, out]}.
 * Backward: {@code dx += dy·W}, {@code dW += dyᵀ·x}, {@code db += Σ_rows dy}. With bf16 GEMMs on a
 * Hopper GPU, {@code x·Wᵀ} and {@code dy·W} run on warpgroup MMA through bf16 copies ({@link GemmBf16Cast}).
 */
public final class Linear {
    private Linear() {}

    /**
     * The workspace of the weight gradients split over the tokens ({@link GemmSplitK}), one for all
     * layers: a plan gives each tensor its own device buffer, and its tasks run one after another, so
     * no two split GEMMs of a plan use it at once. Only plans with a split GEMM (GPUs) allocate it.
     */
    private static final Tensor WORKSPACE = GemmSplitK.workspace("linear.workspace");
    /** The bf16 copies of the GEMMs that run on Hopper's warpgroup MMA ({@link GemmBf16Cast}), shared the same way. */
    private static final GemmBf16Cast.Workspace BF16_COPIES = GemmBf16Cast.workspace("linear.bf16");

    /** Appends {@code y = x·Wᵀ (+ b)}; {@code bias} may be null. */
    public static void forward(TaskGraph g, String name, Device device, Tensor x, Tensor weight, Tensor bias, Tensor y, int rows, int in, int out) {
        if (GemmBf16Cast.applies(device, false, rows, out, in)) {
            GemmBf16Cast.append(g, name + ".fwd", true, x, weight, y, rows, out, in, in, in, out, 1f, 0f, BF16_COPIES);
        } else {
            KernelDef k = Gemm.select(device, false, true, rows, out, in);
            g.task(name + ".fwd", k, x, weight, y, rows, out, in, in, in, out, 0, 0, 0, 1, 1f, 0f);
        }
        if (bias != null) g.task(name + ".bias", Fill.ADD_BIAS, y, bias, rows, out);
    }

    /**
     * Appends the backward pass: {@code dx += dy·W} (skipped when {@code dx} is null, e.g. for the
     * first layer's input), {@code dW += dyᵀ·x}, {@code db += Σ dy} (when {@code dBias} is not null).
     * On GPUs {@code dW} is split over the rows where its few output blocks would leave compute units idle.
     */
    public static void backward(TaskGraph g, String name, Device device, Tensor x, Tensor weight, Tensor dy,
                                Tensor dx, Tensor dWeight, Tensor dBias, int rows, int in, int out) {
        if (dx != null && GemmBf16Cast.applies(device, false, rows, in, out)) {
            GemmBf16Cast.append(g, name + ".dx", false, dy, weight, dx, rows, in, out, out, in, in, 1f, 1f, BF16_COPIES);
        } else if (dx != null) {
            g.task(name + ".dx", Gemm.select(device, false, false, rows, in, out), dy, weight, dx, rows, in, out, out, in, in, 0, 0, 0, 1, 1f, 1f);
        }
        GemmSplitK.append(g, name + ".dw", device, true, false, dy, x, dWeight, out, in, rows, out, in, 1f, 1f, WORKSPACE);
        if (dBias != null) {
            long scratch = Reduce.columnSumScratch(rows, out);
            Reduce.columnSum(g, name + ".db", dy, dBias, rows, out, true, scratch == 0 ? null : Tensor.f32(name + ".dbPartials", (int) scratch));
        }
    }
}
