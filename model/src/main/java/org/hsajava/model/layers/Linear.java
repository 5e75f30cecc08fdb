package org.hsajava.model.layers;

import org.hsajava.compute.Device;
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
 * Hopper GPU, {@code x·Wᵀ} and {@code dy·W} run on warpgroup MMA ({@link GemmBf16Cast}) from bf16
 * operands: the copies the projection and the producer of x keep where the model has them
 * ({@link Projection#w16()}, {@code x16}), else copies made for the call.
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
        forward(g, name, device, Projection.of(weight, bias, null, null), x, null, y, rows, in, out);
    }

    /**
     * Appends {@code y = x·Wᵀ (+ b)}; {@code x16} is bf16(x) where the producer of x wrote it (null:
     * none; the bf16 path then casts x itself).
     */
    public static void forward(TaskGraph g, String name, Device device, Projection p, Tensor x, Tensor x16, Tensor y, int rows, int in, int out) {
        if (GemmBf16Cast.applies(device, false, rows, out, in)) {
            GemmBf16Cast.append(g, name + ".fwd", true, x, x16, p.w(), p.w16(), y, rows, out, in, in, in, out, 1f, 0f, BF16_COPIES);
        } else {
            g.task(name + ".fwd", Gemm.select(device, false, true, rows, out, in), x, p.w(), y, rows, out, in, in, in, out, 0, 0, 0, 1, 1f, 0f);
        }
        if (p.b() != null) g.task(name + ".bias", Fill.ADD_BIAS, y, p.b(), rows, out);
    }

    /**
     * Appends the backward pass: {@code dx += dy·W} (skipped when {@code dx} is null, e.g. for the
     * first layer's input), {@code dW += dyᵀ·x}, {@code db += Σ dy} (when {@code dBias} is not null).
     * On GPUs {@code dW} is split over the rows where its few output blocks would leave compute units idle.
     */
    public static void backward(TaskGraph g, String name, Device device, Tensor x, Tensor weight, Tensor dy,
                                Tensor dx, Tensor dWeight, Tensor dBias, int rows, int in, int out) {
        backward(g, name, device, Projection.of(weight, null, dWeight, dBias), x, dy, dx, rows, in, out);
    }

    /** As above with the projection's parameters and gradients (its bias gradient where it has a bias). */
    public static void backward(TaskGraph g, String name, Device device, Projection p, Tensor x, Tensor dy, Tensor dx, int rows, int in, int out) {
        if (dx != null) inputGradient(g, name + ".dx", device, dy, p, dx, rows, in, out, 1f);
        GemmSplitK.append(g, name + ".dw", device, true, false, dy, x, p.dw(), out, in, rows, out, in, 1f, 1f, WORKSPACE);
        if (p.db() != null) {
            long scratch = Reduce.columnSumScratch(rows, out);
            Reduce.columnSum(g, name + ".db", dy, p.db(), rows, out, true, scratch == 0 ? null : Tensor.f32(name + ".dbPartials", (int) scratch));
        }
    }

    /** Appends {@code dx = dy·W + beta·dx} as the task {@code task} (beta 0: overwrite, 1: accumulate). */
    static void inputGradient(TaskGraph g, String task, Device device, Tensor dy, Projection p, Tensor dx, int rows, int in, int out, float beta) {
        if (GemmBf16Cast.applies(device, false, rows, in, out)) {
            GemmBf16Cast.append(g, task, false, dy, null, p.w(), p.w16t(), dx, rows, in, out, out, in, in, 1f, beta, BF16_COPIES);
        } else {
            g.task(task, Gemm.select(device, false, false, rows, in, out), dy, p.w(), dx, rows, in, out, out, in, in, 0, 0, 0, 1, 1f, beta);
        }
    }
}
