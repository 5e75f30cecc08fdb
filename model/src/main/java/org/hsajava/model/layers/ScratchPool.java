package org.hsajava.model.layers;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.hsajava.compute.Tensor;

/**
 * Device scratch for backward passes, shared by every layer built with the same pool. Backward
 * passes run one layer after another on one in-order queue, so a gradient buffer that only lives
 * inside one layer's backward can be the same tensor for all layers: a model of N layers then holds
 * one set of backward scratch instead of N. Saved activations are NOT scratch (each layer keeps its own).
 *
 * <p>Tensors are keyed by role and shape. Roles carry the name of the class that uses them
 * ({@code "SwaAttention.dq"}), so a block never receives a tensor that an enclosing block is still
 * holding; a class must use distinct roles for buffers that are live at the same time.
 */
public final class ScratchPool {
    private final String name;
    private final Map<String, Tensor> tensors = new HashMap<>();

    public ScratchPool(String name) { this.name = name; }

    /** The float scratch tensor for {@code role} with this shape (created on first request). */
    public Tensor f32(String role, int... shape) {
        String key = role + Arrays.toString(shape);
        return tensors.computeIfAbsent(key, k -> Tensor.f32(name + "." + role, shape));
    }

    /** The bf16 scratch tensor for {@code role} with this shape (created on first request). */
    public Tensor bf16(String role, int... shape) {
        String key = role + ":bf16" + Arrays.toString(shape);
        return tensors.computeIfAbsent(key, k -> Tensor.bf16(name + "." + role, shape));
    }

    /** Elements held by the pool (for memory reports). */
    public long elements() { return tensors.values().stream().mapToLong(Tensor::size).sum(); }
}
