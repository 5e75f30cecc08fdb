package org.hsajava.compute.opencl;

import static org.lwjgl.opencl.CL10.*;
import static org.lwjgl.system.MemoryStack.stackPush;

import java.nio.ByteBuffer;
import java.nio.IntBuffer;
import java.util.ArrayList;
import java.util.List;
import org.hsajava.compute.DeviceInfo;
import org.lwjgl.PointerBuffer;
import org.lwjgl.opencl.CL;
import org.lwjgl.opencl.CLCapabilities;
import org.lwjgl.system.Configuration;
import org.lwjgl.system.MemoryStack;
import org.lwjgl.system.MemoryUtil;
import org.lwjgl.system.Platform;

import static org.lwjgl.opencl.CL21.CL_DEVICE_IL_VERSION;

/** Enumerates OpenCL platforms and devices through LWJGL. */
public final class OpenClPlatforms {
    public static final String INSTALL_HINT =
            "Install an OpenCL driver: on Debian/Ubuntu `sudo apt-get install ocl-icd-libopencl1 pocl-opencl-icd` (CPU), "
                    + "or your GPU vendor's OpenCL runtime (NVIDIA driver, ROCm, intel-opencl-icd). `clinfo -l` should then list a device.";

    /** No OpenCL loader or driver could be used; the message says how to fix it. */
    public static final class Unavailable extends Exception {
        Unavailable(String message, Throwable cause) { super(message, cause); }
    }

    private OpenClPlatforms() {}

