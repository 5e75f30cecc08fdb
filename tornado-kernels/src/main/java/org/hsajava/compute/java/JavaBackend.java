package org.hsajava.compute.java;

import java.util.function.Function;
import org.hsajava.compute.Backend;
import org.hsajava.compute.DeviceInfo;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelLaunches;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;

/**
 * The plain-Java backend: every kernel runs its {@link KernelDef#java()} loop. Device memory is
 * emulated with separate Java arrays, so transfers behave as on a discrete GPU (a missing
 * transfer in a graph shows up here too, not only on OpenCL).
 */
public final class JavaBackend implements Backend {
    private final DeviceInfo info;
    private long allocated;
    private long peak;

    public JavaBackend(DeviceInfo info) { this.info = info; }

    /** Description of the Java backend as a device. */
    public static DeviceInfo info(int index) {
        Runtime rt = Runtime.getRuntime();
        return new DeviceInfo(index, "java", "Java backend (" + rt.availableProcessors() + " threads, " + System.getProperty("java.vm.name") + " " + Runtime.version() + ")",
                System.getProperty("java.vendor"), "-", DeviceInfo.Type.JAVA, rt.maxMemory(), 0, rt.availableProcessors(),
                1 << 20, new long[] {1L << 31, 1L << 31, 1L << 31}, false, false, "Java " + Runtime.version().feature(), 4, 0, 0);
    }

    @Override
    public DeviceInfo device() { return info; }

    @Override
    public Buffer allocate(Tensor root) {
        Object arr = switch (root.dtype()) {
            case F32 -> new float[root.size()];
            case I32 -> new int[root.size()];
            case BF16 -> new short[root.size()];
        };
        allocated += root.bytes();
        peak = Math.max(peak, allocated);
        return new ArrayBuffer(root, arr);
    }

    @Override
    public void upload(Buffer buffer, Tensor t) {
        Object host = t.hostArray();
        System.arraycopy(host, t.rootOffset(), ((ArrayBuffer) buffer).array, t.rootOffset(), t.size());
    }

    @Override
    public void download(Buffer buffer, Tensor t) {
        Object host = t.hostArray();
        System.arraycopy(((ArrayBuffer) buffer).array, t.rootOffset(), host, t.rootOffset(), t.size());
    }

    @Override
    public long launch(KernelDef kernel, KernelArgs args, WorkerGrid grid, Function<Tensor, Buffer> buffers, boolean profile) {
        long t0 = System.nanoTime();
        kernel.java().run(KernelLaunches.withStorage(args, root -> ((ArrayBuffer) buffers.apply(root)).array));
        return profile ? System.nanoTime() - t0 : -1;
    }

    @Override
    public void finish() {}

    @Override
    public long allocatedBytes() { return allocated; }

    @Override
    public long peakAllocatedBytes() { return peak; }

    @Override
    public void close() {}

    private final class ArrayBuffer implements Buffer {
        private final Tensor owner;
        private Object array;

        ArrayBuffer(Tensor owner, Object array) {
            this.owner = owner;
            this.array = array;
        }

        @Override
        public Tensor owner() { return owner; }

        @Override
        public long bytes() { return owner.bytes(); }

        @Override
        public void close() {
            if (array != null) {
                allocated -= owner.bytes();
                array = null;
            }
        }
    }
}
