package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.Gemm;
import org.hsajava.kernels.Residual;

/** Small task helpers the layers share (element-wise adds, a projection's input gradient that overwrites). */
final class Ops {
    private Ops() {}

    /** {@code y += x} over n elements. */
    static void addInto(TaskGraph g, String task, Tensor x, Tensor y, int n) {
        g.task(task, Residual.AXPBY, x, y, n, 1f, 1f);
    }

    /**
     * {@code dx = dy·W} for {@code y = x·Wᵀ} with {@code W [out, in]}, OVERWRITING dx: the gradient of
     * a projection output that feeds an internal tensor (Linear.backward accumulates instead).
     */
    static void projectBack(TaskGraph g, String task, Device device, Tensor dy, Tensor weight, Tensor dx, int rows, int in, int out) {
        g.task(task, Gemm.select(device, false, false, rows, in, out), dy, weight, dx, rows, in, out, out, in, in, 0, 0, 0, 1, 1f, 0f);
    }
}
