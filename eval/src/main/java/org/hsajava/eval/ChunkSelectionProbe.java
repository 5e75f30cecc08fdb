package org.hsajava.eval;

import org.hsajava.model.config.ModelConfig;

/**
 * An optional extra of a {@link SequenceScorer} whose model retrieves chunks: which chunks the first
 * retrieval layer selected in the last {@link SequenceScorer#logits} call, and with what weights. It
 * tells a retrieval failure (no chunk carrying the needle was selected) from a weighting failure (selected,
 * but with a weight near 0, so the HSA layer reads almost nothing of it) from a copy failure.
 */
public interface ChunkSelectionProbe {
    /** The probe of {@code scorer}, or null when it has none or its model does not retrieve. */
    static ChunkSelectionProbe of(SequenceScorer scorer) {
        return scorer instanceof ChunkSelectionProbe p && p.hasRetrieval() ? p : null;
    }

    /** False when the model has no retrieval layer (then there is nothing to probe). */
    boolean hasRetrieval();

    /** Tokens per chunk. */
    int chunkSize();

    /**
     * How many tokens before a position the lower stack's output there depends on (lower SWA layers ×
     * window): the chunk memory is built from those outputs, so a chunk carries the tokens up to this
     * far before it as well as its own.
     */
    int receptiveField();

    /** {@link #receptiveField} of a model: its lower SWA layers × sliding_window. */
    static int receptiveField(ModelConfig config) {
        return (int) Math.min(Integer.MAX_VALUE, (long) config.numLowerLayers() * config.slidingWindow());
    }

    /**
     * The chunks that KV head 0 of the first retrieval layer selected at position {@code row} of
     * sequence {@code sequence} in the last call: only the slots that can hold a chunk wholly in the
     * past of that position (at most {@code row / chunkSize} of them).
     */
    int[] selectedChunks(int sequence, int row);

    /** The weights of the chunks {@link #selectedChunks} returns for the same arguments, slot by slot. */
    float[] selectedWeights(int sequence, int row);
}
