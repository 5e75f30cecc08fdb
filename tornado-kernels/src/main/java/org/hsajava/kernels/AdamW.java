package org.hsajava.kernels;

import static org.hsajava.compute.DType.F32;

import org.hsajava.compute.Checks;
import org.hsajava.compute.KernelDef;
import org.hsajava.compute.WorkerGrid;
import org.hsajava.compute.java.Parallel;

/**
 * One AdamW step over a flat parameter buffer in one launch (source {@code kernels/adamw.cl}),
 * matching {@code torch.optim.AdamW} (amsgrad=False, maximize=False) in its order of operations:
 * <pre>
 *   g  = grad * gradScale                      (gradScale: the clipping factor, 1 when not clipping)
 *   p *= 1 - lr * wd                           (decoupled weight decay first, as torch)
 *   m  = m + (1 - b1) (g - m)                  (torch: exp_avg.lerp_(grad, 1 - beta1))
 *   v  = b2 v + (1 - b2) g^2
 *   p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 * </pre>
 * {@code param, grad, m, v} are flat [n]; {@code lr}, {@code gradScale} and {@code step} (t, from 1)
 * are usually {@link org.hsajava.compute.Scalar}s the trainer updates every step. The betas are
 * float arguments: the kernel uses float(beta) consistently in the moments and the bias
 * corrections; torch keeps them as Python doubles, which changes the result by ~1e-7 relative.
 */
public final class AdamW {
    private AdamW() {}

    private static final String SRC = "kernels/adamw.cl";

    /** Arguments: {@code param, grad, m, v, n, lr, beta1, beta2, eps, wd, gradScale, step}. */
    public static final KernelDef STEP = KernelDef.builder("adamw_step", SRC)
            .inOut("param", F32).in("grad", F32).inOut("m", F32).inOut("v", F32).intArg("n")
            .floatArg("lr").floatArg("beta1").floatArg("beta2").floatArg("eps").floatArg("wd").floatArg("gradScale").intArg("step")
            .check(a -> {
                Checks.positive(a, "n", true);
                Checks.positive(a, "step", false);
                for (String t : new String[] {"param", "grad", "m", "v"}) Checks.atLeast(a, t, a.i("n"));
                for (String b : new String[] {"beta1", "beta2"}) {
                    float beta = a.f(b);
                    if (!(beta >= 0f && beta < 1f)) throw new IllegalArgumentException("argument '" + b + "' must lie in [0, 1), got " + beta);
                }
            })
            .grid(a -> WorkerGrid.of1D(Math.max(1, a.i("n")), 256))
            .java(a -> {
                float[] p = a.f32("param"), g = a.f32("grad"), m = a.f32("m"), v = a.f32("v");
                int po = a.off("param"), go = a.off("grad"), mo = a.off("m"), vo = a.off("v");
                float lr = a.f("lr"), b1 = a.f("beta1"), b2 = a.f("beta2"), eps = a.f("eps"), wd = a.f("wd"), scale = a.f("gradScale");
                int t = a.i("step");
                float bc1 = (float) -Math.expm1(t * Math.log(b1));
                float bc2 = (float) -Math.expm1(t * Math.log(b2));
                float stepSize = lr / bc1, bc2Sqrt = (float) Math.sqrt(bc2);
                Parallel.forRange(a.i("n"), 1 << 14, (lo, hi) -> {
                    for (int i = lo; i < hi; i++) {
                        float gi = g[go + i] * scale;
                        float pi = p[po + i] * (1f - lr * wd);
                        float mi = m[mo + i] + (1f - b1) * (gi - m[mo + i]);
                        float vi = b2 * v[vo + i] + (1f - b2) * gi * gi;
                        m[mo + i] = mi;
                        v[vo + i] = vi;
                        p[po + i] = pi - stepSize * (mi / ((float) Math.sqrt(vi) / bc2Sqrt + eps));
                    }
                });
            })
            .build();
}
