package org.hsajava.model.config;

/** How a parameter tensor starts (docs/authors-model.md §2.6). */
public enum InitRule {
    /** N(0, initializer_range): every linear weight, the embedding, the CLS vector. */
    NORMAL,
    /** All ones: every RMSNorm weight. */
    ONES,
    /** All zeros: biases, {@code pos_decay}. */
    ZEROS
}
