package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;

import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ResidualTest {

    @ParameterizedTest
    @ValueSource(ints = {1, 3, 4, 7, 64, 1000, 4099})
    void axpbyMatchesFormulaOnBothBackends(int n) {
        Rand r = new Rand(n);
        float[] x = r.normal(n, 1), y = r.normal(n, 1);
        float[] expected = new float[n];
        for (int i = 0; i < n; i++) expected[i] = 0.5f * x[i] - 2f * y[i];
        for (Device d : new Device[] {TestDevices.java(), TestDevices.opencl()}) {
            Tensor tx = Tensor.of("x", x.clone()), ty = Tensor.of("y", y.clone());
            KernelRunner.run(d, Residual.AXPBY, tx, ty, n, 0.5f, -2f);
            assertClose("axpby n=" + n + " on " + d, expected, ty.toF32Array(), 1e-6);
        }
    }
}
