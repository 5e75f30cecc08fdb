package org.hsajava.train.loop;

import com.fasterxml.jackson.databind.JsonNode;

/**
 * Where training rows come from. Each call fills one micro-batch: {@code inputs} and
 * {@code targets} are row-major {@code [batch × length]}; a target of
 * {@link org.hsajava.kernels.CrossEntropy#IGNORE_INDEX} (-100) carries no loss. The source's whole
 * state is {@link #position()} (a JSON object, stored in checkpoints), so that
 * {@link #restore} of it continues with exactly the rows that would have come next.
 */
public interface BatchSource extends AutoCloseable {

    /** Fills {@code batch} rows of {@code length} inputs and targets; returns the number of valid targets. */
    int next(int[] inputs, int[] targets, int batch, int length);

    /** Everything needed to continue exactly here. */
    JsonNode position();

    /** Continues from a {@link #position()} of a source built with the same settings. */
    void restore(JsonNode position);

    @Override
    default void close() {}
}
