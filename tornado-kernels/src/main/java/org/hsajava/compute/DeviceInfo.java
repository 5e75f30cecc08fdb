package org.hsajava.compute;

import java.util.Locale;

/**
 * What we know about a device, read once at enumeration.
 *
 * @param index         position in {@link Devices#all()}
 * @param backend       {@code "opencl"} or {@code "java"}
 * @param name          device name as the driver reports it
 * @param platform      OpenCL platform name ("-" for java)
 * @param maxWorkItems  maximum work-items per dimension
 */
public record DeviceInfo(
        int index,
        String backend,
        String name,
        String vendor,
        String platform,
        Type type,
        long globalMemBytes,
        long localMemBytes,
        int computeUnits,
        long maxWorkGroupSize,
        long[] maxWorkItems,
        boolean fp16,
        boolean spirv,
        String version,
        long baseAddrAlignBytes,
        long platformHandle,
        long deviceHandle) {

    public enum Type { GPU, ACCELERATOR, CPU, JAVA, OTHER }

    public boolean isOpenCl() { return backend.equals("opencl"); }

    /** Default order: GPU, then other accelerators, then CPU OpenCL, then the Java backend. */
    public int preference() {
        return switch (type) {
            case GPU -> 0;
            case ACCELERATOR -> 1;
            case OTHER -> 2;
            case CPU -> 3;
            case JAVA -> 4;
        };
    }

    public boolean isNvidia() { return vendor.toLowerCase(Locale.ROOT).contains("nvidia") || platform.toLowerCase(Locale.ROOT).contains("nvidia"); }

    /** Short id for {@code --device}: {@code java} or {@code opencl:N}. */
    public String id(int openclOrdinal) { return isOpenCl() ? "opencl:" + openclOrdinal : "java"; }
}
