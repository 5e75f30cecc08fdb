package org.hsajava.train.loop;

/**
 * One optimizer step, as logged to {@code metrics.jsonl}.
 *
 * @param step        update count, from 1
 * @param loss        mean cross-entropy over the valid targets of the step's micro-batches
 * @param lr          learning rate used by this update
 * @param gradNorm    global L2 norm of the gradient before clipping
 * @param tokens      input tokens processed by the step (batch · length · grad_accumulation)
 * @param tokensPerS  input tokens per second over the run so far (this process)
 * @param elapsed     seconds since this process started training
 * @param valLoss     mean loss on the validation batches after this step, NaN when not evaluated
 */
public record StepMetrics(long step, double loss, double lr, double gradNorm, long tokens, double tokensPerS, double elapsed, double valLoss) {

    public boolean evaluated() { return !Double.isNaN(valLoss); }

    StepMetrics withValLoss(double v) { return new StepMetrics(step, loss, lr, gradNorm, tokens, tokensPerS, elapsed, v); }
}
