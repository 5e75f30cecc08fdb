package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;

/**
 * What every layer is built with: the model config, the parameters (and gradients), the device the
 * graphs will run on (kernel variants such as GEMM tilings are chosen for it), and the activation
 * shape {@code batch × length} that all activations are planned for up front.
 */
public record LayerContext(ModelConfig config, ModelParameters params, Device device, int batch, int length) {

    public LayerContext {
        if (batch < 1 || length < 1) throw new IllegalArgumentException("batch and length must be positive, got " + batch + " x " + length);
    }

    /** Number of token rows, batch × length. */
    public int rows() { return batch * length; }
}
