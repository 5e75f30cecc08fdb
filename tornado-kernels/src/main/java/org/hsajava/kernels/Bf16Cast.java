package org.hsajava.kernels;

import static org.hsajava.compute.DType.BF16;
import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Bf16;
import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * fp32 to bf16 copies (source {@code kernels/bf16_cast.cl}), rounded to nearest, ties to even
 * ({@link Bf16#fromFloat}): the operands of GEMMs whose kernel reads bf16 storage ({@link GemmBf16Cast}).
 * Arguments of both: {@code x} fp32 [rows x cols] with row stride {@code ldx}, {@code y} bf16, then
 * {@code rows, cols, ldx}.
 */
public final class Bf16Cast {
    private Bf16Cast() {}

    private static final String SRC = "kernels/bf16_cast.cl";

    /** {@code y [rows x cols] = bf16(x)}, y dense; cols must be even. */
    public static final KernelDef TO_BF16 = KernelDef.builder("to_bf16", SRC)
            .in("x", F32).out("y", BF16).intArg("rows").intArg("cols").intArg("ldx")
            .check(a -> {
                check(a);
                if (a.i("cols") % 2 != 0) throw new IllegalArgumentException("to_bf16 writes pairs: cols must be even, got " + a.i("cols"));
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, (long) a.i("rows") * (a.i("cols") / 2)), 256))
            .java(a -> cast(a, false))
            .build();

    /** {@code y [cols x rows] = bf16(x)ᵀ}. */
    public static final KernelDef TO_BF16_T = KernelDef.builder("to_bf16_t", SRC)
            .in("x", F32).out("y", BF16).intArg("rows").intArg("cols").intArg("ldx")
            .check(Bf16Cast::check)
            .grid(a -> WorkerGrid.of2D((long) (a.i("cols") + 31) / 32 * 32, (long) (a.i("rows") + 31) / 32 * 8, 32, 8))
            .java(a -> cast(a, true))
            .build();

    private static void check(KernelArgs a) {
        Checks.positive(a, "rows", false);
        Checks.positive(a, "cols", false);
        if (a.i("ldx") < a.i("cols")) throw new IllegalArgumentException("ldx (" + a.i("ldx") + ") must be at least cols (" + a.i("cols") + ")");
        Checks.atLeast(a, "x", (long) (a.i("rows") - 1) * a.i("ldx") + a.i("cols"));
        Checks.atLeast(a, "y", (long) a.i("rows") * a.i("cols"));
    }

    private static void cast(KernelArgs a, boolean transpose) {
        float[] x = a.f32("x");
        short[] y = a.bf16("y");
        int xo = a.off("x"), yo = a.off("y"), rows = a.i("rows"), cols = a.i("cols"), ldx = a.i("ldx");
        Parallel.forRange(rows, 64, (lo, hi) -> {
            for (int r = lo; r < hi; r++)
                for (int c = 0; c < cols; c++) y[yo + (transpose ? c * rows + r : r * cols + c)] = Bf16.fromFloat(x[xo + r * ldx + c]);
        });
    }
}
