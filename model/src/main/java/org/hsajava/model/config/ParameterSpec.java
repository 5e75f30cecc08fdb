package org.hsajava.model.config;

import java.util.Arrays;

/**
 * One parameter tensor: its authors' state-dict name, shape (row-major), place in the flat
 * parameter buffer, and how it is initialised.
 *
 * @param name   state-dict key, e.g. {@code backbone.layers.0.self_attn.q_proj.weight}
 * @param shape  dimensions, outermost first (PyTorch's order: Linear weights are [out, in])
 * @param offset first element in the flat buffer, a multiple of {@link ParameterLayout#ALIGN}
 * @param init   initialisation rule; NORMAL uses {@code std}
 * @param std    standard deviation for NORMAL, 0 otherwise
 */
public record ParameterSpec(String name, int[] shape, long offset, InitRule init, double std) {

    public ParameterSpec {
        shape = shape.clone();
    }

    @Override
    public int[] shape() { return shape.clone(); }

    /** Number of elements (product of the shape; 1 for a scalar). */
    public long size() {
        long n = 1;
        for (int d : shape) n *= d;
        return n;
    }

    /** One past the last element in the flat buffer. */
    public long end() { return offset + size(); }

    /**
     * AdamW's decoupled weight decay applies to weight matrices and embeddings, not to norms, biases
     * or the chunk encoder's learned CLS vector (a single embedding-like vector, not a weight matrix:
     * decaying it would pull every chunk's landmark towards the plain mean of its tokens).
     */
    public boolean weightDecay() { return init == InitRule.NORMAL && !name.endsWith(".cls_emb"); }

    @Override
    public boolean equals(Object o) {
        return o instanceof ParameterSpec p && p.name.equals(name) && Arrays.equals(p.shape, shape)
                && p.offset == offset && p.init == init && p.std == std;
    }

    @Override
    public int hashCode() { return name.hashCode() * 31 + Arrays.hashCode(shape); }

    @Override
    public String toString() { return name + Arrays.toString(shape) + "@" + offset + " " + init; }
}
