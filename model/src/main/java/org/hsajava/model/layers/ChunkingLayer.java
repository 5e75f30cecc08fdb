package org.hsajava.model.layers;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.Reduce;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.kernels.SegmentRows;
import org.hsajava.kernels.SegmentRows.Layout;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;

/**
 * The chunk memory (the authors' {@code hsa_layers.py: ChunkingLayer}; docs/authors-model.md §2.3,
 * §3.4), built once from the residual stream after the lower layers and shared by every HSA layer.
 * With C = ⌊L/S⌋ full chunks per sequence and N = B·C:
 * <pre>
 * with encoder (encoder_layers &gt; 0), T = S + 1:
 *   x  = [chunk tokens h[b, c·S .. c·S+S-1]; cls_emb]    [N, T, D]   (CLS appended: RoPE position S)
 *   (x = enc_prenorm(x)                                   if enc_prenorm)
 *   e  = encoder.norm(EncoderLayer_j(... x))              bidirectional inside each chunk
 *   landmarks = lmk_ln(e[:, S])                           [B, C, R]  = [B, C, Hk, R/Hk]
 *   E  = e[:, 0:S]
 * without encoder:
 *   E  = norm(x)  (x without CLS, T = S);  landmarks = lmk_ln(mean over the chunk of E)
 * both:
 *   mem_k = proj_k(E)  (then k_rmsnorm per KV head if enable_qk_norm)   [B, C·S, Hk, hd]
 *   mem_v = proj_v(E)                                                   [B, C·S, Hk, hd]
 * </pre>
 * Memory row {@code c·S + j} of a sequence is token j of chunk c. All norms use eps 1e-6. The layer
 * only reads h; its backward ADDS into {@code dh} (from dMemK, dMemV and dLandmarks, which the HSA
 * and retrieval layers above accumulate) and into the parameter gradients. Tokens of a trailing
 * partial chunk (L not a multiple of S) never enter the memory and get no gradient from here.
 * {@code enc_prenorm} only exists with an encoder (as in the authors' code); without one it is ignored.
 */
public final class ChunkingLayer implements Layer {
    private final String name, prefix;
    private final Device device;
    private final ModelParameters p;
    private final int batch, length, dModel, chunk, chunks, segments, segLen, kvWidth, headDim, kvHeads, retrievalDim;
    private final boolean encoder, prenorm, qkNorm;
    private final Tensor h, dh, memK, memV, landmarks, dMemK, dMemV, dLandmarks;

    // forward activations
    private final Tensor x;          // [N, T, D] the chunk tokens (and CLS)
    private final Tensor xEnc;       // the encoder input: x, or enc_prenorm(x)
    private final Tensor rstdPre;    // enc_prenorm's rstd (when enabled)
    private final List<Tensor> xs = new ArrayList<>();   // encoder residual stream: xs[0] = xEnc, xs[j+1] = layer j's output
    private final Tensor e, rstdE;   // final norm output [N, T, D] and its rstd
    private final Tensor eTok;       // E = e[:, 0:S], [N·S, D]
    private final Tensor pooled;     // lmk_ln's input: e[:, S] (encoder) or the chunk mean (no encoder), [N, D]
    private final Tensor kRaw, rstdK;          // proj_k output before k_rmsnorm (when enabled)
    // backward scratch
    private final List<Tensor> dxs = new ArrayList<>();
    private final Tensor dE, dETok, dPooled, dKRaw, dX, dClsRows, partials;
    private final List<EncoderLayer> layers = new ArrayList<>();

