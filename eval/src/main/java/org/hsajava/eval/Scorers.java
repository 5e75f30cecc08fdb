package org.hsajava.eval;

import org.hsajava.compute.Device;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.stream.StreamingPass;

/**
 * The one place that picks how sequences of a given length are scored: a {@link FullForwardScorer}
 * (batched, the whole sequence's activations on the device) below {@link #STREAMING_FROM} tokens, a
 * {@link StreamingScorer} (one sequence at a time, chunk memory built block by block, device memory
 * flat in L apart from the chunk memory) from there on. Full causal attention always takes the full
 * forward pass: it has no chunk memory to stream into.
 */
public final class Scorers {
    private Scorers() {}

    /**
     * Lengths from which SWA+HSA and SWA-only models are scored by streaming. Below it a batch of
     * full passes fits comfortably (tiny-cpu at batch 4 and 8K tokens: about 1.9 GiB) and is faster.
     */
    public static final int STREAMING_FROM = 8192;

    /** Whether {@link #forLength} streams at this length. */
    public static boolean streams(ModelConfig config, int length) {
        return config.attentionKind() != AttentionKind.FULL_CAUSAL && length >= STREAMING_FROM;
    }

    /** A scorer for sequences of exactly {@code length} tokens, up to {@code batch} per call, with {@code parameters} loaded. */
    public static SequenceScorer forLength(ModelConfig config, float[] parameters, Device device, int batch, int length) {
        if (!streams(config, length)) return new FullForwardScorer(config, parameters, device, batch, length);
        ModelParameters p = ModelParameters.of(ParameterLayout.of(config));
        p.all().set(parameters);
        return new StreamingScorer(config, p, device);
    }

    /** Device bytes the scorer {@link #forLength} would build is expected to hold (checked before building it). */
    public static long estimateDeviceBytes(ModelConfig config, Device device, int batch, int length) {
        if (!streams(config, length)) return FullForwardScorer.estimateDeviceBytes(config, device, batch, length);
        try (StreamingPass pass = new StreamingPass(config, ModelParameters.of(ParameterLayout.of(config)), device, length, StreamingPass.defaultBlock(config))) {
            return pass.plannedBytes();
        }
    }
}
