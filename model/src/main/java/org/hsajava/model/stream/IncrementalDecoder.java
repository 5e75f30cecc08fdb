package org.hsajava.model.stream;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ExecutionPlan;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Embedding;
import org.hsajava.kernels.SegmentRows;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.layers.ChunkingLayer;
import org.hsajava.model.layers.LayerContext;
import org.hsajava.model.layers.Linear;
import org.hsajava.model.layers.RmsNormBlock;
import org.hsajava.model.layers.ScratchPool;

/**
 * Decoding one token at a time (docs/streaming.md). Each {@link #step} feeds the token at the next
 * position p through the model and returns the logits that predict the token at p + 1:
 * <pre>
 * "step"    embed → lower SWA layers with ring-buffer KV caches ({@link RingSwaLayer})
 *           → the lower output joins the chunk being filled (row p mod S)
 *           → per group: retrieval over the memory at position p, HSA, upper ring-buffer SWA layers
 *           → norm_f → lm_head: V logits come back
 * "encode"  after the step that completes a chunk ((p+1) mod S = 0): the chunk encoder over its S
 *           rows, appended to the {@link ChunkMemory} as chunk p / S
 * </pre>
 * The memory thus grows by one chunk every S tokens, and a token at p retrieves among the chunks
 * wholly in its past, as in the full forward pass. Device memory: the parameters, the caches
 * ({@code (W+1)·Hs·hd} keys and values per SWA layer), one chunk of encoder activations, and the
 * memory pre-sized for {@code capacityTokens}.
 */
public final class IncrementalDecoder implements AutoCloseable {
    /** Most top-K slices per retrieval: one query row, so many slices keep a GPU busy. */
    static final int MAX_SPLITS = 1024;

    private final ModelConfig config;
    private final int capacityTokens, chunk, ringSize, vocab;
    private final Scalar position = Scalar.of("decode.position", 0), ringSlot = Scalar.of("decode.ringSlot", 0),
            ringCount = Scalar.of("decode.ringCount", 1), chunkRow = Scalar.of("decode.chunkRow", 0);
    private final Tensor id, logits;
    private final ChunkMemory memory;
    private final ExecutionPlan exec;
    private int next;

