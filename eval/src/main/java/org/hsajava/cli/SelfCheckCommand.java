package org.hsajava.cli;

import java.util.List;
import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.SelfCheck;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/** {@code ./hsa selfcheck}: every kernel family on the chosen device vs the Java backend. */
@Command(name = "selfcheck", description = "Run each kernel family on a device and compare with the Java backend.")
public final class SelfCheckCommand implements Callable<Integer> {
    @Mixin
    DeviceOption device;

    @Mixin
    ProfileOption profile;

    @Override
    public Integer call() { return runOn(device.device()); }

    int runOn(Device d) {
        System.out.println("Kernel self-check on " + d + " against the Java backend (HSA attention forward: " + TensorCores.describe(d.info())
                + ", GEMMs: " + Gemm.describe(d.info(), Gemm.precision()) + "):");
        List<SelfCheck.Result> results = SelfCheck.run(d, System.out);
        long failed = results.stream().filter(r -> !r.ok()).count();
        System.out.println(failed == 0 ? "All " + results.size() + " kernel checks passed." : failed + " of " + results.size() + " kernel checks FAILED.");
        ProfileOption.printIfEnabled(System.out);
        return failed == 0 ? 0 : 1;
    }
}
