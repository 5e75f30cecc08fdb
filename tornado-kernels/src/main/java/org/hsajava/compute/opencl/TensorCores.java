package org.hsajava.compute.opencl;

import static org.lwjgl.opencl.CL10.clGetDeviceInfo;
import static org.lwjgl.system.MemoryStack.stackPush;

import java.nio.IntBuffer;
import java.util.Locale;
import org.hsajava.compute.DeviceInfo;
import org.lwjgl.system.MemoryStack;

/**
 * Whether kernels use NVIDIA tensor cores (TF32 {@code mma.sync} through inline PTX; today the HSA
 * attention forward and both its backward kernels, dq and dk/dv, {@code kernels/hsa_attn.cl};
 * {@code -Dhsa.tc.bwdq=off} / {@code -Dhsa.tc.bwdkv=off} keep one backward in fp32; the sliding-window
 * attention forward, dq and dk/dv, {@code kernels/swa_tc.h}, head dims 16, 32, 64, 128, {@code -Dhsa.tc.swa=off}
 * keeping all three in fp32 and {@code -Dhsa.tc.swa.fwd|dq|dkdv=off} one; the GEMMs only with
 * {@code -Dhsa.tc.gemm=tf32|bf16} or a config's {@code train.matmul_precision}, see {@code Gemm.Precision}). A kernel definition with such a path has a
 * variant for devices where {@link #enabled} holds ({@link org.hsajava.compute.KernelDef#forDevice}),
 * compiled with {@code -DHSA_TC=1} (the SWA kernels: {@code -DSWA_TC=1}) and its own launch shape; other devices get the portable one.
 *
 * <p>Default: on wherever the device can run it, i.e. an NVIDIA GPU of compute capability 8.0 or
 * more (TF32 {@code mma.sync} needs sm_80; read through {@code cl_nv_device_attribute_query}); never
 * on other devices (PoCL, AMD, Intel, the Java backend), which keep the portable fp32 kernels.
 * TF32 rounds the products' inputs to 10 mantissa bits (errors about 1e-4 to 1e-3 of the output's
 * largest magnitude instead of about 1e-6). To force the fp32 path, set the system property
 * {@code hsa.tc=off} (or the environment variable {@code HSA_TC=off}; {@code 0} and {@code false}
 * work too); the property wins over the variable. {@code ./hsa devices} shows each device's choice.
 */
public final class TensorCores {
    private TensorCores() {}

    /** System property that switches tensor cores off ("off", "false", "0") or leaves them on where supported (anything else). */
    public static final String PROPERTY = "hsa.tc";
    /** Environment variable read when the property is unset. */
    public static final String ENV = "HSA_TC";

    /** {@code CL_DEVICE_COMPUTE_CAPABILITY_MAJOR_NV} of {@code cl_nv_device_attribute_query}. */
    private static final int CC_MAJOR_NV = 0x4000;

    /** True when the user switched tensor cores off (property, else environment). */
    public static boolean switchedOff() { return isOff(System.getProperty(PROPERTY, System.getenv(ENV))); }

    /** True for "on", "true", "1", "yes" (an opt-in switch). */
    public static boolean isOn(String setting) {
        if (setting == null) return false;
        String s = setting.trim().toLowerCase(Locale.ROOT);
        return s.equals("on") || s.equals("true") || s.equals("1") || s.equals("yes");
    }

    /** True for "off", "false", "0", "no". */
    public static boolean isOff(String setting) {
        if (setting == null) return false;
        String s = setting.trim().toLowerCase(Locale.ROOT);
        return s.equals("off") || s.equals("false") || s.equals("0") || s.equals("no");
    }

    /** True for an OpenCL NVIDIA GPU of compute capability 8.0 or more. */
    public static boolean supported(DeviceInfo info) {
        return info.isOpenCl() && info.isNvidia() && info.type() == DeviceInfo.Type.GPU && computeCapabilityMajor(info) >= 8;
    }

    /** Whether kernels built for this device use tensor cores: {@link #supported} and not {@link #switchedOff}. */
    public static boolean enabled(DeviceInfo info) { return supported(info) && !switchedOff(); }

    /** One line for listings: which path the HSA attention forward takes on this device. */
    public static String describe(DeviceInfo info) {
        if (enabled(info)) return "tf32-tc";
        if (supported(info)) return "fp32 (" + PROPERTY + "=off)";
        return "fp32";
    }

    /** The major compute capability through the NVIDIA extension, 0 where the query fails. */
    static int computeCapabilityMajor(DeviceInfo info) {
        if (info.deviceHandle() == 0) return 0;
        try (MemoryStack stack = stackPush()) {
            IntBuffer b = stack.mallocInt(1);
            return clGetDeviceInfo(info.deviceHandle(), CC_MAJOR_NV, b, null) == 0 ? b.get(0) : 0;
        } catch (RuntimeException | LinkageError e) {
            return 0;
        }
    }

    /** System property that keeps Hopper's warpgroup MMA off ("off"), leaving mma.sync kernels in its place. */
    public static final String WGMMA_PROPERTY = "hsa.tc.wgmma";

    /**
     * Whether kernels may use {@code wgmma.mma_async} (compiled with {@code -cl-nv-arch sm_90a}):
     * {@link #enabled} on a device of compute capability 9.x (Hopper: the instruction exists only on
     * sm_90a) and not switched off with {@value #WGMMA_PROPERTY}.
     */
    public static boolean warpgroupMma(DeviceInfo info) {
        return enabled(info) && computeCapabilityMajor(info) == 9 && !isOff(System.getProperty(WGMMA_PROPERTY));
    }

    /** One word for listings: what bf16 GEMMs run on: "wgmma" (Hopper), "mma.sync" (other tensor cores) or "fp32". */
    public static String bf16GemmPath(DeviceInfo info) {
        if (warpgroupMma(info)) return "wgmma";
        return enabled(info) ? "mma.sync" : "fp32";
    }
}
