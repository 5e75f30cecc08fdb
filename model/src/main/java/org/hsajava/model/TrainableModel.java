package org.hsajava.model;

import org.hsajava.compute.Device;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.Tensor;

/**
 * What the training loop needs from a model built for one (batch, length) on one device. The
 * graphs do not transfer parameters or gradients: the trainer owns those transfers (parameters go up
 * once and stay on the device; the optimizer updates them there).
 *
 * <p>One training micro-step is: the caller writes {@link #inputIds()} and {@link #targets()} on
 * the host and sets {@link #lossScale()}; {@link #trainStep()} uploads them, runs the forward pass,
 * the per-row cross-entropy into {@link #rowLosses()} (downloaded), and the backward pass, which ADDS
 * into the gradients (zeroed by the trainer at the start of each accumulation cycle).
 */
public interface TrainableModel extends AutoCloseable {

    ModelParameters parameters();

    Device device();

    int batch();

    int length();

    /** Token ids, int [batch × length], row-major; filled on the host before each step. */
    Tensor inputIds();

    /** Next-token targets, int [batch × length]; -100 marks positions without a loss. */
    Tensor targets();

    /** Per-position cross-entropy of the last forward pass, float [batch × length] (0 where ignored). */
    Tensor rowLosses();

    /**
     * The factor the loss gradient is scaled by: {@code 1 / (valid targets in the whole
     * accumulation cycle)} for a mean over all tokens of the cycle.
     */
    Scalar lossScale();

    /**
     * Host-side preparation after {@link #inputIds()} and {@link #targets()} were written and before
     * the next execution (the embedding's inverted index, for example). The trainer calls it.
     */
    default void prepareInputs() {}

    /** Forward, per-row losses (downloaded) and backward (gradients accumulated). */
    ImmutableTaskGraph trainStep();

    /** Forward and per-row losses only (validation, evaluation). */
    ImmutableTaskGraph evalStep();

    @Override
    void close();
}