    /** Every device of every platform, in platform order. Indices are assigned from 0. */
    public static List<DeviceInfo> enumerate() throws Unavailable {
        loadLoader();
        List<DeviceInfo> out = new ArrayList<>();
        try (MemoryStack stack = stackPush()) {
            IntBuffer n = stack.mallocInt(1);
            int err = clGetPlatformIDs(null, n);
            if (err == -1001 || (err == 0 && n.get(0) == 0)) return out;
            ClException.check(err, "clGetPlatformIDs");
            PointerBuffer platforms = stack.mallocPointer(n.get(0));
            ClException.check(clGetPlatformIDs(platforms, (IntBuffer) null), "clGetPlatformIDs");
            for (int p = 0; p < platforms.capacity(); p++) {
                long platform = platforms.get(p);
                String platformName = platformString(platform, CL_PLATFORM_NAME);
                IntBuffer nd = stack.mallocInt(1);
                err = clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, null, nd);
                if (err == -1 || nd.get(0) == 0) continue;
                ClException.check(err, "clGetDeviceIDs");
                PointerBuffer devices = stack.mallocPointer(nd.get(0));
                ClException.check(clGetDeviceIDs(platform, CL_DEVICE_TYPE_ALL, devices, (IntBuffer) null), "clGetDeviceIDs");
                CLCapabilities platformCaps = CL.createPlatformCapabilities(platform);
                for (int d = 0; d < devices.capacity(); d++) {
                    out.add(describe(out.size(), platform, platformName, devices.get(d), platformCaps));
                }
            }
        }
        return out;
    }

    private static boolean loaded;

    /**
     * Loads the OpenCL ICD loader once. LWJGL looks for {@code libOpenCL.so}, which on Debian and
     * Ubuntu only the development package (ocl-icd-opencl-dev) provides; the runtime package
     * (ocl-icd-libopencl1, what the install hint names) has just the versioned {@code libOpenCL.so.1}.
     * So on Linux the versioned name (the loader's soname, which the plain name links to where it
     * exists) is tried first and the plain one after it, unless a library was named explicitly (system property {@code org.lwjgl.opencl.libname}, e.g. oclgrind's runtime).
     */
    private static synchronized void loadLoader() throws Unavailable {
        if (loaded) return;
        Configuration.OPENCL_EXPLICIT_INIT.set(true);   // CL's static initialiser must not load on its own
        // LWJGL prints its own advice to stderr for every name that fails; the Unavailable message below
        // says what failed and how to fix it, so that advice stays quiet unless LWJGL's debugging is on
        if (!Boolean.getBoolean("org.lwjgl.util.Debug") && !Boolean.getBoolean("org.lwjgl.util.DebugLoader")) {
            Configuration.DEBUG_STREAM.set(new java.io.PrintStream(java.io.OutputStream.nullOutputStream()));
        }
        List<String> failures = new ArrayList<>();
        for (String name : loaderNames(Configuration.OPENCL_LIBRARY_NAME.get(), Platform.get())) {
            try {
                if (name.isEmpty()) CL.create(); else CL.create(name);
                loaded = true;
                return;
            } catch (Throwable e) {
                failures.add((name.isEmpty() ? "default name" : name) + ": " + e.getClass().getSimpleName() + ": " + e.getMessage());
            }
        }
        throw new Unavailable("no OpenCL loader could be loaded (" + String.join("; ", failures) + "). " + INSTALL_HINT, null);
    }

    /** The library names tried in order ("" = LWJGL's default): the one named, else on Linux the soname first. */
    static List<String> loaderNames(String named, Platform platform) {
        if (named != null) return List.of(named);
        return platform == Platform.LINUX ? List.of("libOpenCL.so.1", "") : List.of("");
    }

    private static DeviceInfo describe(int index, long platform, String platformName, long device, CLCapabilities platformCaps) {
        CLCapabilities caps = CL.createDeviceCapabilities(device, platformCaps);
        long type = deviceLong(device, CL_DEVICE_TYPE);
        DeviceInfo.Type t = (type & CL_DEVICE_TYPE_GPU) != 0 ? DeviceInfo.Type.GPU
                : (type & CL_DEVICE_TYPE_ACCELERATOR) != 0 ? DeviceInfo.Type.ACCELERATOR
                : (type & CL_DEVICE_TYPE_CPU) != 0 ? DeviceInfo.Type.CPU : DeviceInfo.Type.OTHER;
        int dims = deviceInt(device, CL_DEVICE_MAX_WORK_ITEM_DIMENSIONS);
        long[] items = new long[dims];
        try (MemoryStack stack = stackPush()) {
            PointerBuffer pb = stack.mallocPointer(dims);
            ClException.check(clGetDeviceInfo(device, CL_DEVICE_MAX_WORK_ITEM_SIZES, pb, null), "clGetDeviceInfo(MAX_WORK_ITEM_SIZES)");
            for (int i = 0; i < dims; i++) items[i] = pb.get(i);
        }
        String extensions = deviceString(device, CL_DEVICE_EXTENSIONS);
        // OpenCL 3.0 made IL ingestion optional: trust the reported IL versions, not the version number.
        boolean spirv = (caps.OpenCL21 && deviceString(device, CL_DEVICE_IL_VERSION).contains("SPIR-V")) || extensions.contains("cl_khr_il_program");
        return new DeviceInfo(index, "opencl", deviceString(device, CL_DEVICE_NAME).trim(), deviceString(device, CL_DEVICE_VENDOR).trim(),
                platformName.trim(), t, deviceLong(device, CL_DEVICE_GLOBAL_MEM_SIZE), deviceLong(device, CL_DEVICE_LOCAL_MEM_SIZE),
                deviceInt(device, CL_DEVICE_MAX_COMPUTE_UNITS), devicePointer(device, CL_DEVICE_MAX_WORK_GROUP_SIZE), items,
                caps.cl_khr_fp16, spirv, deviceString(device, CL_DEVICE_VERSION).trim(), deviceInt(device, CL_DEVICE_MEM_BASE_ADDR_ALIGN) / 8,
                platform, device);
    }

    static String platformString(long platform, int param) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            ClException.check(clGetPlatformInfo(platform, param, (ByteBuffer) null, size), "clGetPlatformInfo");
            ByteBuffer buf = stack.malloc((int) size.get(0));
            ClException.check(clGetPlatformInfo(platform, param, buf, null), "clGetPlatformInfo");
            return MemoryUtil.memASCII(buf, buf.remaining() - 1);
        }
    }

    static String deviceString(long device, int param) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer size = stack.mallocPointer(1);
            ClException.check(clGetDeviceInfo(device, param, (ByteBuffer) null, size), "clGetDeviceInfo");
            ByteBuffer buf = MemoryUtil.memAlloc((int) size.get(0));
            try {
                ClException.check(clGetDeviceInfo(device, param, buf, null), "clGetDeviceInfo");
                return MemoryUtil.memASCII(buf, Math.max(0, buf.remaining() - 1));
            } finally {
                MemoryUtil.memFree(buf);
            }
        }
    }

    static long deviceLong(long device, int param) {
        try (MemoryStack stack = stackPush()) {
            var b = stack.mallocLong(1);
            ClException.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }

    static int deviceInt(long device, int param) {
        try (MemoryStack stack = stackPush()) {
            IntBuffer b = stack.mallocInt(1);
            ClException.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }

    static long devicePointer(long device, int param) {
        try (MemoryStack stack = stackPush()) {
            PointerBuffer b = stack.mallocPointer(1);
            ClException.check(clGetDeviceInfo(device, param, b, null), "clGetDeviceInfo");
            return b.get(0);
        }
    }
}
