package org.hsajava.compute;

import org.hsajava.compute.java.JavaBackend;
import org.hsajava.compute.opencl.OpenClBackend;

/**
 * A device the program can run on. The backend (context, queue, program cache) is opened on first
 * use and shared by every plan on this device for the life of the process.
 */
public final class Device {
    private final DeviceInfo info;
    private final String id;
    private Backend backend;

    Device(DeviceInfo info, String id) {
        this.info = info;
        this.id = id;
    }

    public DeviceInfo info() { return info; }

    /** {@code java} or {@code opencl:N}: what {@code --device} accepts for this device. */
    public String id() { return id; }

    public String name() { return info.name(); }

    public boolean isJava() { return !info.isOpenCl(); }

    public synchronized Backend backend() {
        if (backend == null) {
            backend = info.isOpenCl() ? new OpenClBackend(info) : new JavaBackend(info);
        }
        return backend;
    }

    @Override
    public String toString() { return id + " (" + info.name() + ")"; }
}
