package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;
import static org.hsajava.compute.DType.I32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelArgs;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.Tensor;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * Softmax cross-entropy (source {@code kernels/crossentropy.cl}) over {@code logits [rows, v]} with
 * int {@code targets [rows]}, per-row {@code loss [rows]}, gradient {@code dlogits [rows, v]}:
 * <pre>
 *   loss[r]       = logsumexp(x_r) - x_r[t_r]                 (0 where t_r == ignoreIndex)
 *   dlogits[r, j] = (softmax(x_r)_j - [j == t_r]) * scale     (0 where t_r == ignoreIndex)
 * </pre>
 * Max-subtracted, one work-group of {@link #WG} per row with local-memory reductions (any v; GPT-2's
 * 50257 included). {@code scale} is the caller's: 1 / number of valid rows gives the mean loss's
 * gradient. {@code dlogits} may be {@code logits} itself. The argument check scans the host copy of
 * {@code targets} (the data loader's) and names the row of a target outside [0, v) that is not the
 * ignore index; targets that exist only on the device are not seen there, and such a row then gets
 * NaN loss and gradients on both backends.
 */
public final class CrossEntropy {
    private CrossEntropy() {}

    /** PyTorch's default ignore index. */
    public static final int IGNORE_INDEX = -100;
    /** Work-group size (one group per row). */
    public static final int WG = 256;

    private static final String SRC = "kernels/crossentropy.cl";

    /** Arguments: {@code logits, targets, loss, dlogits, rows, v, ignoreIndex, scale}. */
    public static final KernelDef FORWARD_BACKWARD = KernelDef.builder("cross_entropy_forward_backward", SRC)
            .in("logits", F32).in("targets", I32).out("loss", F32).out("dlogits", F32)
            .intArg("rows").intArg("v").intArg("ignoreIndex").floatArg("scale")
            .define("CE_WG", WG)
            .check(a -> {
                checkSizes(a);
                Checks.atLeast(a, "dlogits", (long) a.i("rows") * a.i("v"));
            })
            .grid(CrossEntropy::grid)
            .java(a -> run(a, true))
            .build();

    /** Loss only. Arguments: {@code logits, targets, loss, rows, v, ignoreIndex}. */
    public static final KernelDef LOSS = KernelDef.builder("cross_entropy_loss", SRC)
            .in("logits", F32).in("targets", I32).out("loss", F32)
            .intArg("rows").intArg("v").intArg("ignoreIndex")
            .define("CE_WG", WG)
            .check(CrossEntropy::checkSizes)
            .grid(CrossEntropy::grid)
            .java(a -> run(a, false))
            .build();

    /**
     * Throws naming the first row whose target is neither the ignore index nor in [0, v); returns
     * the number of valid (non-ignored) rows, the usual denominator of the mean loss.
     */
    public static int checkTargets(int[] targets, int v, int ignoreIndex) { return checkTargets(targets, 0, targets.length, v, ignoreIndex); }

    /** As {@link #checkTargets(int[], int, int)} over {@code targets[from .. from+rows)}; rows count from {@code from}. */
    public static int checkTargets(int[] targets, int from, int rows, int v, int ignoreIndex) {
        int valid = 0;
        for (int r = 0; r < rows; r++) {
            int t = targets[from + r];
            if (t == ignoreIndex) continue;
            if (t < 0 || t >= v) throw new IllegalArgumentException("target " + t + " at row " + r + " is outside [0, " + v + ") and is not the ignore index " + ignoreIndex);
            valid++;
        }
        return valid;
    }

    private static void checkSizes(KernelArgs a) {
        Checks.positive(a, "rows", true);
        Checks.positive(a, "v", false);
        Checks.atLeast(a, "logits", (long) a.i("rows") * a.i("v"));
        Checks.atLeast(a, "targets", a.i("rows"));
        Checks.atLeast(a, "loss", a.i("rows"));
        Tensor targets = a.tensor("targets");
        checkTargets(targets.i32(), targets.rootOffset(), a.i("rows"), a.i("v"), a.i("ignoreIndex"));
    }

    private static WorkerGrid grid(KernelArgs a) { return WorkerGrid.of1D((long) Math.max(1, a.i("rows")) * WG, WG); }

    private static void run(KernelArgs a, boolean withGrad) {
        float[] x = a.f32("logits"), loss = a.f32("loss");
        float[] dx = withGrad ? a.f32("dlogits") : null;
        int[] targets = a.i32("targets");
        int xo = a.off("logits"), to = a.off("targets"), lo = a.off("loss"), dxo = withGrad ? a.off("dlogits") : 0;
        int v = a.i("v"), ignore = a.i("ignoreIndex");
        float scale = withGrad ? a.f("scale") : 0f;
        Parallel.forEach(a.i("rows"), r -> {
            int base = r * v, t = targets[to + r];
            if (t == ignore || t < 0 || t >= v) {
                float fill = t == ignore ? 0f : Float.NaN;
                loss[lo + r] = fill;
                if (withGrad) java.util.Arrays.fill(dx, dxo + base, dxo + base + v, fill);
                return;
            }
            float m = Float.NEGATIVE_INFINITY;
            for (int j = 0; j < v; j++) m = Math.max(m, x[xo + base + j]);
            double sum = 0; // double: a float running sum over 50K terms drifts by ~1e-5
            for (int j = 0; j < v; j++) sum += Math.exp(x[xo + base + j] - m);
            float z = (float) sum;
            float xt = x[xo + base + t];
            loss[lo + r] = (float) Math.log(z) + m - xt;
            if (!withGrad) return;
            float invZ = 1f / z;
            for (int j = 0; j < v; j++) {
                float p = (float) Math.exp(x[xo + base + j] - m) * invZ;
                dx[dxo + base + j] = (j == t ? p - 1f : p) * scale;
            }
        });
    }
}
