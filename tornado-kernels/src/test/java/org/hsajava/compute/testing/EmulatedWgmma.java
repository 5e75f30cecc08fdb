package org.hsajava.compute.testing;

import java.util.function.Supplier;
import org.hsajava.compute.opencl.TensorCores;
import org.hsajava.kernels.Gemm;

/**
 * Builds code on the mixed-precision path an H100 takes, on any test device: bf16 GEMMs asked for
 * ({@link Gemm#usePrecision}) and Hopper's wgmma emulated ({@code -Dhsa.tc.wgmma=emulated}). Layers
 * and graphs choose their kernels when they are built, so only the building runs inside.
 */
public final class EmulatedWgmma {
    private EmulatedWgmma() {}

    public static <T> T with(Supplier<T> build) {
        String before = System.setProperty(TensorCores.WGMMA_PROPERTY, "emulated");
        Gemm.Precision precision = Gemm.usePrecision(Gemm.Precision.BF16);
        try {
            return build.get();
        } finally {
            Gemm.usePrecision(precision);
            if (before == null) System.clearProperty(TensorCores.WGMMA_PROPERTY);
            else System.setProperty(TensorCores.WGMMA_PROPERTY, before);
        }
    }
}
