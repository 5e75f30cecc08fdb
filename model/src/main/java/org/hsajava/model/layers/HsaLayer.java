package org.hsajava.model.layers;

import static org.hsajava.model.layers.RetrievalLayer.requireSize;

import org.hsajava.compute.Device;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.HsaAttention;
import org.hsajava.kernels.HsaAttentionBf16;
import org.hsajava.kernels.Residual;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.HsaConfig;

/**
 * The authors' {@code HierarchicalSparseAttention} with {@code hsa_only = true} (their default;
 * docs/authors-model.md §2.5, §3.6): hierarchical sparse attention over the chunks its group's
 * {@link RetrievalLayer} selected, fed back through the bypassing residual.
 * <pre>
 *   q   = q_proj(pre_norm(h))                 [B, L, HQ, hd], no RoPE; (q = q_norm(q) per head if enable_qk_norm)
 *   ctx = HSA(q, mem_k, mem_v, indices, weights, n = enable_softmax1 ? 1 : 0, scale 1/sqrt(hd))
 *   o   = o_proj(ctx)
 *   u   = h + o
 *   out = h + MLP(_mlp_norm(u))               bypass: o reaches the stream only through the MLP
 *   out = u + MLP(_mlp_norm(u))               reset_hsa_residual
 * </pre>
 * All norms use eps 1e-6. Backward ADDS into dh, into the memory gradients dmem_k / dmem_v, into the
 * selection's dweights and into the parameter gradients.
 *
 * <p>Query head j reads KV head j / (HQ/Hk). Tokens with no complete chunk in their past (t &lt; S)
 * get ctx = 0, so out = h + MLP(_mlp_norm(h)); tokens of a trailing partial chunk read all C complete
 * chunks (see {@link RetrievalLayer}).
 *
 * <p>With bf16 matmuls ({@link Gemm#precision()} BF16 when the layer is built, a config's
 * {@code matmul_precision}) on a device with tensor cores, the forward packs the memory's K and V to
 * bf16 and runs {@link HsaAttentionBf16} (half the bytes the forward reads per token); the backward
 * keeps the fp32 K and V and TF32. {@code -Dhsa.attn.bf16=off} keeps the fp32 forward; {@code =on}
 * uses the bf16 one on any device (emulated, slowly, without tensor cores: tests).
 *
 * <p>Constructor tensors: {@code h, dh, out, dOut} {@code [B·L, D]} ({@code out} must not be {@code h});
 * {@code memK, memV, dMemK, dMemV} {@code [B, C·S, Hk, hd]} (row c·S + j is token j of chunk c).
 */
public final class HsaLayer implements Layer {
    private final String name;
    private final Device device;
    private final int B, L, D, HQ, Hk, hd, S, C, K, rows, n;
    private final float scale;
    private final boolean qkNorm, bypass;

    private final Tensor h, dh, out, dOut, memK, memV, dMemK, dMemV;
    private final ChunkSelection sel;
    private final Tensor preNormW, dPreNormW, qW, dQW, qNormW, dQNormW, oW, dOW, mlpNormW, dMlpNormW;
    private final SwiGluMlp mlp;
    private final KernelDef fwd, bwdQ, bwdKv;
    /** The bf16 forward and its packed K, V; null unless bf16 matmuls on tensor cores. */
    private final KernelDef packKv, fwdBf16;
    private final Tensor kb, vt;

    // Saved activations.
    private final Tensor xn, rstdPre, q, qn, rstdQ, ctxOut, lse, o, u, m, rstdMlp;
    private final Tensor m16;  // bf16(m) for the MLP's gate/up GEMMs where the context keeps bf16 copies, else null
    // Backward scratch.
    private final Tensor du, dm, dCtx, dQn, dQ, dXn, dRow, dW, delta, dK, dV, partialsRows, partialsQ;

