package org.hsajava.compute.testing;

import static org.junit.jupiter.api.Assertions.fail;

import java.util.List;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import org.junit.jupiter.api.Assumptions;

/**
 * Devices for tests. {@link #opencl()} is the OpenCL device the kernel tests compare against the
 * Java oracle; where none exists the test is skipped on a developer machine but FAILS under CI
 * ({@code CI=true}), so a broken driver install can never pass as green.
 */
public final class TestDevices {
    private TestDevices() {}

    public static Device java() { return Devices.select("java"); }

    /** The preferred OpenCL device (HSA_TEST_DEVICE or HSA_DEVICE may name another). */
    public static Device opencl() {
        List<Device> cl = Devices.openCl();
        if (cl.isEmpty()) {
            String why = "no OpenCL device: " + Devices.openClProblem();
            if (isCi()) fail(why + " (CI=true: OpenCL tests must run, not skip)");
            Assumptions.abort(why);
        }
        String spec = System.getenv("HSA_TEST_DEVICE");
        if (spec == null || spec.isBlank()) spec = System.getenv(Devices.ENV);
        if (spec != null && !spec.isBlank() && !spec.equalsIgnoreCase("java")) return Devices.select(spec);
        return Devices.select("opencl");
    }

    /** True under CI ({@code CI=true} in the environment, or passed by Surefire as hsa.ci). */
    public static boolean isCi() {
        return "true".equalsIgnoreCase(System.getenv("CI")) || "true".equalsIgnoreCase(System.getProperty("hsa.ci"));
    }

    /** Under oclgrind kernels run ~1000x slower: tests then use their small shapes only. */
    public static boolean underOclgrind() {
        return System.getProperty("org.lwjgl.opencl.libname", "").contains("oclgrind");
    }
}
