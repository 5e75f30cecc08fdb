package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/** Residual add and scaling: {@code y = alpha·x + beta·y} (source {@code kernels/residual.cl}). */
public final class Residual {
    private Residual() {}

    /** Arguments: {@code x, y, n, alpha, beta}. */
    public static final KernelDef AXPBY = KernelDef.builder("axpby", "kernels/residual.cl")
            .in("x", F32).inOut("y", F32).intArg("n").floatArg("alpha").floatArg("beta")
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.atLeast(a, "x", a.i("n"));
                Checks.atLeast(a, "y", a.i("n"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, (a.i("n") + 3) / 4), 64))   // four elements per work-item
            .java(a -> {
                float[] x = a.f32("x"), y = a.f32("y");
                int xo = a.off("x"), yo = a.off("y"), n = a.i("n");
                float alpha = a.f("alpha"), beta = a.f("beta");
                Parallel.forRange(n, 1 << 14, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) y[yo + i] = alpha * x[xo + i] + beta * y[yo + i];
                });
            })
            .build();
}
