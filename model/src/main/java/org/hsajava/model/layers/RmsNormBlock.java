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
    private final Tensor x, y, weight, dWeight, rstd, partials, dxScratch;

    /**
     * @param weightName state-dict name of the weight {@code [d]}
     * @param x          input {@code [rows, d]} (kept: the backward reads it)
     * @param y          output {@code [rows, d]}, overwritten by {@link #forward}
     */
    public RmsNormBlock(LayerContext ctx, ScratchPool scratch, String name, String weightName, double eps, int rows, int d, Tensor x, Tensor y) {
        this.name = name;
        this.rows = rows;
        this.d = d;
        this.eps = (float) eps;
        this.x = x;
        this.y = y;
        this.weight = ctx.params().param(weightName);
        this.dWeight = ctx.params().grad(weightName);
        if (weight.size() != d) throw new IllegalArgumentException(name + ": weight '" + weightName + "' has " + weight.size() + " elements, the norm is over " + d);
        this.rstd = Tensor.f32(name + ".rstd", rows);
        this.partials = scratch.f32("RmsNorm.partials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS), d);
        this.dxScratch = scratch.f32("RmsNorm.dx", rows, d);
    }

    public void forward(TaskGraph g) {
        g.task(name + ".fwd", RmsNorm.FORWARD, x, weight, y, rstd, rows, d, eps);
    }

    /**
     * {@code dx = ∂/∂x} (accumulate false: overwritten) or {@code dx += ∂/∂x} (accumulate true,
     * through a scratch buffer, since the kernel overwrites); {@code dw += Σ_rows dy ⊙ x·rstd}.
     */
    public void backward(TaskGraph g, Tensor dy, Tensor dx, boolean accumulate) {
        Tensor target = accumulate ? dxScratch : dx;
        g.task(name + ".dx", RmsNorm.BACKWARD_DX, dy, x, weight, rstd, target, rows, d);
        if (accumulate) Ops.addInto(g, name + ".dxAdd", dxScratch, dx, rows * d);
        RmsNorm.weightGradient(g, name + ".dw", dy, x, rstd, partials, dWeight, rows, d, true);
    }
}
