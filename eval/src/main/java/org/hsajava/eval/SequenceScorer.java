package org.hsajava.eval;

/**
 * What an evaluation needs from a model: the logits that predict chosen tokens of whole sequences.
 * Row {@code r} of a sequence is the model's output at position {@code r}, which predicts token
 * {@code r + 1}. Implementations: a full forward pass over the whole sequence (short contexts,
 * batched) and a streaming pass (chunk memory built chunk by chunk; long contexts).
 */
public interface SequenceScorer extends AutoCloseable {
    /** Sequences one {@link #logits} call takes at most. */
    int maxBatch();

    /**
     * The logits rows {@code rows[b]} of each sequence {@code tokens[b]} (all sequences of one call
     * have the same length): {@code result[b][i]} is the vocabulary-sized logits row at position
     * {@code rows[b][i]}.
     */
    float[][][] logits(int[][] tokens, int[][] rows);

    /** The largest number of bytes this scorer has held on its device so far (parameters, activations, memory). */
    long peakDeviceBytes();

    @Override
    void close();
}
