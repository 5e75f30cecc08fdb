package org.hsajava.model;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Fill;
import org.hsajava.kernels.GemmBf16Cast;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.layers.ChunkingLayer;
import org.hsajava.model.layers.EmbeddingLayer;
import org.hsajava.model.layers.HsaLayer;
import org.hsajava.model.layers.Layer;
import org.hsajava.model.layers.LayerContext;
import org.hsajava.model.layers.OutputHead;
import org.hsajava.model.layers.RetrievalLayer;
import org.hsajava.model.layers.ScratchPool;
import org.hsajava.model.layers.SwaDecoderLayer;

/**
 * The SWA+HSA language model (the authors' {@code DRTForCausalLM}, docs/authors-model.md §3.0),
 * built for one (batch, length) on one device:
 * <pre>
 * embed → N_low × SWA layer → chunk memory (encoder with CLS) →
 *   N_groups × [retrieval; HSA layer with bypassing residual; M × SWA layer] → norm_f → lm_head → cross-entropy
 * </pre>
 * The baselines ({@code swa_only}, {@code full_causal}) are the same without the memory and the
 * groups. Every activation, and its gradient, is allocated here once; the forward order is the
 * module order of the authors' {@code ModuleList}, the backward runs it in reverse.
 */
public final class DrtModel implements TrainableModel {
    private final LayerContext ctx;
    private final Tensor ids;
    private final Tensor targets;
    private final Tensor rowLosses;
    private final Scalar lossScale = Scalar.of("lossScale", 1);
    private final EmbeddingLayer embedding;
    private final List<Layer> layers = new ArrayList<>();
    private final OutputHead head;
    private final List<Tensor> activationGrads = new ArrayList<>();
    private final ImmutableTaskGraph train;
    private final ImmutableTaskGraph eval;

    /** Builds the model's layers and graphs; parameters stay as they are in {@code params}. */
    public DrtModel(ModelConfig config, ModelParameters params, Device device, int batch, int length) {
        // Mixed precision on Hopper: the GEMMs read bf16 copies of the weights (refreshed at the start of
        // every forward pass, below) and of the norms' and activations' outputs.
        this.ctx = new LayerContext(config, params, device, batch, length, null, GemmBf16Cast.available(device));
        int rows = ctx.rows(), d = config.hiddenSize();
        ScratchPool scratch = new ScratchPool("scratch");
        ids = Tensor.i32("input_ids", rows);
        targets = Tensor.i32("targets", rows);
        rowLosses = Tensor.f32("row_losses", rows);

        Tensor h = hidden("h0", rows, d), dh = grad("dh0", rows, d);
        embedding = new EmbeddingLayer(ctx, ids, h, dh);
        int index = 0;
        HsaConfig hsa = config.hsa();
        int lower = config.hasHsa() ? config.numLowerLayers() : config.numSwaLayers();
        for (int i = 0; i < lower; i++, index++) {
            Tensor out = hidden("h" + (index + 1), rows, d), dOut = grad("dh" + (index + 1), rows, d);
            layers.add(new SwaDecoderLayer(ctx, scratch, index, h, out, dh, dOut));
            h = out;
            dh = dOut;
        }
        if (hsa != null) {
            int chunks = length / hsa.chunkSize(), hd = config.headDim();
            int memRows = chunks * hsa.chunkSize();
            Tensor memK = Tensor.f32("mem_k", batch, memRows, hsa.numKvHeads(), hd), memV = Tensor.f32("mem_v", batch, memRows, hsa.numKvHeads(), hd);
            Tensor landmarks = Tensor.f32("landmarks", batch, chunks, hsa.retrievalDim());
            Tensor dMemK = grad("d_mem_k", batch, memRows, hsa.numKvHeads(), hd), dMemV = grad("d_mem_v", batch, memRows, hsa.numKvHeads(), hd);
            Tensor dLandmarks = grad("d_landmarks", batch, chunks, hsa.retrievalDim());
            layers.add(new ChunkingLayer(ctx, h, dh, memK, memV, landmarks, dMemK, dMemV, dLandmarks));
            index++;
            for (int g = 0; g < hsa.numUpperGroups(); g++) {
                RetrievalLayer retrieval = new RetrievalLayer(ctx, index++, h, dh, landmarks, dLandmarks);
                layers.add(retrieval);
                Tensor out = hidden("h" + index, rows, d), dOut = grad("dh" + index, rows, d);
                layers.add(new HsaLayer(ctx, index++, h, dh, out, dOut, memK, memV, dMemK, dMemV, retrieval.selection()));
                h = out;
                dh = dOut;
                for (int m = 0; m < hsa.swaLayersPerGroup(); m++, index++) {
                    Tensor o = hidden("h" + (index + 1), rows, d), dO = grad("dh" + (index + 1), rows, d);
                    layers.add(new SwaDecoderLayer(ctx, scratch, index, h, o, dh, dO));
                    h = o;
                    dh = dO;
                }
            }
        }
        head = new OutputHead(ctx, scratch, h, dh, targets, rowLosses, lossScale);
        train = trainGraph();
        eval = evalGraph();
    }

    private TaskGraph forward(String graphName) {
        TaskGraph g = new TaskGraph(graphName).transferToDevice(DataTransferMode.EVERY_EXECUTION, ids, targets);
        ctx.params().appendBf16Refresh(g);
        embedding.forward(g);
        for (Layer l : layers) l.forward(g);
        return g;
    }

    private ImmutableTaskGraph trainGraph() {
        TaskGraph g = forward("train");
        head.forward(g);
        for (Tensor t : activationGrads) g.task("zero." + t.name(), Fill.FILL, t, t.size(), 0f);
        head.backward(g);
        for (int i = layers.size() - 1; i >= 0; i--) layers.get(i).backward(g);
        embedding.backward(g);
        return g.transferToHost(DataTransferMode.EVERY_EXECUTION, rowLosses).snapshot();
    }

    private ImmutableTaskGraph evalGraph() {
        TaskGraph g = forward("eval");
        head.forwardLoss(g);
        return g.transferToHost(DataTransferMode.EVERY_EXECUTION, rowLosses).snapshot();
    }

    private static Tensor hidden(String name, int... shape) { return Tensor.f32(name, shape); }

    private Tensor grad(String name, int... shape) {
        Tensor t = Tensor.f32(name, shape);
        activationGrads.add(t);
        return t;
    }

    /** The logits of the last {@link #evalStep()} execution, [batch × length, vocab] (download them first). */
    public Tensor logits() { return head.logits(); }

    /** Layers in forward order (the embedding and the output head excluded). */
    public List<Layer> layers() { return List.copyOf(layers); }

    @Override public ModelParameters parameters() { return ctx.params(); }
    @Override public Device device() { return ctx.device(); }
    @Override public int batch() { return ctx.batch(); }
    @Override public int length() { return ctx.length(); }
    @Override public Tensor inputIds() { return ids; }
    @Override public Tensor targets() { return targets; }
    @Override public Tensor rowLosses() { return rowLosses; }
    @Override public Scalar lossScale() { return lossScale; }
    @Override public void prepareInputs() { embedding.indexIds(); }
    @Override public ImmutableTaskGraph trainStep() { return train; }
    @Override public ImmutableTaskGraph evalStep() { return eval; }

    @Override
    public void close() {}
}