    /**
     * @param h          the residual stream [B, L, D] (read only)
     * @param dh         its gradient [B, L, D] (added to)
     * @param memK       [B, C·S, Hk, hd], C = L / S rounded down
     * @param memV       [B, C·S, Hk, hd]
     * @param landmarks  [B, C, R]
     * @param dMemK      gradients of the three outputs, same shapes (read by the backward)
     */
    public ChunkingLayer(LayerContext ctx, Tensor h, Tensor dh, Tensor memK, Tensor memV, Tensor landmarks,
                         Tensor dMemK, Tensor dMemV, Tensor dLandmarks) {
        ModelConfig c = ctx.config();
        HsaConfig hsa = c.hsa();
        if (hsa == null) throw new IllegalArgumentException("ChunkingLayer needs HSA settings (attention_kind is " + c.attentionKind().jsonName() + ")");
        int index = c.numLowerLayers();
        this.name = "layers." + index + ".chunking";
        this.prefix = "backbone.layers." + index + ".";
        this.device = ctx.device();
        this.p = ctx.params();
        this.batch = ctx.batch();
        this.length = ctx.length();
        this.dModel = c.hiddenSize();
        this.chunk = hsa.chunkSize();
        this.chunks = length / chunk;
        if (chunks < 1) throw new IllegalArgumentException(name + ": length " + length + " is shorter than chunk_size " + chunk + ": there is no chunk to remember");
        this.segments = batch * chunks;
        this.encoder = hsa.encoderLayers() > 0;
        this.segLen = encoder ? chunk + 1 : chunk;
        this.prenorm = encoder && hsa.encPrenorm();
        this.qkNorm = hsa.qkNorm();
        this.headDim = c.headDim();
        this.kvHeads = hsa.numKvHeads();
        this.kvWidth = kvHeads * headDim;
        this.retrievalDim = hsa.retrievalDim();
        long stream = (long) batch * length * dModel, mem = (long) segments * chunk * kvWidth, lmk = (long) segments * retrievalDim;
        EncoderLayer.requireSize(name, "h", h, stream);
        EncoderLayer.requireSize(name, "dh", dh, stream);
        EncoderLayer.requireSize(name, "memK", memK, mem);
        EncoderLayer.requireSize(name, "memV", memV, mem);
        EncoderLayer.requireSize(name, "landmarks", landmarks, lmk);
        EncoderLayer.requireSize(name, "dMemK", dMemK, mem);
        EncoderLayer.requireSize(name, "dMemV", dMemV, mem);
        EncoderLayer.requireSize(name, "dLandmarks", dLandmarks, lmk);
        this.h = h;
        this.dh = dh;
        this.memK = memK;
        this.memV = memV;
        this.landmarks = landmarks;
        this.dMemK = dMemK;
        this.dMemV = dMemV;
        this.dLandmarks = dLandmarks;

        int rows = segments * segLen;
        x = Tensor.f32(name + ".x", rows, dModel);
        xEnc = prenorm ? Tensor.f32(name + ".xPrenorm", rows, dModel) : x;
        rstdPre = prenorm ? Tensor.f32(name + ".rstdPrenorm", rows) : null;
        e = Tensor.f32(name + ".e", rows, dModel);
        rstdE = Tensor.f32(name + ".rstdE", rows);
        eTok = encoder ? Tensor.f32(name + ".eTokens", segments * chunk, dModel) : e;
        pooled = Tensor.f32(name + ".pooled", segments, dModel);
        kRaw = qkNorm ? Tensor.f32(name + ".kRaw", segments * chunk, kvWidth) : memK;
        rstdK = qkNorm ? Tensor.f32(name + ".rstdK", segments * chunk * kvHeads) : null;
        dE = Tensor.f32(name + ".dE", rows, dModel);
        dETok = encoder ? Tensor.f32(name + ".dETokens", segments * chunk, dModel) : dE;
        dPooled = Tensor.f32(name + ".dPooled", segments, dModel);
        dKRaw = qkNorm ? Tensor.f32(name + ".dKRaw", segments * chunk, kvWidth) : dMemK;
        dX = Tensor.f32(name + ".dX", rows, dModel);
        dClsRows = encoder ? Tensor.f32(name + ".dClsRows", segments, dModel) : null;
        int normRows = Math.max(rows, segments * chunk * kvHeads);
        partials = Tensor.f32(name + ".normPartials", RmsNorm.blocks(normRows, RmsNorm.DW_BLOCK_ROWS) * Math.max(dModel, headDim));

        if (encoder) {
            xs.add(xEnc);
            dxs.add(prenorm ? Tensor.f32(name + ".dxPrenorm", rows, dModel) : dX);
            for (int j = 0; j < hsa.encoderLayers(); j++) {
                xs.add(Tensor.f32(name + ".enc" + j + ".out", rows, dModel));
                dxs.add(Tensor.f32(name + ".enc" + j + ".dOut", rows, dModel));
                layers.add(new EncoderLayer(ctx, name + ".encoder.layers." + j, prefix + "encoder.layers." + j + ".", segments, segLen,
                        xs.get(j), xs.get(j + 1), dxs.get(j), dxs.get(j + 1)));
            }
        }
    }

