package org.hsajava.model.stream;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Set;
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
import org.hsajava.model.layers.SwaDecoderLayer;

/**
 * The model's logits at chosen positions of one long sequence, computed block by block with
 * activation memory that does not grow with the sequence (docs/streaming.md). The sequence is cut
 * into blocks of {@code block} new tokens; each runs as a window of {@code context + block} tokens,
 * {@code context = (lower SWA layers + upper SWA layers)·W} being the receptive field:
 * <pre>
 * block k: new tokens [a, a+block), a = k·block; window [s, s + context + block), s = max(0, a − context)
 *   "lower"  embed the window → lower SWA layers (RoPE at absolute positions s..)
 *            → the new rows → chunk encoder → append their chunks to the device-resident {@link ChunkMemory}
 *   "upper"  (only when the block holds scored positions) retrieval + HSA over the whole memory,
 *            and the upper SWA layers, over the same window
 *   "head"   gather the scored rows → norm_f → lm_head; only those logits come back to the host
 * </pre>
 * The lower output is exact from {@code s + lower·W} on (or everywhere when s = 0), which covers
 * the upper stack's input from {@code a − upper·W}, so the upper output is exact on the new rows.
 * Overlap recompute (rather than per-layer KV caches) keeps every layer the training layer itself;
 * it costs {@code context/block} extra work. Tokens past the last scored position are never read
 * (the model is causal), so the pass stops at the block that holds it.
 *
 * <p>Device memory: the parameters, one window of activations (independent of the sequence length)
 * and the chunk memory, pre-sized for {@code capacityTokens}: {@link #memoryBytes()} grows with the
 * capacity, everything else in {@link #deviceBytes()} does not.
 */
public final class StreamingPass implements AutoCloseable {
    /** Most top-K slices per retrieval over the memory (see {@link MemoryRetrieval}). */
    static final int MAX_SPLITS = 64;
    /** Scored rows one head execution turns into logits. */
    static final int HEAD_ROWS = 64;

    private final ModelConfig config;
    private final LayerPlan plan;
    private final int block, context, window, capacityTokens, chunk, vocab;
    private final Scalar windowStart = Scalar.of("stream.windowStart", 0), freshOffset = Scalar.of("stream.freshOffset", 0);
    private final Tensor ids, rowIds, logits;
    private final ChunkMemory memory;
    private final ExecutionPlan exec;
    private final boolean hasUpper;
    private final MemoryRetrieval firstRetrieval;   // null without a memory: its choice is what selection() reports
    private final long plannedBytes;
    private long peakBytes;
    private Selection[] lastSelections = new Selection[0];

