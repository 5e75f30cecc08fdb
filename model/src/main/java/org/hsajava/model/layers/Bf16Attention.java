package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.Gemm;

/**
 * Whether an attention kernel family runs on bf16 inputs in a layer built now: the family's property
 * ({@code auto}, the default, {@code on} or {@code off}) decides; {@code auto} means with bf16 matmuls
 * ({@link Gemm#precision()} BF16, a config's {@code matmul_precision}) on a device with tensor cores.
 * {@code on} takes the bf16 kernels on any device (emulated, slowly, without tensor cores: tests).
 */
final class Bf16Attention {
    private Bf16Attention() {}

    static boolean enabled(String property, Device device) {
        String s = System.getProperty(property, "auto").trim();
        if (TensorCores.isOff(s)) return false;
        if (TensorCores.isOn(s)) return true;
        if (!s.equalsIgnoreCase("auto")) throw new IllegalArgumentException("-D" + property + " must be auto, on or off, got '" + s + "'");
        return Gemm.precision() == Gemm.Precision.BF16 && TensorCores.enabled(device.info());
    }
}
