package org.hsajava.cli;

import org.hsajava.compute.Device;
import org.hsajava.compute.Devices;
import picocli.CommandLine.Option;

/** The shared {@code --device} option. */
public final class DeviceOption {
    @Option(names = {"-d", "--device"}, paramLabel = "D",
            description = "java, opencl, opencl:N, or part of a device name (default: $HSA_DEVICE, else GPU > accelerator > CPU OpenCL > java)")
    String spec;

    public Device device() { return Devices.select(spec); }
}