    /**
     * @param capacityTokens longest sequence prefix this pass can run (the memory is sized for it, rounded up to whole blocks)
     * @param block          new tokens per block, a positive multiple of chunk_size (of 1 without a memory)
     */
    public StreamingPass(ModelConfig config, ModelParameters params, Device device, int capacityTokens, int block) {
        this.config = config;
        this.plan = LayerPlan.of(config);
        this.chunk = plan.hasMemory() ? config.hsa().chunkSize() : 1;
        if (block < 1 || block % chunk != 0) throw new IllegalArgumentException("block must be a positive multiple of chunk_size " + chunk + ", got " + block);
        if (capacityTokens < 1) throw new IllegalArgumentException("capacity must be at least 1 token, got " + capacityTokens);
        long ctx = plan.lowerContext() + plan.upperContext();
        if (ctx + block > Integer.MAX_VALUE / 2) throw new IllegalArgumentException("window of " + ctx + " + " + block + " tokens is too large");
        this.block = block;
        this.context = (int) ctx;
        this.window = context + block;
        this.capacityTokens = Math.toIntExact(Math.ceilDiv((long) capacityTokens, block) * block);
        this.vocab = config.vocabSize();
        int d = config.hiddenSize();
        LayerContext wctx = new LayerContext(config, params, device, 1, window, windowStart);
        ScratchPool scratch = new ScratchPool("stream.scratch");

        // lower: embedding and the lower SWA layers over the window, then the new rows into the memory
        ids = Tensor.i32("stream.ids", window);
        Tensor h = Tensor.f32("stream.h0", window, d);
        TaskGraph lower = new TaskGraph("lower").transferToDevice(DataTransferMode.EVERY_EXECUTION, ids)
                .task("embed", Embedding.FORWARD, ids, params.param(ParameterLayout.EMBEDDINGS), h, window, d, vocab);
        for (int i = 0; i < plan.lower(); i++) {
            Tensor out = Tensor.f32("stream.h" + (i + 1), window, d);
            new SwaDecoderLayer(wctx, scratch, i, h, out, NoGrad.of("dh" + i, window, d), NoGrad.of("dh" + (i + 1), window, d)).forward(lower);
            h = out;
        }
        if (plan.hasMemory()) {
            memory = new ChunkMemory(config, params, this.capacityTokens / chunk, plan.retrievalIndices());
            Tensor fresh = Tensor.f32("stream.fresh", block, d);
            lower.task("fresh", SegmentRows.COPY_ROWS, h, fresh, 1, 1, block, d, 0, 0, freshOffset, 0, 0, 0, 0);
            int chunks = block / chunk, kvWidth = config.hsa().numKvHeads() * config.headDim();
            Tensor bk = Tensor.f32("stream.blockKeys", chunks * chunk, kvWidth), bv = Tensor.f32("stream.blockValues", chunks * chunk, kvWidth);
            Tensor bl = Tensor.f32("stream.blockLandmarks", chunks, config.hsa().retrievalDim());
            new ChunkingLayer(new LayerContext(config, params, device, 1, block), fresh, NoGrad.of("dFresh", block, d), bk, bv, bl,
                    NoGrad.of("dbk", chunks * chunk, kvWidth), NoGrad.of("dbv", chunks * chunk, kvWidth), NoGrad.of("dbl", chunks, config.hsa().retrievalDim()))
                    .forward(lower);
            memory.addAppendTasks(lower, "append", bk, bv, bl, chunks);
        } else {
            memory = null;
        }

        // upper: the groups over the same window
        TaskGraph upper = new TaskGraph("upper");
        hasUpper = plan.groups() > 0;
        MemoryRetrieval first = null;
        for (int g = 0; g < plan.groups(); g++) {
            MemoryRetrieval retrieval = new MemoryRetrieval(wctx, plan.retrievalIndex(g), h, memory, memory.landmarksFor(g), MAX_SPLITS);
            if (first == null) first = retrieval;
            Tensor out = Tensor.f32("stream.hsa" + g, window, d);
            MemoryHsa hsa = new MemoryHsa(wctx, plan.hsaIndex(g), h, out, memory, retrieval);
            retrieval.forward(upper);
            hsa.forward(upper);
            h = out;
            for (int m = 0; m < plan.perGroup(); m++) {
                int index = plan.upperSwaIndex(g, m);
                Tensor o = Tensor.f32("stream.h" + index, window, d);
                new SwaDecoderLayer(wctx, scratch, index, h, o, NoGrad.of("dh" + index, window, d), NoGrad.of("dOut" + index, window, d)).forward(upper);
                h = o;
            }
        }

        this.firstRetrieval = first;

        // head: the scored rows only
        rowIds = Tensor.i32("stream.rowIds", HEAD_ROWS);
        Tensor picked = Tensor.f32("stream.picked", HEAD_ROWS, d), normed = Tensor.f32("stream.normed", HEAD_ROWS, d);
        logits = Tensor.f32("stream.logits", HEAD_ROWS, vocab);
        LayerContext hctx = new LayerContext(config, params, device, 1, HEAD_ROWS);
        TaskGraph head = new TaskGraph("head").transferToDevice(DataTransferMode.EVERY_EXECUTION, rowIds)
                .task("gather", Embedding.FORWARD, rowIds, h, picked, HEAD_ROWS, d, window);
        new RmsNormBlock(hctx, scratch, "head.norm_f", "backbone.norm_f.weight", config.layerNormEpsilon(), HEAD_ROWS, d, picked, normed).forward(head);
        Linear.forward(head, "head.lm_head", device, normed, params.param(ParameterLayout.LM_HEAD), null, logits, HEAD_ROWS, d, vocab);

        TaskGraph up = new TaskGraph("params").transferToDevice(DataTransferMode.FIRST_EXECUTION, params.all());
        List<ImmutableTaskGraph> graphs = new ArrayList<>(List.of(up.snapshot(), lower.snapshot(), head.snapshot()));
        if (hasUpper) graphs.add(upper.snapshot());
        Set<Tensor> roots = Collections.newSetFromMap(new IdentityHashMap<>());
        for (ImmutableTaskGraph graph : graphs) roots.addAll(graph.tensors());
        this.plannedBytes = roots.stream().mapToLong(t -> Math.max(4, t.bytes())).sum();
        long available = device.info().globalMemBytes();
        if (device.info().isOpenCl() && available > 0 && plannedBytes > available) {
            throw new IllegalArgumentException(String.format(Locale.ROOT,
                    "streaming %d tokens needs %.2f GiB of device memory (chunk memory %.2f GiB, window of %d tokens), %s has %.2f GiB: use a shorter context or a smaller block",
                    this.capacityTokens, plannedBytes / 1073741824.0, memoryBytes() / 1073741824.0, window, device.name(), available / 1073741824.0));
        }
        this.exec = new ExecutionPlan(graphs.toArray(ImmutableTaskGraph[]::new)).withDevice(device);
    }

