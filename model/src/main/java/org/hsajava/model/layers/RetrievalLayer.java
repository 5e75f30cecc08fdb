package org.hsajava.model.layers;

import java.util.Arrays;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.HsaCsr;
import org.hsajava.kernels.HsaSelection;
import org.hsajava.kernels.Residual;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ChunkWeightMode;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.HsaConfig;

/**
 * The authors' {@code RetrievalLayer} (docs/authors-model.md §2.4, §3.5): per token and KV head,
 * which K' past chunks to read and with what weight. It reads the residual stream {@code h} and
 * leaves it unchanged.
 * <pre>
 *   qr      = ln(pre_norm(h))                       [B, L, Hk, dr],  dr = R / Hk, pre_norm eps 1e-6
 *   (qr, lm = lmk_q_norm(qr), lmk_k_norm(lm)        per head, eps 1e-6, if enable_lmk_norm)
 *   s[t,c]  = qr[t] · lm[c] / sqrt(dr)               chunk c eligible iff (c+1)·S ≤ t
 *                                                    (mask_slide_window: iff c·S ≤ t − W)
 *   indices = top-K' eligible chunks by score, most recent first; K' = min(K, C), C = floor(L / S)
 *   weights = stick-breaking (enable_softmax false) or softmax (true) over the valid slots
 * </pre>
 * Backward: {@code dweights} (accumulated by the HSA layer of the group) → dscores → dqr (→ ln,
 * pre_norm, ADDED into dh) and dlandmarks (ADDED into the memory's landmark gradient). Indices get
 * no gradient.
 *
 * <p>A length that is not a multiple of S: the memory holds the C = floor(L/S) complete chunks;
 * tokens of the trailing partial chunk retrieve from all of them (they are all wholly in their
 * past), exactly as the eligibility rule says. The authors' training path asserts L % S == 0; their
 * cache (inference) path behaves as here.
 *
 * <p>Constructor tensors: {@code h, dh} {@code [B·L, D]}; {@code landmarks, dLandmarks}
 * {@code [B, C, Hk, dr]} (the chunk memory's, head-major as {@code lmk_ln}'s output viewed per head).
 */
public final class RetrievalLayer implements Layer {
    /** The fixed eps of every norm of this layer (Liger's default, not rms_norm_eps). */
    static final float EPS = 1e-6f;

    private final String name;
    private final Device device;
    private final int B, L, D, Hk, dr, R, S, C, K, rows;
    private final HsaSelection.WeightMode mode;
    private final int t0;  // the selection kernels' position of row 0: 0, or minus the mask_slide_window lag
    private final boolean lmkNorm;

    private final Tensor h, dh, landmarks, dLandmarks;
    private final Tensor preNormW, dPreNormW, lnW, dLnW, qNormW, dQNormW, kNormW, dKNormW;

    // Saved activations.
    private final Tensor xn, rstdPre, qr, qrn, rstdQ, lmn, rstdK, scores;
    private final ChunkSelection selection;

    // Backward scratch (overwritten each step).
    private final Tensor dScores, dQrUsed, dQr, dLmUsed, dLm, dXn, dhTmp, partialsRows, partialsQ, partialsK;

