package org.hsajava.compute;

import java.util.List;

/** One step of a {@link TaskGraph}: a kernel launch or a transfer between host and device. */
public sealed interface Task {

    String name();

    /** A kernel launch with its actual arguments ({@link Tensor}, {@link Integer}, {@link Float} or {@link Scalar}). */
    record Launch(String name, KernelDef kernel, List<Object> args) implements Task {}

    /** Host to device copy of each tensor. */
    record ToDevice(String name, DataTransferMode mode, List<Tensor> tensors) implements Task {}

    /** Device to host copy of each tensor. */
    record ToHost(String name, DataTransferMode mode, List<Tensor> tensors) implements Task {}
}