    public HsaLayer(LayerContext ctx, int layerIndex, Tensor h, Tensor dh, Tensor out, Tensor dOut,
                    Tensor memK, Tensor memV, Tensor dMemK, Tensor dMemV, ChunkSelection selection) {
        HsaConfig hc = ctx.config().hsa();
        if (hc == null) throw new ConfigException("attention_kind", "an HSA layer needs the HSA settings (attention_kind hsa)");
        if (!hc.hsaOnly()) {
            throw new ConfigException("hsa_only", "false (an SWA sublayer inside the HSA layer) is not implemented; use hsa_only = true (the authors' default)");
        }
        this.name = "layers." + layerIndex + ".hsa";
        this.device = ctx.device();
        this.B = ctx.batch();
        this.L = ctx.length();
        this.D = ctx.config().hiddenSize();
        this.HQ = ctx.config().numAttentionHeads();
        this.hd = ctx.config().headDim();
        this.Hk = hc.numKvHeads();
        this.S = hc.chunkSize();
        this.C = L / S;
        this.rows = ctx.rows();
        if (hd != 16 && hd != 32 && hd != 64 && hd != 128) {
            throw new ConfigException("head_dim", "the HSA attention kernels need hidden_size / num_attention_heads in {16, 32, 64, 128}, got " + hd);
        }
        int groups = HQ / Hk;
        if (groups * S > 2048 || groups * hd > 2048) {
            throw new ConfigException("num_attention_heads", "G = num_attention_heads / num_kv_heads = " + groups
                    + " is too large for the HSA attention kernels (need G*chunk_size <= 2048 and G*head_dim <= 2048)");
        }
        if (selection == null) throw new IllegalArgumentException(name + ": the chunk selection of the group's retrieval layer is required");
        if (selection.chunks() != C) {
            throw new IllegalArgumentException(name + ": the selection is for " + selection.chunks() + " chunks, this layer's length " + L + " has " + C);
        }
        if (out == h) throw new IllegalArgumentException(name + ": 'out' must be a different tensor from 'h' (the backward reads h)");
        this.sel = selection;
        this.K = selection.slots();
        this.n = hc.softmaxOffByOne() ? 1 : 0;
        this.scale = (float) (1.0 / Math.sqrt(hd));
        this.qkNorm = hc.qkNorm();
        this.bypass = hc.bypassResidual();

        this.h = requireSize("h", h, (long) rows * D);
        this.dh = requireSize("dh", dh, (long) rows * D);
        this.out = requireSize("out", out, (long) rows * D);
        this.dOut = requireSize("dOut", dOut, (long) rows * D);
        long memSize = (long) B * C * S * Hk * hd;
        this.memK = requireSize("memK", memK, memSize);
        this.memV = requireSize("memV", memV, memSize);
        this.dMemK = requireSize("dMemK", dMemK, memSize);
        this.dMemV = requireSize("dMemV", dMemV, memSize);
        requireSize("indices", selection.indices(), (long) rows * Hk * K);
        requireSize("weights", selection.weights(), (long) rows * Hk * K);
        requireSize("dweights", selection.dweights(), (long) rows * Hk * K);

        ModelParameters p = ctx.params();
        String pre = "backbone.layers." + layerIndex + ".";
        this.preNormW = p.param(pre + "pre_norm.weight");
        this.dPreNormW = p.grad(pre + "pre_norm.weight");
        this.qW = p.param(pre + "q_proj.weight");
        this.dQW = p.grad(pre + "q_proj.weight");
        this.qNormW = qkNorm ? p.param(pre + "q_norm.weight") : null;
        this.dQNormW = qkNorm ? p.grad(pre + "q_norm.weight") : null;
        this.oW = p.param(pre + "o_proj.weight");
        this.dOW = p.grad(pre + "o_proj.weight");
        this.mlpNormW = p.param(pre + "_mlp_norm.weight");
        this.dMlpNormW = p.grad(pre + "_mlp_norm.weight");
        this.fwd = HsaAttention.forward(hd, S, groups);
        this.bwdQ = HsaAttention.backwardQ(hd, S, groups);
        this.bwdKv = HsaAttention.backwardKv(hd, S, groups);
        boolean bf16 = bf16Forward(device) && C > 0;
        this.packKv = bf16 ? HsaAttentionBf16.packKv(hd, S) : null;
        this.fwdBf16 = bf16 ? HsaAttentionBf16.forward(hd, S, groups) : null;
        this.kb = bf16 ? Tensor.bf16(name + ".kBf16", B, C * S, Hk, hd) : null;
        this.vt = bf16 ? Tensor.bf16(name + ".vBf16T", B, Hk, C, hd, S) : null;

        this.xn = Tensor.f32(name + ".xn", rows, D);
        this.rstdPre = Tensor.f32(name + ".rstdPre", rows);
        this.q = Tensor.f32(name + ".q", B, L, HQ, hd);
        this.qn = qkNorm ? Tensor.f32(name + ".qNormed", B, L, HQ, hd) : q;
        this.rstdQ = qkNorm ? Tensor.f32(name + ".rstdQ", rows * HQ) : null;
        this.ctxOut = Tensor.f32(name + ".ctx", B, L, HQ, hd);
        this.lse = Tensor.f32(name + ".lse", B, L, HQ, K);
        this.o = Tensor.f32(name + ".o", rows, D);
        this.u = Tensor.f32(name + ".u", rows, D);
        this.m = Tensor.f32(name + ".m", rows, D);
        this.rstdMlp = Tensor.f32(name + ".rstdMlp", rows);

        this.du = Tensor.f32(name + ".du", rows, D);
        this.dm = Tensor.f32(name + ".dm", rows, D);
        // The bypass MLP is the same SwiGLU block as the SWA layers' (its own parameters under "_mlp.").
        this.m16 = ctx.bf16Copies() ? Tensor.bf16(name + ".m16", rows, D) : null;
        this.mlp = new SwiGluMlp(ctx, new ScratchPool(name + ".scratch"), name + ".mlp", pre + "_mlp.", rows, ctx.config().intermediateSize(), m, m16, out, dm, dOut);
        this.dCtx = Tensor.f32(name + ".dCtx", B, L, HQ, hd);
        this.dQn = Tensor.f32(name + ".dQn", B, L, HQ, hd);
        this.dQ = qkNorm ? Tensor.f32(name + ".dQ", B, L, HQ, hd) : dQn;
        this.dXn = Tensor.f32(name + ".dXn", rows, D);
        this.dRow = Tensor.f32(name + ".dRow", rows, D);
        this.dW = Tensor.f32(name + ".dWeights", B, L, Hk, K);
        this.delta = Tensor.f32(name + ".delta", B, L, HQ, K);
        this.dK = Tensor.f32(name + ".dK", B, C * S, Hk, hd);
        this.dV = Tensor.f32(name + ".dV", B, C * S, Hk, hd);
        this.partialsRows = Tensor.f32(name + ".dwPartials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS), D);
        this.partialsQ = qkNorm ? Tensor.f32(name + ".dwPartialsQ", RmsNorm.blocks(rows * HQ, RmsNorm.DW_BLOCK_ROWS), hd) : null;
    }

    /** Property that overrides the choice of the bf16 forward: auto (default), on, off. */
    public static final String BF16_PROPERTY = "hsa.attn.bf16";

    /** Whether a layer built now on {@code device} runs the forward on bf16 K and V (see the class comment). */
    public static boolean bf16Forward(Device device) { return Bf16Attention.enabled(BF16_PROPERTY, device); }

    @Override
    public String name() { return name; }

    @Override
    public void forward(TaskGraph g) {
        String t = name + ".";
        int nd = rows * D;
        g.task(t + "preNorm", RmsNorm.FORWARD, h, preNormW, xn, rstdPre, rows, D, RetrievalLayer.EPS);
        Linear.forward(g, t + "qProj", device, xn, qW, null, q, rows, D, HQ * hd);
        if (qkNorm) g.task(t + "qNorm", RmsNorm.FORWARD, q, qNormW, qn, rstdQ, rows * HQ, hd, RetrievalLayer.EPS);
        if (fwdBf16 != null) {
            g.task(t + "packKv", packKv, memK, memV, kb, vt, B, C * S, Hk);
            g.task(t + "attn", fwdBf16, qn, kb, vt, sel.indices(), sel.weights(), ctxOut, lse, B, L, HQ, Hk, K, n, scale);
        } else {
            g.task(t + "attn", fwd, qn, memK, memV, sel.indices(), sel.weights(), ctxOut, lse, B, L, HQ, Hk, K, n, scale);
        }
        Linear.forward(g, t + "oProj", device, ctxOut, oW, null, o, rows, HQ * hd, D);
        // u = h + o: the input of the bypass MLP (and, with reset_hsa_residual, of the output too),
        // written by the MLP's norm as it normalises it.
        if (m16 != null) g.task(t + "mlpNorm", RmsNorm.FORWARD_ADD_BF16, o, h, u, mlpNormW, m, m16, rstdMlp, rows, D, RetrievalLayer.EPS);
        else g.task(t + "mlpNorm", RmsNorm.FORWARD_ADD, o, h, u, mlpNormW, m, rstdMlp, rows, D, RetrievalLayer.EPS);
        mlp.forward(g);
        g.task(t + "residual", Residual.AXPBY, bypass ? h : u, out, nd, 1f, 1f);
    }

    @Override
    public void backward(TaskGraph g) {
        String t = name + ".";
        int nd = rows * D;
        // out = res + MLP(norm(u)) with res = h (bypass) or res = u = h + o (reset): dOut reaches u through
        // the MLP, and through res either h directly or u (whose gradient then flows on into h).
        if (bypass) g.task(t + "dhResidual", Residual.AXPBY, dOut, dh, nd, 1f, 1f);
        g.task(t + "zeroDm", Fill.FILL, dm, nd, 0f);
        mlp.backward(g);
        g.task(t + "mlpNormDx", RmsNorm.BACKWARD_DX, dm, u, mlpNormW, rstdMlp, du, rows, D);
        RmsNorm.weightGradient(g, t + "mlpNormDw", dm, u, rstdMlp, partialsRows, dMlpNormW, rows, D, true);
        if (!bypass) g.task(t + "duResidual", Residual.AXPBY, dOut, du, nd, 1f, 1f);
        // u = h + o.
        g.task(t + "dhFromU", Residual.AXPBY, du, dh, nd, 1f, 1f);
        g.task(t + "zeroDCtx", Fill.FILL, dCtx, rows * HQ * hd, 0f);
        Linear.backward(g, t + "oProj", device, ctxOut, oW, du, dCtx, dOW, null, rows, HQ * hd, D);
        // HSA attention: per token (dq, dweights, delta), then per chunk through the inverted index (dk, dv).
        g.task(t + "attnBwdQ", bwdQ, qn, memK, memV, sel.indices(), sel.weights(), dCtx, lse, dQn, dW, delta, B, L, HQ, Hk, K, scale);
        g.task(t + "attnBwdKv", bwdKv, qn, memK, memV, sel.weights(), dCtx, lse, delta, sel.chunkStart(), sel.entries(), dK, dV, B, L, HQ, Hk, K, scale);
        g.task(t + "addDweights", Residual.AXPBY, dW, sel.dweights(), rows * Hk * K, 1f, 1f);
        g.task(t + "addDMemK", Residual.AXPBY, dK, dMemK, dK.size(), 1f, 1f);
        g.task(t + "addDMemV", Residual.AXPBY, dV, dMemV, dV.size(), 1f, 1f);
        if (qkNorm) {
            g.task(t + "qNormDx", RmsNorm.BACKWARD_DX, dQn, q, qNormW, rstdQ, dQ, rows * HQ, hd);
            RmsNorm.weightGradient(g, t + "qNormDw", dQn, q, rstdQ, partialsQ, dQNormW, rows * HQ, hd, true);
        }
        g.task(t + "zeroDXn", Fill.FILL, dXn, nd, 0f);
        Linear.backward(g, t + "qProj", device, xn, qW, dQ, dXn, dQW, null, rows, D, HQ * hd);
        g.task(t + "preNormDx", RmsNorm.BACKWARD_DX, dXn, h, preNormW, rstdPre, dRow, rows, D);
        RmsNorm.weightGradient(g, t + "preNormDw", dXn, h, rstdPre, partialsRows, dPreNormW, rows, D, true);
        g.task(t + "dhFromQ", Residual.AXPBY, dRow, dh, nd, 1f, 1f);
    }
}