    @Override
    public String name() { return name; }

    /** Chunks per sequence (full ones only). */
    public int chunks() { return chunks; }

    private Tensor w(String n) { return p.param(prefix + n); }

    private Tensor gw(String n) { return p.grad(prefix + n); }

    /** Block (b, c) of the stream h is rows b·L + c·S .. (the trailing partial chunk is never addressed). */
    private Layout streamLayout() { return new Layout(length, chunk, 0); }

    /** Segment n = b·C + c of the [N, T, D] chunk tensors starts at row n·T. */
    private Layout segmentLayout() { return new Layout(chunks * segLen, segLen, 0); }

    @Override
    public void forward(TaskGraph g) {
        int rows = segments * segLen, tokRows = segments * chunk;
        SegmentRows.copy(g, name + ".gather", h, streamLayout(), x, segmentLayout(), batch, chunks, chunk, dModel, false);
        if (encoder) {
            SegmentRows.copy(g, name + ".cls", w("cls_emb"), new Layout(0, 0, 0), x, new Layout(0, segLen, chunk), 1, segments, 1, dModel, false);
            if (prenorm) g.task(name + ".enc_prenorm", RmsNorm.FORWARD, x, w("enc_prenorm.weight"), xEnc, rstdPre, rows, dModel, EncoderLayer.EPS);
            for (EncoderLayer l : layers) l.forward(g);
            g.task(name + ".encoder.norm", RmsNorm.FORWARD, xs.getLast(), w("encoder.norm.weight"), e, rstdE, rows, dModel, EncoderLayer.EPS);
            SegmentRows.copy(g, name + ".clsRows", e, new Layout(0, segLen, chunk), pooled, new Layout(0, 1, 0), 1, segments, 1, dModel, false);
            SegmentRows.copy(g, name + ".tokenRows", e, new Layout(0, segLen, 0), eTok, new Layout(0, chunk, 0), 1, segments, chunk, dModel, false);
        } else {
            g.task(name + ".norm", RmsNorm.FORWARD, x, w("norm.weight"), e, rstdE, rows, dModel, EncoderLayer.EPS);
            g.task(name + ".mean", SegmentRows.MEAN, e, pooled, segments, chunk, dModel);
        }
        Linear.forward(g, name + ".lmk_ln", device, pooled, w("lmk_ln.weight"), null, landmarks, segments, dModel, retrievalDim);
        Linear.forward(g, name + ".proj_k", device, eTok, w("proj_k.weight"), null, kRaw, tokRows, dModel, kvWidth);
        if (qkNorm) g.task(name + ".k_rmsnorm", RmsNorm.FORWARD, kRaw, w("k_rmsnorm.weight"), memK, rstdK, tokRows * kvHeads, headDim, EncoderLayer.EPS);
        Linear.forward(g, name + ".proj_v", device, eTok, w("proj_v.weight"), null, memV, tokRows, dModel, kvWidth);
    }

