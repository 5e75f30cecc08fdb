package org.hsajava.model.layers;

import org.hsajava.compute.DType;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Bf16Cast;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.GemmBf16Cast;
import org.hsajava.kernels.GemmSplitK;
import org.hsajava.kernels.Reduce;

/**
 * PyTorch's {@code nn.Linear} as GEMM tasks: {@code y = x·Wᵀ + b} with {@code x [rows, in]},
 * {@code W [out, in]} (row-major, the state-dict layout), optional {@code b [out]}, {@code y [rows, out]}.
 * Backward: {@code dx += dy·W}, {@code dW += dyᵀ·x}, {@code db += Σ_rows dy}. With bf16 GEMMs on a
 * Hopper GPU, {@code x·Wᵀ}, {@code dy·W} and {@code dyᵀ·x} run on warpgroup MMA ({@link GemmBf16Cast},
 * {@link GemmSplitK#appendBf16Wgmma}) from bf16 operands: the copies the projection and the layer keep
 * where the model has them ({@link Projection#w16()}, {@code x16}), else copies made for the call.
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
    /** The bf16 copy of x for a weight gradient on wgmma where the layer keeps none (the copy of dy is in {@link #BF16_COPIES}). */
    private static final Tensor BF16_X = Tensor.bf16("linear.bf16.x", GemmBf16Cast.WORKSPACE_A);

    /**
     * Whether a layer built with {@code ctx} keeps a bf16 copy of the input x of a projection
     * {@code [rows, in] -> [rows, out]}: the context keeps bf16 copies and the GEMM runs on them.
     */
    static boolean keepsBf16Input(LayerContext ctx, int rows, int in, int out) {
        return ctx.bf16Copies() && GemmBf16Cast.applies(ctx.device(), false, rows, out, in);
    }

    /**
     * Whether all three GEMMs of a projection {@code [rows, in] -> [rows, out]} built with {@code ctx}
     * run on bf16 copies ({@code x·Wᵀ}, {@code dy·W} and {@code dyᵀ·x} on wgmma): then its x, y and
     * their gradients may live in bf16 only (the fp32 tensors may be null where the bf16 ones are given).
     */
    static boolean runsOnBf16(LayerContext ctx, int rows, int in, int out) {
        Device d = ctx.device();
        return forwardOnBf16(ctx, rows, in, out) && GemmBf16Cast.applies(d, false, rows, in, out)
                && GemmBf16Cast.appliesToWeightGradient(d, out, in, rows);
    }

    /** Whether the forward {@code x·Wᵀ} of such a projection runs on bf16 copies (and may write a bf16 y). */
    static boolean forwardOnBf16(LayerContext ctx, int rows, int in, int out) {
        return ctx.bf16Copies() && GemmBf16Cast.applies(ctx.device(), false, rows, out, in);
    }

    /** Appends {@code y = x·Wᵀ (+ b)}; {@code bias} may be null. */
    public static void forward(TaskGraph g, String name, Device device, Tensor x, Tensor weight, Tensor bias, Tensor y, int rows, int in, int out) {
        forward(g, name, device, Projection.of(weight, bias, null, null), x, null, y, rows, in, out);
    }

    /**
     * Appends {@code y = x·Wᵀ (+ b)}; {@code x16} is bf16(x) where the producer of x wrote it (null:
     * none; the bf16 path then casts x itself, and x may be null where x16 is given). A bf16 {@code y}
     * is written rounded by the bf16 path, which must then apply ({@link #runsOnBf16}). On the bf16 path
     * the bias is added in the GEMM's epilogue; elsewhere by a second kernel.
     */
    public static void forward(TaskGraph g, String name, Device device, Projection p, Tensor x, Tensor x16, Tensor y, int rows, int in, int out) {
        boolean onBf16 = GemmBf16Cast.applies(device, false, rows, out, in);
        if (y.dtype() == DType.BF16 && !onBf16) throw new IllegalStateException(name + ": a bf16 output needs the bf16 GEMM path");
        if (onBf16) {
            GemmBf16Cast.append(g, name + ".fwd", true, x, x16, p.w(), p.w16(), y, rows, out, in, in, in, out, 1f, 0f, BF16_COPIES, p.b());
        } else {
            g.task(name + ".fwd", Gemm.select(device, false, true, rows, out, in), x, p.w(), y, rows, out, in, in, in, out, 0, 0, 0, 1, 1f, 0f);
            if (p.b() != null) g.task(name + ".bias", Fill.ADD_BIAS, y, p.b(), rows, out);
        }
    }

    /**
     * Appends SwiGLU's up projection with the activation in the GEMM's epilogue: {@code u16 = bf16(x·W_upᵀ)}
     * and {@code act16 = bf16(silu(gate16)·u16)}; the projection must run on the bf16 copies
     * ({@link #runsOnBf16}) and have no bias.
     */
    static void forwardSwiGlu(TaskGraph g, String name, Device device, Projection up, Tensor x, Tensor x16, Tensor gate16, Tensor u16, Tensor act16,
                              int rows, int in, int out) {
        if (up.b() != null || !GemmBf16Cast.applies(device, false, rows, out, in)) {
            throw new IllegalStateException(name + ": the SwiGLU epilogue needs the bf16 GEMM path and no bias");
        }
        GemmBf16Cast.appendSwiGlu(g, name + ".fwd", x, x16, up.w(), up.w16(), u16, gate16, act16, rows, out, in, BF16_COPIES);
    }

    /**
     * Appends the backward pass: {@code dx += dy·W} (skipped when {@code dx} is null, e.g. for the
     * first layer's input), {@code dW += dyᵀ·x}, {@code db += Σ dy} (when {@code dBias} is not null).
     * On GPUs {@code dW} is split over the rows where its few output blocks would leave compute units idle.
     */
    public static void backward(TaskGraph g, String name, Device device, Tensor x, Tensor weight, Tensor dy,
                                Tensor dx, Tensor dWeight, Tensor dBias, int rows, int in, int out) {
        backward(g, name, device, Projection.of(weight, null, dWeight, dBias), x, null, dy, null, dx, rows, in, out);
    }

    /**
     * As above with the projection's parameters and gradients (its bias gradient where it has a bias);
     * {@code x16} is the bf16 copy of x the layer kept, {@code dy16} one of dy that is current when these
     * tasks run: written by dy's producer, or by the {@code dy·W} GEMM just before (null: none, made here
     * where needed). x and dy may be null where their copies are given and the GEMMs run on bf16
     * ({@link #runsOnBf16}; no bias).
     */
    public static void backward(TaskGraph g, String name, Device device, Projection p, Tensor x, Tensor x16, Tensor dy, Tensor dy16,
                                Tensor dx, int rows, int in, int out) {
        if (dx != null) dy16 = inputGradient(g, name + ".dx", device, dy, dy16, p, dx, rows, in, out, 1f);
        if (GemmBf16Cast.appliesToWeightGradient(device, out, in, rows)) {
            if (dy16 == null) {
                dy16 = BF16_COPIES.a();
                g.task(name + ".dw.dy16", Bf16Cast.TO_BF16, dy, dy16, rows, out, out);
            }
            if (x16 == null) {
                x16 = BF16_X;
                g.task(name + ".dw.x16", Bf16Cast.TO_BF16, x, x16, rows, in, in);
            }
            GemmSplitK.appendBf16Wgmma(g, name + ".dw", device, dy16, x16, p.dw(), out, in, rows, out, in, 1f, 1f, WORKSPACE);
        } else {
            GemmSplitK.append(g, name + ".dw", device, true, false, fp32(name, "dy", dy), fp32(name, "x", x), p.dw(), out, in, rows, out, in, 1f, 1f, WORKSPACE);
        }
        if (p.db() != null) {
            long scratch = Reduce.columnSumScratch(rows, out);
            Reduce.columnSum(g, name + ".db", dy, p.db(), rows, out, true, scratch == 0 ? null : Tensor.f32(name + ".dbPartials", (int) scratch));
        }
    }

    /**
     * Appends {@code dx = dy·W + beta·dx} as the task {@code task} (beta 0: overwrite, 1: accumulate);
     * {@code dy16}: bf16(dy) where its producer wrote it, else null. Returns the bf16 copy of dy the
     * wgmma path read ({@code dy16}, or one it made in the shared workspace, valid until the next GEMM
     * of a graph), else {@code dy16}.
     */
    static Tensor inputGradient(TaskGraph g, String task, Device device, Tensor dy, Tensor dy16, Projection p, Tensor dx, int rows, int in, int out, float beta) {
        if (GemmBf16Cast.applies(device, false, rows, in, out)) {
            return GemmBf16Cast.append(g, task, false, dy, dy16, p.w(), p.w16t(), dx, rows, in, out, out, in, in, 1f, beta, BF16_COPIES);
        }
        g.task(task, Gemm.select(device, false, false, rows, in, out), fp32(task, "dy", dy), p.w(), dx, rows, in, out, out, in, in, 0, 0, 0, 1, 1f, beta);
        return dy16;
    }

    /** t, which the fp32 path needs: a null one means the caller kept only a bf16 copy although this GEMM is not on the bf16 path. */
    private static Tensor fp32(String name, String what, Tensor t) {
        if (t == null) throw new IllegalStateException(name + ": the fp32 " + what + " is needed (this GEMM does not run on the bf16 copies)");
        return t;
    }
}
