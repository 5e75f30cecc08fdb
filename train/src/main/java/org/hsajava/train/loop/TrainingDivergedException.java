package org.hsajava.train.loop;

/** NaN or infinity in the loss or the gradient norm; thrown before the update, so parameters and checkpoints stay good. */
public final class TrainingDivergedException extends IllegalStateException {
    private final long step;

    public TrainingDivergedException(long step, String message) {
        super(message);
        this.step = step;
    }

    /** The step (from 1) whose loss or gradient was not finite. */
    public long step() { return step; }
}
