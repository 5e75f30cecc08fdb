package org.hsajava.train.optim;

/**
 * Global L2-norm clipping, as {@code torch.nn.utils.clip_grad_norm_}: with {@code norm} the L2
 * norm of every gradient together, the gradients are multiplied by
 * {@code min(1, maxNorm / (norm + 1e-6))}. The factor is applied inside the AdamW launch
 * ({@code gradScale}), so the gradient buffer itself is never rewritten.
 */
public final class GradientClipping {
    /** torch's guard against division by zero (and the reason a norm equal to maxNorm is scaled by 1 − 1e-6/maxNorm). */
    public static final double EPS = 1e-6;

    private GradientClipping() {}

    /** The factor for {@code norm}; {@code maxNorm <= 0} turns clipping off (factor 1). */
    public static double factor(double norm, double maxNorm) {
        if (maxNorm <= 0) return 1.0;
        return Math.min(1.0, maxNorm / (norm + EPS));
    }
}
