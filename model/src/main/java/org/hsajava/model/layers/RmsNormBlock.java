package org.hsajava.model.layers;

import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.RmsNorm;

/**
 * One RMSNorm with a learned weight (docs/authors-model.md §3.1): {@code y = w ⊙ x / sqrt(mean(x²) + eps)}
 * over rows of length {@code d}. A per-head norm (SWA {@code q_norm}/{@code k_norm}) is the same
 * block over {@code tokens·heads} rows of {@code hd}, one weight shared by all heads.
 * Saves {@code rstd [rows]}; the backward adds {@code dw} into the parameter gradient.
 */
public final class RmsNormBlock {
    private final String name;
    private final int rows, d;
    private final float eps;
    private final Tensor x, y, y16, weight, dWeight, rstd, partials;

    /**
     * @param weightName state-dict name of the weight {@code [d]}
     * @param x          input {@code [rows, d]} (kept: the backward reads it)
     * @param y          output {@code [rows, d]}, overwritten by {@link #forward}
     */
    public RmsNormBlock(LayerContext ctx, ScratchPool scratch, String name, String weightName, double eps, int rows, int d, Tensor x, Tensor y) {
        this(ctx, scratch, name, weightName, eps, rows, d, x, y, null);
    }

    /** As above, the forward also writing {@code y16 = bf16(y)} when {@code y16} is not null (the input of bf16 GEMMs). */
    public RmsNormBlock(LayerContext ctx, ScratchPool scratch, String name, String weightName, double eps, int rows, int d, Tensor x, Tensor y, Tensor y16) {
        this.name = name;
        this.rows = rows;
        this.d = d;
        this.eps = (float) eps;
        this.x = x;
        this.y = y;
        this.y16 = y16;
        this.weight = ctx.params().param(weightName);
        this.dWeight = ctx.params().grad(weightName);
        if (weight.size() != d) throw new IllegalArgumentException(name + ": weight '" + weightName + "' has " + weight.size() + " elements, the norm is over " + d);
        this.rstd = Tensor.f32(name + ".rstd", rows);
        this.partials = scratch.f32("RmsNorm.partials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS), d);
    }

    public void forward(TaskGraph g) {
        if (y16 != null) g.task(name + ".fwd", RmsNorm.FORWARD_BF16, x, weight, y, y16, rstd, rows, d, eps);
        else g.task(name + ".fwd", RmsNorm.FORWARD, x, weight, y, rstd, rows, d, eps);
    }

    /**
     * The residual connection before the norm and the norm in one pass: {@code x = a + b}, then
     * {@link #forward}'s {@code y} of that x ({@code a} or {@code b} may be x itself).
     */
    public void forwardAfterAdd(TaskGraph g, Tensor a, Tensor b) {
        if (y16 != null) g.task(name + ".addFwd", RmsNorm.FORWARD_ADD_BF16, a, b, x, weight, y, y16, rstd, rows, d, eps);
        else g.task(name + ".addFwd", RmsNorm.FORWARD_ADD, a, b, x, weight, y, rstd, rows, d, eps);
    }

    /**
     * {@code dx = ∂/∂x} (accumulate false: overwritten) or {@code dx += ∂/∂x} (accumulate true);
     * {@code dw += Σ_rows dy ⊙ x·rstd}.
     */
    public void backward(TaskGraph g, Tensor dy, Tensor dx, boolean accumulate) {
        if (accumulate) backwardPlus(g, dy, dx, dx);
        else {
            g.task(name + ".dx", RmsNorm.BACKWARD_DX, dy, x, weight, rstd, dx, rows, d);
            weightGradient(g, dy);
        }
    }

    /**
     * {@code dx = residual + ∂/∂x}: the gradient that reaches x around the norm added in the same pass
     * ({@code residual} may be dx: accumulate); {@code dw += Σ_rows dy ⊙ x·rstd}.
     */
    public void backwardPlus(TaskGraph g, Tensor dy, Tensor dx, Tensor residual) {
        g.task(name + ".dx", RmsNorm.BACKWARD_DX_ADD, dy, x, weight, rstd, residual, dx, rows, d);
        weightGradient(g, dy);
    }

    private void weightGradient(TaskGraph g, Tensor dy) {
        RmsNorm.weightGradient(g, name + ".dw", dy, x, rstd, partials, dWeight, rows, d, true);
    }
}
