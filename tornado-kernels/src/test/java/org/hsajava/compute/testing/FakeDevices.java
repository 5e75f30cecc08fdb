package org.hsajava.compute.testing;

import org.hsajava.compute.DeviceInfo;

/** Made-up OpenCL device descriptions, for tests of the rules that pick a kernel variant by device type. */
public final class FakeDevices {
    private FakeDevices() {}

    /** A CPU with 2 compute units and {@code localMemBytes} of local memory (PoCL reports 512 KiB). */
    public static DeviceInfo cpu(long localMemBytes) {
        return new DeviceInfo(0, "opencl", "fake CPU", "v", "p", DeviceInfo.Type.CPU, 1L << 30, localMemBytes, 2, 4096,
                new long[] {4096, 4096, 4096}, false, false, "OpenCL 3.0", 128, 0, 0);
    }

    /** A GPU of another vendor than NVIDIA (so no tensor cores) with {@code computeUnits} units and 48 KiB of local memory. */
    public static DeviceInfo gpu(int computeUnits) {
        return new DeviceInfo(0, "opencl", "fake GPU", "v", "p", DeviceInfo.Type.GPU, 1L << 30, 48 << 10, computeUnits, 1024,
                new long[] {1024, 1024, 64}, false, false, "OpenCL 3.0", 512, 0, 0);
    }
}
