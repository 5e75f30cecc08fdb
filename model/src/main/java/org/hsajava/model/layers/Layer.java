package org.hsajava.model.layers;

import org.hsajava.compute.TaskGraph;

/**
 * A layer appends its forward pass and its backward pass, side by side, to task graphs. Its input
 * and output tensors (and their gradients) are handed to it at construction; the activations it
 * saves for the backward pass are allocated then, for the context's (batch, length): memory is
 * planned up front, nothing is allocated per step.
 *
 * <p>Conventions every layer follows:
 * <ul>
 *   <li>{@link #forward} overwrites its outputs and saved activations;</li>
 *   <li>{@link #backward} reads the output gradient and ADDS into the input gradients and into the
 *       parameter gradients (so residual branches and gradient accumulation compose); the model
 *       zeroes gradients with {@code Fill.FILL} where a step or an accumulation cycle starts;</li>
 *   <li>task names start with {@link #name()} + "." so they are unique within a graph.</li>
 * </ul>
 */
public interface Layer {

    /** A unique, readable name such as {@code layers.3.swa}. */
    String name();

    void forward(TaskGraph g);

    void backward(TaskGraph g);
}
