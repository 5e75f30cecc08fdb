package org.hsajava.compute;

/**
 * One device, opened: allocates buffers, copies data, launches kernels. Implementations:
 * {@code opencl} (every real run) and {@code java} (plain loops; the test oracle and the fallback).
 * A backend is used from one thread at a time; an {@link ExecutionPlan} drives it.
 */
public interface Backend extends AutoCloseable {

    DeviceInfo device();

    /** A zero-filled device buffer with room for every element of {@code root}. */
    Buffer allocate(Tensor root);

    /** Copies {@code t}'s elements (a view: its range) from its host array into {@code buffer}, which belongs to {@code t.root()}. */
    void upload(Buffer buffer, Tensor t);

    /** Copies {@code t}'s elements from {@code buffer} into its host array. */
    void download(Buffer buffer, Tensor t);

    /**
     * Launches a kernel. {@code buffers} maps each tensor argument's root to its device buffer.
     *
     * @return the kernel's device time in nanoseconds when {@code profile} is set, else -1
     */
    long launch(KernelDef kernel, KernelArgs args, WorkerGrid grid, java.util.function.Function<Tensor, Buffer> buffers, boolean profile);

    /** Waits until every queued command has completed. */
    void finish();

    /** Bytes currently allocated by this backend, and the most ever allocated at once. */
    long allocatedBytes();

    long peakAllocatedBytes();

    @Override
    void close();

    /** A device allocation holding one root tensor. */
    interface Buffer extends AutoCloseable {
        Tensor owner();

        long bytes();

        @Override
        void close();
    }
}
