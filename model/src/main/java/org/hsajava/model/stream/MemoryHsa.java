package org.hsajava.model.stream;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.HsaAttention;
import org.hsajava.kernels.Residual;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.layers.EncoderLayer;
import org.hsajava.model.layers.LayerContext;
import org.hsajava.model.layers.Linear;
import org.hsajava.model.layers.ScratchPool;
import org.hsajava.model.layers.SwiGluMlp;

/**
 * The forward pass of an {@link org.hsajava.model.layers.HsaLayer} ({@code hsa_only}, the
 * authors' default) for rows at positions {@code t0 .. t0+L-1} of one long sequence, attending to
 * the chunks its group's {@link MemoryRetrieval} picked from a {@link ChunkMemory}:
 * <pre>
 *   q   = q_proj(pre_norm(h))   (q_norm per head with enable_qk_norm)
 *   ctx = HSA(q, memory keys, memory values, indices, weights)   ({@link HsaAttention#forwardAt}, t0, C = capacity)
 *   u   = h + o_proj(ctx)
 *   out = h + MLP(_mlp_norm(u))          (u + MLP(...) with reset_hsa_residual)
 * </pre>
 */
final class MemoryHsa {
    private final String name;
    private final Device device;
    private final int L, D, HQ, Hk, hd, S, C, K, n;
    private final float scale;
    private final boolean qkNorm, bypass;
    private final Object t0;
    private final Tensor h, out, memK, memV;
    private final MemoryRetrieval selection;
    private final Tensor preNormW, qW, qNormW, oW, mlpNormW;
    private final Tensor xn, rstdPre, q, qn, rstdQ, ctxOut, lse, o, u, m, rstdMlp;
    private final SwiGluMlp mlp;

    /** @param ctx batch 1, length L, position scalar t0; {@code out} must not be {@code h} */
    MemoryHsa(LayerContext ctx, int layerIndex, Tensor h, Tensor out, ChunkMemory memory, MemoryRetrieval selection) {
        HsaConfig hc = ctx.config().hsa();
        if (!hc.hsaOnly()) throw new ConfigException("hsa_only", "false (an SWA sublayer inside the HSA layer) is not implemented; use hsa_only = true (the authors' default)");
        if (out == h) throw new IllegalArgumentException("'out' must be a tensor other than 'h'");
        this.name = "layers." + layerIndex + ".hsa";
        this.device = ctx.device();
        this.L = ctx.length();
        this.D = ctx.config().hiddenSize();
        this.HQ = ctx.config().numAttentionHeads();
        this.hd = ctx.config().headDim();
        this.Hk = hc.numKvHeads();
        this.S = hc.chunkSize();
        this.C = memory.capacity();
        this.K = selection.slots();
        this.n = hc.softmaxOffByOne() ? 1 : 0;
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.qkNorm = hc.qkNorm();
        this.bypass = hc.bypassResidual();
        this.t0 = ctx.positionArgument();
        this.h = h;
        this.out = out;
        this.memK = memory.keys();
        this.memV = memory.values();
        this.selection = selection;

        ModelParameters p = ctx.params();
        String pre = "backbone.layers." + layerIndex + ".";
        this.preNormW = p.param(pre + "pre_norm.weight");
        this.qW = p.param(pre + "q_proj.weight");
        this.qNormW = qkNorm ? p.param(pre + "q_norm.weight") : null;
        this.oW = p.param(pre + "o_proj.weight");
        this.mlpNormW = p.param(pre + "_mlp_norm.weight");
        this.xn = Tensor.f32(name + ".xn", L, D);
        this.rstdPre = Tensor.f32(name + ".rstdPre", L);
        this.q = Tensor.f32(name + ".q", 1, L, HQ, hd);
        this.qn = qkNorm ? Tensor.f32(name + ".qNormed", 1, L, HQ, hd) : q;
        this.rstdQ = qkNorm ? Tensor.f32(name + ".rstdQ", L * HQ) : null;
        this.ctxOut = Tensor.f32(name + ".ctx", 1, L, HQ, hd);
        this.lse = Tensor.f32(name + ".lse", 1, L, HQ, K);
        this.o = Tensor.f32(name + ".o", L, D);
        this.u = Tensor.f32(name + ".u", L, D);
        this.m = Tensor.f32(name + ".m", L, D);
        this.rstdMlp = Tensor.f32(name + ".rstdMlp", L);
        this.mlp = new SwiGluMlp(ctx, new ScratchPool(name + ".scratch"), name + ".mlp", pre + "_mlp.", L, ctx.config().intermediateSize(),
                m, out, null, NoGrad.of(name + ".dOut", L, D));
        HsaAttention.forwardAt(hd, S, HQ / Hk);   // fails here, naming the sizes, if the kernels do not support them
    }

    void forward(TaskGraph g) {
        String t = name + ".";
        int nd = L * D;
        g.task(t + "preNorm", RmsNorm.FORWARD, h, preNormW, xn, rstdPre, L, D, EncoderLayer.EPS);
        Linear.forward(g, t + "qProj", device, xn, qW, null, q, L, D, HQ * hd);
        if (qkNorm) g.task(t + "qNorm", RmsNorm.FORWARD, q, qNormW, qn, rstdQ, L * HQ, hd, EncoderLayer.EPS);
        g.task(t + "attn", HsaAttention.forwardAt(hd, S, HQ / Hk), qn, memK, memV, selection.indices(), selection.weights(), ctxOut, lse,
                1, L, HQ, Hk, K, n, scale, t0, C);
        Linear.forward(g, t + "oProj", device, ctxOut, oW, null, o, L, HQ * hd, D);
        g.task(t + "u", Fill.COPY, h, u, nd);
        g.task(t + "uAddO", Residual.AXPBY, o, u, nd, 1f, 1f);
        g.task(t + "mlpNorm", RmsNorm.FORWARD, u, mlpNormW, m, rstdMlp, L, D, EncoderLayer.EPS);
        mlp.forward(g);
        g.task(t + "residual", Residual.AXPBY, bypass ? h : u, out, nd, 1f, 1f);
    }
}
