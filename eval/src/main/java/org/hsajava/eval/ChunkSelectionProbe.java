package org.hsajava.eval;

/**
 * An optional extra of a {@link SequenceScorer} whose model retrieves chunks: which chunks the first
 * retrieval layer selected in the last {@link SequenceScorer#logits} call. It tells a retrieval
 * failure (the needle's chunk was not selected) from a copy failure (it was, the answer is still wrong).
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
     * The chunks that KV head 0 of the first retrieval layer selected at position {@code row} of
     * sequence {@code sequence} in the last call: only the slots that can hold a chunk wholly in the
     * past of that position (at most {@code row / chunkSize} of them).
     */
    int[] selectedChunks(int sequence, int row);
}
