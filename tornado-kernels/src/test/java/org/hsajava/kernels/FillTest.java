package org.hsajava.kernels;

import static org.hsajava.compute.testing.Close.assertClose;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.stream.Stream;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

class FillTest {
    static Stream<Device> devices() { return Stream.of(TestDevices.java(), TestDevices.opencl()); }

    @ParameterizedTest
    @MethodSource("devices")
    void fillCopyAndBiasOnAwkwardSizes(Device d) {
        Rand r = new Rand(3);
        for (int n : new int[] {1, 17, 1031}) {
            float[] nan = new float[n + 3];
            java.util.Arrays.fill(nan, Float.NaN);
            Tensor x = Tensor.of("x", nan.clone());
            KernelRunner.run(d, Fill.FILL, x, n, 0f);
            float[] got = x.toF32Array();
            for (int i = 0; i < n; i++) assertArrayEquals(new float[] {0f}, new float[] {got[i]}, "fill at " + i);
            for (int i = n; i < n + 3; i++) if (!Float.isNaN(got[i])) throw new AssertionError("fill wrote past n at " + i);

            float[] src = r.normal(n, 1);
            Tensor y = Tensor.of("y", nan.clone());
            KernelRunner.run(d, Fill.COPY, Tensor.of("src", src), y, n);
            assertArrayEquals(src, java.util.Arrays.copyOf(y.toF32Array(), n));
        }
        int rows = 13, cols = 7;
        float[] y0 = r.normal(rows * cols, 1), b = r.normal(cols, 1), want = y0.clone();
        for (int i = 0; i < rows * cols; i++) want[i] += b[i % cols];
        Tensor y = Tensor.of("y", y0);
        KernelRunner.run(d, Fill.ADD_BIAS, y, Tensor.of("b", b), rows, cols);
        assertClose("add_bias", want, y.toF32Array(), 1e-7);
    }
}
