package org.hsajava.train.tasks;

/** Which tokens of a {@link Sample} are training targets. */
public enum LossMask {
    /** Only the answer tokens: the model learns retrieval, not the filler. */
    ANSWER,
    /** Every token after the first (plain language modelling over the whole sample). */
    ALL
}
