package org.hsajava.compute;

import java.util.Arrays;

/**
 * The NDRange of one kernel launch: global size per dimension and, optionally, the work-group
 * (local) size. Global sizes must be multiples of local sizes (OpenCL 1.2 rule); use
 * {@link #roundUp(long, long)} and guard the tail inside the kernel.
 */
public record WorkerGrid(long[] global, long[] local) {

    public WorkerGrid {
        if (global.length < 1 || global.length > 3) throw new IllegalArgumentException("grid must have 1 to 3 dimensions, got " + global.length);
        if (local != null && local.length != global.length) throw new IllegalArgumentException("local and global sizes differ in rank");
        global = global.clone();
        local = local == null ? null : local.clone();
    }

    public static WorkerGrid of1D(long global, long local) { return new WorkerGrid(new long[] {roundUp(global, local)}, new long[] {local}); }

    public static WorkerGrid of2D(long gx, long gy, long lx, long ly) {
        return new WorkerGrid(new long[] {roundUp(gx, lx), roundUp(gy, ly)}, new long[] {lx, ly});
    }

    public static WorkerGrid of3D(long gx, long gy, long gz, long lx, long ly, long lz) {
        return new WorkerGrid(new long[] {roundUp(gx, lx), roundUp(gy, ly), roundUp(gz, lz)}, new long[] {lx, ly, lz});
    }

    public int dims() { return global.length; }

    public long workGroupSize() {
        if (local == null) return 0;
        long n = 1;
        for (long l : local) n *= l;
        return n;
    }

    public static long roundUp(long n, long multiple) {
        if (multiple <= 0) throw new IllegalArgumentException("work-group size must be positive, got " + multiple);
        return Math.max(multiple, (n + multiple - 1) / multiple * multiple);
    }

    @Override
    public String toString() {
        return "global=" + Arrays.toString(global) + (local == null ? "" : " local=" + Arrays.toString(local));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WorkerGrid g && Arrays.equals(global, g.global) && Arrays.equals(local, g.local);
    }

    @Override
    public int hashCode() { return Arrays.hashCode(global) * 31 + Arrays.hashCode(local); }
}