    /** @param capacityTokens most tokens (prompt and generated) this decoder can take */
    public IncrementalDecoder(ModelConfig config, ModelParameters params, Device device, int capacityTokens) {
        LayerPlan plan = LayerPlan.of(config);
        if (capacityTokens < 1) throw new IllegalArgumentException("capacity must be at least 1 token, got " + capacityTokens);
        this.config = config;
        this.chunk = plan.hasMemory() ? config.hsa().chunkSize() : 1;
        this.capacityTokens = Math.toIntExact(Math.ceilDiv((long) capacityTokens, chunk) * chunk);
        this.ringSize = (int) Math.min((long) config.slidingWindow() + 1, this.capacityTokens);
        this.vocab = config.vocabSize();
        int d = config.hiddenSize();
        LayerContext one = new LayerContext(config, params, device, 1, 1, position);
        ScratchPool scratch = new ScratchPool("decode.scratch");

        id = Tensor.i32("decode.id", 1);
        Tensor h = Tensor.f32("decode.h0", 1, d);
        TaskGraph step = new TaskGraph("step").transferToDevice(DataTransferMode.EVERY_EXECUTION, id)
                .task("embed", Embedding.FORWARD, id, params.param(ParameterLayout.EMBEDDINGS), h, 1, d, vocab);
        for (int i = 0; i < plan.lower(); i++) {
            Tensor out = Tensor.f32("decode.h" + (i + 1), 1, d);
            new RingSwaLayer(one, scratch, i, h, out, ringSize, ringSlot, ringCount).forward(step);
            h = out;
        }
        TaskGraph encode = new TaskGraph("encode");
        if (plan.hasMemory()) {
            memory = new ChunkMemory(config, params, this.capacityTokens / chunk, plan.retrievalIndices());
            Tensor pending = Tensor.f32("decode.chunk", chunk, d);
            step.task("toChunk", SegmentRows.COPY_ROWS, h, pending, 1, 1, 1, d, 0, 0, 0, 0, 0, chunkRow, 0);
            int kvWidth = config.hsa().numKvHeads() * config.headDim(), r = config.hsa().retrievalDim();
            Tensor bk = Tensor.f32("decode.chunkKeys", chunk, kvWidth), bv = Tensor.f32("decode.chunkValues", chunk, kvWidth);
            Tensor bl = Tensor.f32("decode.chunkLandmark", 1, r);
            new ChunkingLayer(new LayerContext(config, params, device, 1, chunk), pending, NoGrad.of("dChunk", chunk, d), bk, bv, bl,
                    NoGrad.of("dbk", chunk, kvWidth), NoGrad.of("dbv", chunk, kvWidth), NoGrad.of("dbl", 1, r)).forward(encode);
            memory.addAppendTasks(encode, "append", bk, bv, bl, 1);
        } else {
            memory = null;
        }
        for (int g = 0; g < plan.groups(); g++) {
            MemoryRetrieval retrieval = new MemoryRetrieval(one, plan.retrievalIndex(g), h, memory, memory.landmarksFor(g), MAX_SPLITS);
            Tensor out = Tensor.f32("decode.hsa" + g, 1, d);
            MemoryHsa hsa = new MemoryHsa(one, plan.hsaIndex(g), h, out, memory, retrieval);
            retrieval.forward(step);
            hsa.forward(step);
            h = out;
            for (int m = 0; m < plan.perGroup(); m++) {
                int index = plan.upperSwaIndex(g, m);
                Tensor o = Tensor.f32("decode.h" + index, 1, d);
                new RingSwaLayer(one, scratch, index, h, o, ringSize, ringSlot, ringCount).forward(step);
                h = o;
            }
        }
        Tensor normed = Tensor.f32("decode.normed", 1, d);
        logits = Tensor.f32("decode.logits", 1, vocab);
        new RmsNormBlock(one, scratch, "head.norm_f", "backbone.norm_f.weight", config.layerNormEpsilon(), 1, d, h, normed).forward(step);
        Linear.forward(step, "head.lm_head", device, normed, params.param(ParameterLayout.LM_HEAD), null, logits, 1, d, vocab);
        step.transferToHost(DataTransferMode.EVERY_EXECUTION, logits);

        List<ImmutableTaskGraph> graphs = new ArrayList<>(List.of(
                new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, params.all()).snapshot(), step.snapshot()));
        if (memory != null) graphs.add(encode.snapshot());
        exec = new ExecutionPlan(graphs.toArray(ImmutableTaskGraph[]::new)).withDevice(device);
        exec.execute("params");
    }

    /** Position of the next token {@link #step} takes (= tokens taken so far). */
    public int position() { return next; }

    /** Most tokens this decoder can take (the requested capacity rounded up to whole chunks). */
    public int capacityTokens() { return capacityTokens; }

    /**
     * Feeds {@code token} at position {@link #position()} and returns the logits (V floats) that
     * predict the next token. A negative id is replaced by pad_token_id, as the model does.
     */
    public float[] step(int token) {
        if (next >= capacityTokens) throw new IllegalStateException("the decoder is full: it was built for " + capacityTokens + " tokens");
        if (token >= vocab) throw new IllegalArgumentException("token id " + token + " at position " + next + " is outside the vocabulary of " + vocab);
        int p = next;
        id.i32()[id.rootOffset()] = token < 0 ? config.padTokenId() : token;
        position.set(p);
        ringSlot.set(p % ringSize);
        ringCount.set(Math.min(p + 1, ringSize));
        chunkRow.set(p % chunk);
        exec.execute("step");
        float[] out = logits.toF32Array();
        if (memory != null && (p + 1) % chunk == 0) {
            memory.setAppendPosition(p / chunk);
            exec.execute("encode");
        }
        next++;
        return out;
    }

    /** Device bytes held: parameters, caches, activations of one token and one chunk, the memory. */
    public long deviceBytes() { return exec.deviceBytes(); }

    /** Device bytes of the chunk memory (0 without one). */
    public long memoryBytes() { return memory == null ? 0 : memory.bytes(); }

    @Override
    public void close() { exec.close(); }
}
