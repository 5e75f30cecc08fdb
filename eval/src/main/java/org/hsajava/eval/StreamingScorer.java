package org.hsajava.eval;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.hsajava.compute.Device;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.stream.StreamingPass;

/**
 * A {@link SequenceScorer} for long contexts: each sequence runs through a {@link StreamingPass}
 * (lower layers block by block into a device-resident chunk memory, the upper layers only where
 * scored rows are; docs/streaming.md), so device memory is one window of activations plus the chunk
 * memory, whatever the length. Sequences run one at a time; the pass is rebuilt when a sequence
 * needs more memory than the current one holds, and kept for shorter ones.
 *
 * <p>As a {@link ChunkSelectionProbe} it reports the first retrieval layer's choice at the scored
 * rows of the last call (the memory covers the whole sequence, so the needle figures of an
 * evaluation are measured at every length, not only where the full pass runs).
 *
 * <p>Plugging it in: an evaluation asks a scorer for the logits rows that predict answer tokens;
 * pick this one above a length threshold (the full forward pass is faster while a whole batch of
 * sequences fits on the device) and hand it the same {@code tokens} and {@code rows}.
 */
public final class StreamingScorer implements SequenceScorer, ChunkSelectionProbe {
    private final ModelConfig config;
    private final ModelParameters params;
    private final Device device;
    private final int block;
    private StreamingPass pass;
    private long peak;
    // the first retrieval layer's choice at every scored row of the last logits call: [sequence] row -> selection
    private List<Map<Integer, StreamingPass.Selection>> selections = List.of();

    /** With {@link StreamingPass#defaultBlock}. */
    public StreamingScorer(ModelConfig config, ModelParameters params, Device device) {
        this(config, params, device, StreamingPass.defaultBlock(config));
    }

    /** @param block new tokens per streaming block (a multiple of chunk_size) */
    public StreamingScorer(ModelConfig config, ModelParameters params, Device device, int block) {
        this.config = config;
        this.params = params;
        this.device = device;
        this.block = block;
        new StreamingPass(config, params, device, block, block).close();   // checks the model and the block now, not at the first sequence
    }

    @Override
    public int maxBatch() { return 1; }

    @Override
    public float[][][] logits(int[][] tokens, int[][] rows) {
        if (tokens.length != rows.length) throw new IllegalArgumentException(tokens.length + " sequences but " + rows.length + " row lists");
        float[][][] out = new float[tokens.length][][];
        List<Map<Integer, StreamingPass.Selection>> chosen = new ArrayList<>();
        for (int b = 0; b < tokens.length; b++) {
            Map<Integer, StreamingPass.Selection> mine = new HashMap<>();
            chosen.add(mine);
            int last = -1;
            for (int r : rows[b]) last = Math.max(last, r);
            if (last < 0) {
                out[b] = new float[0][];
                continue;
            }
            if (pass == null || pass.capacityTokens() <= last) {
                if (pass != null) {
                    peak = Math.max(peak, pass.peakDeviceBytes());
                    pass.close();
                    pass = null;
                }
                pass = new StreamingPass(config, params, device, last + 1, block);
            }
            out[b] = pass.logits(tokens[b], rows[b]);
            for (int i = 0; i < rows[b].length; i++) if (pass.selection(i) != null) mine.put(rows[b][i], pass.selection(i));
        }
        selections = chosen;
        return out;
    }

    @Override
    public boolean hasRetrieval() { return config.hasHsa(); }

    @Override
    public int chunkSize() { return config.hsa().chunkSize(); }

    @Override
    public int receptiveField() { return ChunkSelectionProbe.receptiveField(config); }

    /** Only at the rows the last {@link #logits} call scored (those are the rows a needle probe asks about). */
    @Override
    public int[] selectedChunks(int sequence, int row) { return scored(sequence, row).chunks(); }

    @Override
    public float[] selectedWeights(int sequence, int row) { return scored(sequence, row).weights(); }

    private StreamingPass.Selection scored(int sequence, int row) {
        StreamingPass.Selection s = sequence < selections.size() ? selections.get(sequence).get(row) : null;
        if (s == null) throw new IllegalArgumentException("row " + row + " of sequence " + sequence + " was not scored in the last call (only scored rows keep their selection)");
        return s;
    }

    @Override
    public long peakDeviceBytes() { return Math.max(peak, pass == null ? 0 : pass.peakDeviceBytes()); }

    @Override
    public void close() {
        if (pass != null) {
            peak = Math.max(peak, pass.peakDeviceBytes());
            pass.close();
            pass = null;
        }
    }
}
