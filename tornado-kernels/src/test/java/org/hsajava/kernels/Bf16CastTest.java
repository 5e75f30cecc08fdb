package org.hsajava.kernels;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Device;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.KernelRunner;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.testing.Rand;
import org.hsajava.compute.testing.TestDevices;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** {@link Bf16Cast}: OpenCL against Java, bit for bit, and the Java oracle against {@link Bf16#fromFloat}. */
class Bf16CastTest {

    private static short[] run(Device d, KernelDef k, float[] x, int rows, int cols, int ldx) {
        Tensor y = Tensor.bf16("y", rows * cols);
        KernelRunner.run(d, k, Tensor.of("x", x.clone()), y, rows, cols, ldx);
        return y.bf16().clone();
    }

    @ParameterizedTest
    @CsvSource({"1, 2, 2", "3, 6, 10", "37, 70, 70", "64, 130, 131"})
    void castAndTransposedCastMatchTheOracle(int rows, int cols, int ldx) {
        float[] x = new Rand(rows * 31 + cols).normal((rows - 1) * ldx + cols, 3);
        x[0] = Float.NaN;
        for (KernelDef k : new KernelDef[] {Bf16Cast.TO_BF16, Bf16Cast.TO_BF16_T}) {
            boolean t = k == Bf16Cast.TO_BF16_T;
            short[] want = new short[rows * cols];
            for (int r = 0; r < rows; r++)
                for (int c = 0; c < cols; c++) want[t ? c * rows + r : r * cols + c] = Bf16.fromFloat(x[r * ldx + c]);
            assertArrayEquals(want, run(TestDevices.java(), k, x, rows, cols, ldx), k.name() + " Java");
            assertArrayEquals(want, run(TestDevices.opencl(), k, x, rows, cols, ldx), k.name() + " OpenCL");
        }
    }

    @ParameterizedTest
    @CsvSource({"4, 3, 3", "4, 4, 3"})
    void rejectsOddColumnsAndShortStrides(int rows, int cols, int ldx) {
        assertThrows(IllegalArgumentException.class, () -> run(TestDevices.java(), Bf16Cast.TO_BF16, new float[rows * Math.max(cols, ldx)], rows, cols, ldx));
    }
}
