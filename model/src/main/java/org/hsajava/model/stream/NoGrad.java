package org.hsajava.model.stream;

import org.hsajava.compute.Tensor;

/**
 * Gradient slots of the training layers that forward-only passes reuse. A layer asks for its
 * input/output gradients at construction; a pass that never appends the layer's backward never
 * puts them in a graph, so they get no device buffer and (tensors allocate their host copy on
 * first access) no host memory either.
 */
final class NoGrad {
    private NoGrad() {}

    static Tensor of(String name, int... shape) { return Tensor.f32("unused:" + name, shape); }
}
