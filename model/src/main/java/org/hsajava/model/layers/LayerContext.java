package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.Scalar;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ModelConfig;

/**
 * What every layer is built with: the model config, the parameters (and gradients), the device the
 * graphs will run on (kernel variants such as GEMM tilings are chosen for it), and the activation
 * shape {@code batch × length} that all activations are planned for up front.
 *
 * <p>{@code positionStart} is the absolute position of row 0 of every sequence, read at each
 * execution: null (training, full forward passes) means 0; streaming evaluation runs the layers
 * over windows deep into a long context and moves it from window to window. Only RoPE reads it.
 *
 * <p>{@code bf16Copies}: the layers' GEMMs read bf16 copies of their weights
 * ({@link ModelParameters#bf16}, which whoever builds the graphs refreshes at the start of each
 * forward pass: {@link ModelParameters#appendBf16Refresh}) and of the inputs that norms and
 * activations write next to their fp32 outputs, instead of casting both at every GEMM.
 */
public record LayerContext(ModelConfig config, ModelParameters params, Device device, int batch, int length, Scalar positionStart,
                           boolean bf16Copies) {

    public LayerContext {
        if (batch < 1 || length < 1) throw new IllegalArgumentException("batch and length must be positive, got " + batch + " x " + length);
    }

    /** A context without bf16 copies (GEMMs on the bf16 path cast their operands themselves). */
    public LayerContext(ModelConfig config, ModelParameters params, Device device, int batch, int length, Scalar positionStart) {
        this(config, params, device, batch, length, positionStart, false);
    }

    /** A context whose sequences start at position 0, without bf16 copies. */
    public LayerContext(ModelConfig config, ModelParameters params, Device device, int batch, int length) {
        this(config, params, device, batch, length, null);
    }

    /** Number of token rows, batch × length. */
    public int rows() { return batch * length; }

    /** The position of row 0 as a kernel argument: the scalar, or the constant 0. */
    public Object positionArgument() { return positionStart == null ? (Object) 0 : positionStart; }

    /**
     * The position argument of the selection kernels: the position of row 0 minus the model's
     * eligibility lag ({@link org.hsajava.model.config.HsaConfig#eligibilityLag}; 0 unless
     * {@code mask_slide_window}), a constant or a scalar that follows {@link #positionStart}.
     */
    public Object retrievalPositionArgument() {
        int lag = config.hsa() == null ? 0 : config.hsa().eligibilityLag(config.slidingWindow());
        if (positionStart == null) return -lag;
        return lag == 0 ? positionStart : Scalar.offsetOf(positionStart, -lag);
    }

    /** The same context for another sequence length (same position scalar). */
    public LayerContext withLength(int newLength) { return new LayerContext(config, params, device, batch, newLength, positionStart, bf16Copies); }
}
