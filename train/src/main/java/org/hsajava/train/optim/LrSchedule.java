package org.hsajava.train.optim;

import org.hsajava.model.config.TrainConfig;

/**
 * Linear warm-up to the peak learning rate, then cosine decay to {@code minLrRatio · peak} at the
 * last step (the authors' recipe: cosine with min-lr ratio 0.2). Steps count from 1: step t is the
 * t-th optimizer update.
 * <pre>
 *   t ≤ warmup:  lr(t) = peak · t / warmup                        (step 1 already moves; never 0)
 *   t > warmup:  p = (t − warmup) / (total − warmup)              (p = 1 at the last step)
 *                lr(t) = peak · (r + (1 − r) · ½ (1 + cos(π p)))   (r = minLrRatio)
 * </pre>
 * Steps past {@code total} (a run extended beyond its schedule) stay at the minimum.
 */
public record LrSchedule(double peak, long warmupSteps, long totalSteps, double minLrRatio) {

    public LrSchedule {
        if (!(peak > 0) || Double.isInfinite(peak)) throw new IllegalArgumentException("peak learning rate must be a positive number, got " + peak);
        if (totalSteps < 1) throw new IllegalArgumentException("totalSteps must be >= 1, got " + totalSteps);
        if (warmupSteps < 0 || warmupSteps > totalSteps) {
            throw new IllegalArgumentException("warmupSteps must lie in [0, totalSteps = " + totalSteps + "], got " + warmupSteps);
        }
        if (!(minLrRatio >= 0 && minLrRatio <= 1)) throw new IllegalArgumentException("minLrRatio must lie in [0, 1], got " + minLrRatio);
    }

    public static LrSchedule of(TrainConfig t) {
        return new LrSchedule(t.lr(), t.warmupSteps(), t.steps(), t.minLrRatio());
    }

    /** The learning rate of the {@code step}-th update (from 1). */
    public double lr(long step) {
        if (step < 1) throw new IllegalArgumentException("steps count from 1, got " + step);
        if (step <= warmupSteps) return peak * step / warmupSteps;
        long decay = totalSteps - warmupSteps;
        double p = decay == 0 ? 1 : Math.min(1.0, (double) (step - warmupSteps) / decay);
        return peak * (minLrRatio + (1 - minLrRatio) * 0.5 * (1 + Math.cos(Math.PI * p)));
    }
}
