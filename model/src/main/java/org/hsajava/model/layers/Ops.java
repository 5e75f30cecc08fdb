package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
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
     * a projection output that feeds an internal tensor (Linear.backward accumulates instead). Returns
     * the bf16 copy of dy the GEMM read on the wgmma path (else null): the weight gradient that follows
     * at once can read it instead of copying dy again.
     */
    static Tensor projectBack(TaskGraph g, String task, Device device, Tensor dy, Projection p, Tensor dx, int rows, int in, int out) {
        return Linear.inputGradient(g, task, device, dy, null, p, dx, rows, in, out, 0f);
    }
}