    /** Device bytes the pass will hold once every graph has run (computed from its tensors before any allocation). */
    public long plannedBytes() { return plannedBytes; }

    /**
     * A block of about four receptive fields (at least 1024 tokens), a multiple of the chunk: the
     * recompute overhead context/block stays near 25% while the window's activations stay a few
     * receptive fields long.
     */
    public static int defaultBlock(ModelConfig config) {
        LayerPlan plan = LayerPlan.of(config);
        long context = plan.lowerContext() + plan.upperContext();
        int chunk = plan.hasMemory() ? config.hsa().chunkSize() : 1;
        long block = Math.max(4 * context, 1024);
        return Math.toIntExact(Math.ceilDiv(block, chunk) * chunk);
    }

    /** New tokens per block. */
    public int block() { return block; }

    /** Tokens of context each block recomputes before its new ones: the receptive field (lower + upper SWA layers)·W. */
    public int context() { return context; }

    /** Tokens per window, context + block: what the activations are sized for. */
    public int window() { return window; }

    /** Longest prefix this pass can run: the requested capacity rounded up to whole blocks. */
    public int capacityTokens() { return capacityTokens; }

    /**
     * The logits at positions {@code rows} of {@code tokens} ({@code result[i]} is the
     * vocabulary-sized row at position {@code rows[i]}, which predicts token {@code rows[i] + 1}).
     * Negative ids are replaced by pad_token_id (as the model does); only the prefix up to the
     * last row is run, which must fit the capacity.
     */
    public float[][] logits(int[] tokens, int[] rows) {
        lastSelections = new Selection[rows.length];
        if (rows.length == 0) return new float[0][];
        int last = -1;
        for (int i = 0; i < rows.length; i++) {
            if (rows[i] < 0 || rows[i] >= tokens.length) {
                throw new IllegalArgumentException("row " + rows[i] + " (rows[" + i + "]) lies outside the sequence of " + tokens.length + " tokens");
            }
            last = Math.max(last, rows[i]);
        }
        if (last >= capacityTokens) {
            throw new IllegalArgumentException("position " + last + " is past this pass's capacity of " + capacityTokens + " tokens; build a pass with a larger capacity");
        }
        for (int p = 0; p <= last; p++) {
            if (tokens[p] >= vocab) throw new IllegalArgumentException("token id " + tokens[p] + " at position " + p + " is outside the vocabulary of " + vocab);
        }
        exec.execute("params");
        Integer[] order = new Integer[rows.length];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (x, y) -> Integer.compare(rows[x], rows[y]));
        float[][] out = new float[rows.length][];
        int next = 0;   // next scored row (in sorted order) still to compute
        int[] host = ids.i32();
        for (int a = 0; a <= last; a += block) {
            int s = Math.max(0, a - context);
            for (int i = 0; i < window; i++) {
                int p = s + i;
                int id = p <= last ? tokens[p] : config.padTokenId();
                host[i] = id < 0 ? config.padTokenId() : id;
            }
            windowStart.set(s);
            freshOffset.set(a - s);
            if (memory != null) memory.setAppendPosition(a / chunk);
            exec.execute("lower");
            int end = next;
            while (end < order.length && rows[order[end]] < a + block) end++;
            if (end > next) {
                if (hasUpper) {
                    exec.execute("upper");
                    recordSelections(rows, order, next, end, s);
                }
                for (int from = next; from < end; from += HEAD_ROWS) head(rows, order, from, Math.min(end, from + HEAD_ROWS), s, out);
                next = end;
            }
            peakBytes = Math.max(peakBytes, exec.deviceBytes());
        }
        return out;
    }

    /**
     * The chunks the first retrieval layer chose for KV head 0 at scored row {@code i} of the last
     * {@link #logits} call, most recent first, with their weights: only the slots that can hold a
     * chunk wholly in the past of the row (at most row / chunk_size of them, as the full pass's probe
     * reports). Null for a model without a chunk memory.
     */
    public Selection selection(int i) { return lastSelections[i]; }

    /** Chunk indices (of the whole sequence) and their weights, slot by slot. */
    public record Selection(int[] chunks, float[] weights) {}

    /** Copies the first retrieval layer's choice at the sorted scored rows [from, to) of the current window. */
    private void recordSelections(int[] rows, Integer[] order, int from, int to, int windowStart) {
        if (firstRetrieval == null) return;
        Tensor idx = firstRetrieval.indices(), w = firstRetrieval.weights();
        int heads = idx.dim(2), slots = firstRetrieval.slots(), perRow = heads * slots;
        // only the window rows from the first to the last scored one come back (rows are sorted by order)
        int lo = rows[order[from]] - windowStart, span = rows[order[to - 1]] - windowStart - lo + 1;
        exec.transferToHost(idx.view("stream.selectedIndices", lo * perRow, span * perRow));
        exec.transferToHost(w.view("stream.selectedWeights", lo * perRow, span * perRow));
        int[] hostIdx = idx.i32();
        float[] hostW = w.f32();
        for (int i = from; i < to; i++) {
            int row = rows[order[i]], at = (row - windowStart) * perRow, n = Math.min(slots, row / chunk);   // KV head 0
            lastSelections[order[i]] = new Selection(Arrays.copyOfRange(hostIdx, idx.rootOffset() + at, idx.rootOffset() + at + n),
                    Arrays.copyOfRange(hostW, w.rootOffset() + at, w.rootOffset() + at + n));
        }
    }

    /** Logits of the sorted scored rows [from, to) (all inside the current window) into {@code out}. */
    private void head(int[] rows, Integer[] order, int from, int to, int windowStart, float[][] out) {
        int[] r = rowIds.i32();
        Arrays.fill(r, 0);
        for (int i = from; i < to; i++) r[i - from] = rows[order[i]] - windowStart;
        exec.execute("head");
        exec.transferToHost(logits.view("stream.logitsUsed", 0, to - from, vocab));
        float[] l = logits.f32();
        for (int i = from; i < to; i++) out[order[i]] = Arrays.copyOfRange(l, (i - from) * vocab, (i - from + 1) * vocab);
    }

    /** Device bytes this pass holds now (parameters, one window of activations, the memory). */
    public long deviceBytes() { return exec.deviceBytes(); }

    /** The most {@link #deviceBytes()} seen after any block. */
    public long peakDeviceBytes() { return Math.max(peakBytes, exec.deviceBytes()); }

    /** Device bytes of the chunk memory (0 without one): the only part that grows with the capacity. */
    public long memoryBytes() { return memory == null ? 0 : memory.bytes(); }

    @Override
    public void close() { exec.close(); }
}
