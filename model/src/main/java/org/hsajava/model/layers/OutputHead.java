package org.hsajava.model.layers;

import org.hsajava.compute.Device;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;

/**
 * Final norm, LM head and loss (docs/authors-model.md §3.7):
 * <pre>
 *   n       = norm_f(h)                         eps layer_norm_epsilon
 *   logits  = n · lm_headᵀ                      [rows, V]; lm_head IS the embedding when tie_word_embeddings
 *   loss[r] = logsumexp(logits_r) − logits_r[target_r]     0 where target_r = −100
 * </pre>
 * The training forward ({@link #forward}) runs the cross-entropy forward and backward in one kernel:
 * {@code dlogits = (softmax − onehot) · lossScale} is written over the logits (the largest activation
 * is held once), so after it the logits are gone. The backward then adds
 * {@code dW += dlogitsᵀ·n} (into the embedding gradient when tied) and {@code dh += norm_f'(dlogits·W)}.
 * {@link #forwardLoss} keeps the logits (evaluation: argmax, perplexity).
 *
 * <p>{@code lossScale} is the caller's: {@code 1 / (valid targets)} makes the gradient that of the
 * mean loss; the per-row losses themselves are unscaled.
 */
public final class OutputHead implements Layer {
    private final String name = "head";
    private final Device device;
    private final int rows, d, vocab;
    private final Tensor h, dh, targets, rowLosses, weight, dWeight;
    private final Scalar lossScale;
    private final RmsNormBlock norm;
    private final Tensor normed, logits, dNormed;

    /**
     * @param h         final hidden states {@code [rows, D]} (kept for the backward)
     * @param dh        gradient of h: the backward ADDS into it
     * @param targets   next-token ids, int {@code [rows]}, {@value CrossEntropy#IGNORE_INDEX} = no loss
     * @param rowLosses per-row cross-entropy {@code [rows]}, overwritten
     * @param lossScale factor of the loss gradient (read at every execution)
     */
    public OutputHead(LayerContext ctx, ScratchPool scratch, Tensor h, Tensor dh, Tensor targets, Tensor rowLosses, Scalar lossScale) {
        ModelConfig c = ctx.config();
        this.device = ctx.device();
        this.rows = ctx.rows();
        this.d = c.hiddenSize();
        this.vocab = c.vocabSize();
        SwaAttention.requireSize(name, "h", h, rows * d);
        SwaAttention.requireSize(name, "dh", dh, rows * d);
        SwaAttention.requireSize(name, "targets", targets, rows);
        SwaAttention.requireSize(name, "rowLosses", rowLosses, rows);
        if (lossScale == null) throw new IllegalArgumentException(name + ": lossScale must be given");
        this.h = h;
        this.dh = dh;
        this.targets = targets;
        this.rowLosses = rowLosses;
        this.lossScale = lossScale;
        // Resolves to backbone.embeddings.weight (and its gradient) when the embeddings are tied.
        this.weight = ctx.params().param(ParameterLayout.LM_HEAD);
        this.dWeight = ctx.params().grad(ParameterLayout.LM_HEAD);
        this.normed = Tensor.f32(name + ".n", rows, d);
        this.logits = Tensor.f32(name + ".logits", rows, vocab);
        this.norm = new RmsNormBlock(ctx, scratch, name + ".norm_f", "backbone.norm_f.weight", c.layerNormEpsilon(), rows, d, h, normed);
        this.dNormed = scratch.f32("OutputHead.dn", rows, d);
    }

    /** As {@link #OutputHead(LayerContext, ScratchPool, Tensor, Tensor, Tensor, Tensor, Scalar)} with a private scratch pool. */
    public OutputHead(LayerContext ctx, Tensor h, Tensor dh, Tensor targets, Tensor rowLosses, Scalar lossScale) {
        this(ctx, new ScratchPool("head.scratch"), h, dh, targets, rowLosses, lossScale);
    }

    @Override
    public String name() { return name; }

    /** Training forward: per-row losses, and dlogits written over the logits for {@link #backward}. */
    @Override
    public void forward(TaskGraph g) {
        logits(g);
        g.task(name + ".ce", CrossEntropy.FORWARD_BACKWARD, logits, targets, rowLosses, logits, rows, vocab, CrossEntropy.IGNORE_INDEX, lossScale);
    }

    /** Evaluation forward: per-row losses, logits kept in {@link #logits()}. Do not call {@link #backward} after it. */
    public void forwardLoss(TaskGraph g) {
        logits(g);
        g.task(name + ".ceLoss", CrossEntropy.LOSS, logits, targets, rowLosses, rows, vocab, CrossEntropy.IGNORE_INDEX);
    }

    private void logits(TaskGraph g) {
        norm.forward(g);
        Linear.forward(g, name + ".lm_head", device, normed, weight, null, logits, rows, d, vocab);
    }

    /** Needs {@link #forward} (not {@link #forwardLoss}) earlier in the step: reads dlogits from the logits buffer. */
    @Override
    public void backward(TaskGraph g) {
        Tensor dLogits = logits;
        Linear.backward(g, name + ".lm_head", device, normed, weight, dLogits, null, dWeight, null, rows, d, vocab);
        Ops.projectBack(g, name + ".lm_head.dx", device, dLogits, Projection.of(weight, null, null, null), dNormed, rows, d, vocab);
        norm.backward(g, dNormed, dh, true);
    }

    /** The logits {@code [rows, V]} after {@link #forwardLoss}; after {@link #forward} this buffer holds dlogits. */
    public Tensor logits() { return logits; }
}