    @Override
    public void backward(TaskGraph g) {
        int rows = segments * segLen, tokRows = segments * chunk;
        // the three heads of the memory, down to dE (token rows) and dPooled
        if (qkNorm) {
            g.task(name + ".k_rmsnorm.dx", RmsNorm.BACKWARD_DX, dMemK, kRaw, w("k_rmsnorm.weight"), rstdK, dKRaw, tokRows * kvHeads, headDim);
            RmsNorm.weightGradient(g, name + ".k_rmsnorm.dw", dMemK, kRaw, rstdK, partials, gw("k_rmsnorm.weight"), tokRows * kvHeads, headDim, true);
        }
        EncoderLayer.inputGrad(g, name + ".proj_v.dx", device, dMemV, w("proj_v.weight"), dETok, tokRows, dModel, kvWidth, false);
        Linear.backward(g, name + ".proj_v", device, eTok, w("proj_v.weight"), dMemV, null, gw("proj_v.weight"), null, tokRows, dModel, kvWidth);
        Linear.backward(g, name + ".proj_k", device, eTok, w("proj_k.weight"), dKRaw, dETok, gw("proj_k.weight"), null, tokRows, dModel, kvWidth);
        EncoderLayer.inputGrad(g, name + ".lmk_ln.dx", device, dLandmarks, w("lmk_ln.weight"), dPooled, segments, dModel, retrievalDim, false);
        Linear.backward(g, name + ".lmk_ln", device, pooled, w("lmk_ln.weight"), dLandmarks, null, gw("lmk_ln.weight"), null, segments, dModel, retrievalDim);

        if (encoder) {
            // dE: token rows and CLS rows, each row written once
            SegmentRows.copy(g, name + ".tokenRows.bwd", dETok, new Layout(0, chunk, 0), dE, new Layout(0, segLen, 0), 1, segments, chunk, dModel, false);
            SegmentRows.copy(g, name + ".clsRows.bwd", dPooled, new Layout(0, 1, 0), dE, new Layout(0, segLen, chunk), 1, segments, 1, dModel, false);
            Tensor last = xs.getLast(), dLast = dxs.getLast();
            g.task(name + ".encoder.norm.dx", RmsNorm.BACKWARD_DX, dE, last, w("encoder.norm.weight"), rstdE, dLast, rows, dModel);
            RmsNorm.weightGradient(g, name + ".encoder.norm.dw", dE, last, rstdE, partials, gw("encoder.norm.weight"), rows, dModel, true);
            for (int j = layers.size() - 1; j >= 0; j--) {
                g.task(name + ".encoder.layers." + j + ".dIn.zero", Fill.FILL, dxs.get(j), rows * dModel, 0f);
                layers.get(j).backward(g);
            }
            if (prenorm) {
                g.task(name + ".enc_prenorm.dx", RmsNorm.BACKWARD_DX, dxs.get(0), x, w("enc_prenorm.weight"), rstdPre, dX, rows, dModel);
                RmsNorm.weightGradient(g, name + ".enc_prenorm.dw", dxs.get(0), x, rstdPre, partials, gw("enc_prenorm.weight"), rows, dModel, true);
            }
            // cls_emb is every segment's row S: its gradient is the sum of those rows
            SegmentRows.copy(g, name + ".cls.bwd", dX, new Layout(0, segLen, chunk), dClsRows, new Layout(0, 1, 0), 1, segments, 1, dModel, false);
            g.task(name + ".cls.sum", Reduce.COLUMN_SUM, dClsRows, gw("cls_emb"), segments, dModel, 1);
        } else {
            g.task(name + ".mean.bwd", SegmentRows.MEAN_BACKWARD, dPooled, dE, segments, chunk, dModel);
            g.task(name + ".norm.dx", RmsNorm.BACKWARD_DX, dE, x, w("norm.weight"), rstdE, dX, rows, dModel);
            RmsNorm.weightGradient(g, name + ".norm.dw", dE, x, rstdE, partials, gw("norm.weight"), rows, dModel, true);
        }
        SegmentRows.copy(g, name + ".scatter", dX, segmentLayout(), dh, streamLayout(), batch, chunks, chunk, dModel, true);
    }
}
