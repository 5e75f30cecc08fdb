package org.hsajava.model.stream;

import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.RmsNorm;
import org.hsajava.kernels.SegmentRows;
import org.hsajava.kernels.SegmentRows.Layout;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.layers.EncoderLayer;

/**
 * The chunk memory of one long sequence, on the device and pre-sized for {@code capacity} chunks:
 * <pre>
 *   keys, values  [capacity·S, Hk, hd]    row c·S + j = token j of chunk c (the ChunkingLayer's mem_k / mem_v)
 *   landmarks     [capacity, Hk, dr]      (lmk_ln of the chunk's CLS encoding)
 * </pre>
 * It grows by appending the chunks that a {@link org.hsajava.model.layers.ChunkingLayer} has just
 * encoded ({@link #addAppendTasks}); where they go is read at each execution from
 * {@link #setAppendPosition}, so one task graph appends block after block. Chunks not yet appended
 * are never read: a token at position t retrieves only chunks with {@code (c+1)·S ≤ t}, all of which
 * were appended before it ran.
 *
 * <p>With {@code enable_lmk_norm} each group's retrieval compares against its own per-head
 * RMS-normed landmarks ({@code lmk_k_norm}); the memory then also keeps one normed copy per group,
 * normed once when the chunk arrives instead of over the whole memory at every retrieval.
 */
public final class ChunkMemory {
    private final int capacity, chunk, kvWidth, retrievalDim, kvHeads, headDimR;
    private final Tensor keys, values, landmarks;
    private final List<Tensor> groupLandmarks = new ArrayList<>();
    private final List<Tensor> groupNormWeights = new ArrayList<>();
    private final Scalar keyRow = Scalar.of("memory.keyRow", 0), landmarkRow = Scalar.of("memory.landmarkRow", 0);

    /** @param retrievalLayers the index in {@code backbone.layers} of each group's retrieval layer */
    public ChunkMemory(ModelConfig config, ModelParameters params, int capacity, int[] retrievalLayers) {
        HsaConfig hsa = config.hsa();
        if (hsa == null) throw new IllegalArgumentException("a chunk memory needs the HSA settings (attention_kind hsa)");
        if (capacity < 1) throw new IllegalArgumentException("memory capacity must be at least one chunk, got " + capacity);
        this.capacity = capacity;
        this.chunk = hsa.chunkSize();
        this.kvHeads = hsa.numKvHeads();
        this.kvWidth = kvHeads * config.headDim();
        this.retrievalDim = hsa.retrievalDim();
        this.headDimR = hsa.retrievalHeadDim();
        long rows = (long) capacity * chunk;
        if (rows * kvWidth > Integer.MAX_VALUE - 8) {
            throw new IllegalArgumentException("a memory of " + capacity + " chunks (" + rows + " tokens x " + kvWidth
                    + " values per token) exceeds the 2^31-element limit of one device buffer");
        }
        this.keys = Tensor.f32("memory.keys", capacity * chunk, kvHeads, config.headDim());
        this.values = Tensor.f32("memory.values", capacity * chunk, kvHeads, config.headDim());
        this.landmarks = Tensor.f32("memory.landmarks", capacity, kvHeads, headDimR);
        for (int g = 0; g < retrievalLayers.length; g++) {
            if (hsa.lmkNorm()) {
                groupLandmarks.add(Tensor.f32("memory.landmarks.group" + g, capacity, kvHeads, headDimR));
                groupNormWeights.add(params.param("backbone.layers." + retrievalLayers[g] + ".lmk_k_norm.weight"));
            } else {
                groupLandmarks.add(landmarks);
            }
        }
    }

    /** Chunks the memory has room for. */
    public int capacity() { return capacity; }

    public Tensor keys() { return keys; }

    public Tensor values() { return values; }

    /** The landmarks group {@code g}'s retrieval scores against (normed for it with enable_lmk_norm). */
    public Tensor landmarksFor(int group) { return groupLandmarks.get(group); }

    /** Device bytes of the memory: keys, values and landmarks (and the per-group normed landmarks). */
    public long bytes() {
        long b = keys.bytes() + values.bytes() + landmarks.bytes();
        for (Tensor t : groupLandmarks) if (t != landmarks) b += t.bytes();
        return b;
    }

    /** Where the next {@link #addAppendTasks} execution writes: its first chunk becomes chunk {@code firstChunk}. */
    public void setAppendPosition(int firstChunk) {
        if (firstChunk < 0) throw new IllegalArgumentException("chunk index must be >= 0, got " + firstChunk);
        keyRow.set((double) firstChunk * chunk);
        landmarkRow.set(firstChunk);
    }

    /**
     * Appends tasks that copy {@code chunks} encoded chunks into the memory at the append position.
     * The last of them must fit: the caller keeps {@code firstChunk + chunks <= capacity} (checked
     * at every launch).
     *
     * @param blockKeys      {@code [chunks·S, Hk, hd]} the chunking layer's mem_k
     * @param blockValues    the same for mem_v
     * @param blockLandmarks {@code [chunks, R]}
     */
    public void addAppendTasks(TaskGraph g, String name, Tensor blockKeys, Tensor blockValues, Tensor blockLandmarks, int chunks) {
        int tokens = chunks * chunk;
        copyRows(g, name + ".keys", blockKeys, keys, tokens, kvWidth, keyRow);
        copyRows(g, name + ".values", blockValues, values, tokens, kvWidth, keyRow);
        copyRows(g, name + ".landmarks", blockLandmarks, landmarks, chunks, retrievalDim, landmarkRow);
        for (int group = 0; group < groupNormWeights.size(); group++) {
            Tensor normed = Tensor.f32(name + ".normedLandmarks" + group, chunks, retrievalDim);
            Tensor rstd = Tensor.f32(name + ".normedLandmarks" + group + ".rstd", chunks * kvHeads);
            g.task(name + ".lmkKNorm" + group, RmsNorm.FORWARD, blockLandmarks, groupNormWeights.get(group), normed, rstd, chunks * kvHeads, headDimR, EncoderLayer.EPS);
            copyRows(g, name + ".landmarks" + group, normed, groupLandmarks.get(group), chunks, retrievalDim, landmarkRow);
        }
    }

    private static void copyRows(TaskGraph g, String task, Tensor src, Tensor dst, int rows, int cols, Scalar dstRow) {
        g.task(task, SegmentRows.COPY_ROWS, src, dst, 1, 1, rows, cols, 0, 0, 0, 0, 0, dstRow, 0);
    }
}
