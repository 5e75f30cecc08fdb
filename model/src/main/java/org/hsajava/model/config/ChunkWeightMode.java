package org.hsajava.model.config;

/**
 * How the top-K retrieval scores become chunk weights. The authors' switch is
 * {@code enable_softmax}: false (their default) means stick-breaking.
 */
public enum ChunkWeightMode {
    /** Softmax over the K slots: weights sum to 1. */
    SOFTMAX,
    /** {@code w_k = σ(s_k) Π_{j<k}(1-σ(s_j))} in recency order: weights may sum to less than 1. */
    STICK_BREAKING
}