    public RetrievalLayer(LayerContext ctx, int layerIndex, Tensor h, Tensor dh, Tensor landmarks, Tensor dLandmarks) {
        HsaConfig hc = ctx.config().hsa();
        if (hc == null) throw new ConfigException("attention_kind", "a retrieval layer needs the HSA settings (attention_kind hsa)");
        this.name = "layers." + layerIndex + ".retrieval";
        this.device = ctx.device();
        this.B = ctx.batch();
        this.L = ctx.length();
        this.D = ctx.config().hiddenSize();
        this.Hk = hc.numKvHeads();
        this.R = hc.retrievalDim();
        this.dr = hc.retrievalHeadDim();
        this.S = hc.chunkSize();
        this.C = L / S;
        this.rows = ctx.rows();
        if (Arrays.stream(HsaSelection.SUPPORTED_DR).noneMatch(x -> x == dr)) {
            throw new ConfigException("retrieval_dim", "retrieval_dim / num_kv_heads = " + dr + " is not a retrieval head size the selection kernels support "
                    + Arrays.toString(HsaSelection.SUPPORTED_DR));
        }
        if (hc.chunkTopk() > HsaSelection.MAX_K) {
            throw new ConfigException("chunk_topk", "must be at most " + HsaSelection.MAX_K + " (selection kernels), got " + hc.chunkTopk());
        }
        if (C < 1) {
            throw new IllegalArgumentException(name + ": length " + L + " is shorter than chunk_size " + S + ": no complete chunk, nothing to retrieve");
        }
        this.K = Math.min(hc.chunkTopk(), C);
        this.t0 = (Integer) ctx.retrievalPositionArgument();
        this.mode = hc.weightMode() == ChunkWeightMode.SOFTMAX ? HsaSelection.WeightMode.SOFTMAX : HsaSelection.WeightMode.STICK;
        this.lmkNorm = hc.lmkNorm();

        this.h = requireSize("h", h, (long) rows * D);
        this.dh = requireSize("dh", dh, (long) rows * D);
        this.landmarks = requireSize("landmarks", landmarks, (long) B * C * Hk * dr);
        this.dLandmarks = requireSize("dLandmarks", dLandmarks, (long) B * C * Hk * dr);

        ModelParameters p = ctx.params();
        String pre = "backbone.layers." + layerIndex + ".";
        this.preNormW = p.param(pre + "pre_norm.weight");
        this.dPreNormW = p.grad(pre + "pre_norm.weight");
        this.lnW = p.param(pre + "ln.weight");
        this.dLnW = p.grad(pre + "ln.weight");
        this.qNormW = lmkNorm ? p.param(pre + "lmk_q_norm.weight") : null;
        this.dQNormW = lmkNorm ? p.grad(pre + "lmk_q_norm.weight") : null;
        this.kNormW = lmkNorm ? p.param(pre + "lmk_k_norm.weight") : null;
        this.dKNormW = lmkNorm ? p.grad(pre + "lmk_k_norm.weight") : null;

        this.xn = Tensor.f32(name + ".xn", rows, D);
        this.rstdPre = Tensor.f32(name + ".rstdPre", rows);
        this.qr = Tensor.f32(name + ".qr", B, L, Hk, dr);
        this.qrn = lmkNorm ? Tensor.f32(name + ".qrNormed", B, L, Hk, dr) : qr;
        this.rstdQ = lmkNorm ? Tensor.f32(name + ".rstdQ", rows * Hk) : null;
        this.lmn = lmkNorm ? Tensor.f32(name + ".lmNormed", B, C, Hk, dr) : landmarks;
        this.rstdK = lmkNorm ? Tensor.f32(name + ".rstdK", B * C * Hk) : null;
        this.scores = Tensor.f32(name + ".scores", B, L, Hk, K);
        this.selection = new ChunkSelection(
                Tensor.i32(name + ".indices", B, L, Hk, K),
                Tensor.f32(name + ".weights", B, L, Hk, K),
                Tensor.f32(name + ".dweights", B, L, Hk, K),
                Tensor.i32(name + ".chunkStart", B * Hk * (C + 1)),
                Tensor.i32(name + ".entries", B * Hk * L * K),
                K, C);

        this.dScores = Tensor.f32(name + ".dScores", B, L, Hk, K);
        this.dQrUsed = Tensor.f32(name + ".dQrUsed", B, L, Hk, dr);
        this.dQr = lmkNorm ? Tensor.f32(name + ".dQr", B, L, Hk, dr) : dQrUsed;
        this.dLmUsed = Tensor.f32(name + ".dLmUsed", B, C, Hk, dr);
        this.dLm = lmkNorm ? Tensor.f32(name + ".dLm", B, C, Hk, dr) : dLmUsed;
        this.dXn = Tensor.f32(name + ".dXn", rows, D);
        this.dhTmp = Tensor.f32(name + ".dhTmp", rows, D);
        this.partialsRows = Tensor.f32(name + ".dwPartials", RmsNorm.blocks(rows, RmsNorm.DW_BLOCK_ROWS), D);
        this.partialsQ = lmkNorm ? Tensor.f32(name + ".dwPartialsQ", RmsNorm.blocks(rows * Hk, RmsNorm.DW_BLOCK_ROWS), dr) : null;
        this.partialsK = lmkNorm ? Tensor.f32(name + ".dwPartialsK", RmsNorm.blocks(B * C * Hk, RmsNorm.DW_BLOCK_ROWS), dr) : null;
    }

