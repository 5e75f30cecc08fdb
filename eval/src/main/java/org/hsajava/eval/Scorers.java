package org.hsajava.eval;

import org.hsajava.compute.Device;
import org.hsajava.model.config.ModelConfig;

/**
 * The one place that picks how sequences of a given length are scored. Today every length gets a
 * {@link FullForwardScorer}; the streaming scorer (chunk memory built chunk by chunk, for contexts
 * a full forward pass cannot hold) plugs in here, together with its memory estimate.
 */
public final class Scorers {
    private Scorers() {}

    /** A scorer for sequences of exactly {@code length} tokens, {@code batch} per call, with {@code parameters} loaded. */
    public static SequenceScorer forLength(ModelConfig config, float[] parameters, Device device, int batch, int length) {
        return new FullForwardScorer(config, parameters, device, batch, length);
    }

    /** Device bytes the scorer {@link #forLength} would build is expected to hold (checked before building it). */
    public static long estimateDeviceBytes(ModelConfig config, Device device, int batch, int length) {
        return FullForwardScorer.estimateDeviceBytes(config, device, batch, length);
    }
}
