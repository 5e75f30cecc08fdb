package org.hsajava.cli;

import java.util.concurrent.Callable;
import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

/**
 * {@code ./hsa demo}: the README's main job. Until the model and the training loop exist it shows
 * the devices and runs the kernel self-check on the default device.
 */
@Command(name = "demo", description = "The main job: devices, kernel self-check (train + extrapolation demo once the model exists).")
public final class DemoCommand implements Callable<Integer> {
    @Mixin
    DeviceOption device;

    @Override
    public Integer call() throws Exception {
        new DevicesCommand().call();
        Device d = device.device();
        System.out.println();
        if (d.isJava() && Devices.openClProblem() != null) {
            System.out.println("Running on the Java backend: " + Devices.openClProblem());
        }
        return new SelfCheckCommand().runOn(d);
    }
}