    @Override
    public String name() { return name; }

    /** The selection outputs and the gradient buffer the HSA layer of this group adds into. */
    public ChunkSelection selection() { return selection; }

    /** The selected (raw) scores {@code [B, L, Hk, K']}, invalid slots 0: saved for the backward. */
    public Tensor scores() { return scores; }

    @Override
    public void forward(TaskGraph g) {
        String n = name + ".";
        // qr = ln(pre_norm(h)); heads are contiguous dr-blocks of the R outputs (head-major view).
        g.task(n + "preNorm", RmsNorm.FORWARD, h, preNormW, xn, rstdPre, rows, D, EPS);
        Linear.forward(g, n + "ln", device, xn, lnW, null, qr, rows, D, R);
        if (lmkNorm) {
            g.task(n + "lmkQNorm", RmsNorm.FORWARD, qr, qNormW, qrn, rstdQ, rows * Hk, dr, EPS);
            g.task(n + "lmkKNorm", RmsNorm.FORWARD, landmarks, kNormW, lmn, rstdK, B * C * Hk, dr, EPS);
        }
        ChunkSelection s = selection;
        g.task(n + "select", HsaSelection.topKWeights(dr, K, mode), qrn, lmn, s.indices(), scores, s.weights(), B, L, Hk, C, S, t0);
        HsaCsr.addBuildTasks(g, n + "csr", s.indices(), s.chunkStart(), s.entries(), B, L, Hk, C, S, t0, K);
        // The HSA layer's backward accumulates into dweights; this step starts it from zero.
        g.task(n + "zeroDweights", Fill.FILL, s.dweights(), rows * Hk * K, 0f);
    }

    @Override
    public void backward(TaskGraph g) {
        String n = name + ".";
        ChunkSelection s = selection;
        g.task(n + "dScores", HsaSelection.weightsBackward(mode, K), scores, s.weights(), s.dweights(), dScores, B, L, Hk, C, S, t0);
        // Scores s = qr·lm·scale with the selection fixed: dqr per token, dlm per chunk through the CSR.
        g.task(n + "dQr", HsaSelection.queryBackward(dr, K), dScores, s.indices(), lmn, dQrUsed, B, L, Hk, C, S, t0);
        g.task(n + "dLandmarks", HsaSelection.landmarkBackward(dr, K), dScores, qrn, s.chunkStart(), s.entries(), dLmUsed, B, L, Hk, C);
        if (lmkNorm) {
            g.task(n + "lmkQNormDx", RmsNorm.BACKWARD_DX, dQrUsed, qr, qNormW, rstdQ, dQr, rows * Hk, dr);
            RmsNorm.weightGradient(g, n + "lmkQNormDw", dQrUsed, qr, rstdQ, partialsQ, dQNormW, rows * Hk, dr, true);
            g.task(n + "lmkKNormDx", RmsNorm.BACKWARD_DX, dLmUsed, landmarks, kNormW, rstdK, dLm, B * C * Hk, dr);
            RmsNorm.weightGradient(g, n + "lmkKNormDw", dLmUsed, landmarks, rstdK, partialsK, dKNormW, B * C * Hk, dr, true);
        }
        g.task(n + "addDLandmarks", Residual.AXPBY, dLm, dLandmarks, B * C * Hk * dr, 1f, 1f);
        // Linear.backward adds into dx, so the scratch starts at zero.
        g.task(n + "zeroDXn", Fill.FILL, dXn, rows * D, 0f);
        Linear.backward(g, n + "ln", device, xn, lnW, dQr, dXn, dLnW, null, rows, D, R);
        g.task(n + "preNormDx", RmsNorm.BACKWARD_DX, dXn, h, preNormW, rstdPre, dhTmp, rows, D);
        RmsNorm.weightGradient(g, n + "preNormDw", dXn, h, rstdPre, partialsRows, dPreNormW, rows, D, true);
        g.task(n + "addDh", Residual.AXPBY, dhTmp, dh, rows * D, 1f, 1f);
    }

    static Tensor requireSize(String what, Tensor t, long size) {
        if (t == null) throw new IllegalArgumentException("tensor '" + what + "' is required");
        if (t.size() != size) throw new IllegalArgumentException("tensor '" + what + "' (" + t + ") must have " + size + " elements, has " + t.size());
        return t;
    }
}
