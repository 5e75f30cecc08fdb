package org.hsajava.train.toy;

import org.hsajava.compute.DataTransferMode;
import org.hsajava.compute.Device;
import org.hsajava.compute.ImmutableTaskGraph;
import org.hsajava.compute.Scalar;
import org.hsajava.compute.TaskGraph;
import org.hsajava.compute.Tensor;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.kernels.Embedding;
import org.hsajava.kernels.Fill;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.TrainableModel;
import org.hsajava.model.config.AttentionKind;
import org.hsajava.model.config.ModelConfig;
import org.hsajava.model.config.ParameterLayout;
import org.hsajava.model.config.WeightDType;
import org.hsajava.model.layers.Linear;

/**
 * A toy {@link TrainableModel} for training-loop tests and smoke runs: a factorised bigram model
 * {@code logits[r] = lm_head · E[ids[r]]} (embedding → LM head → cross-entropy), built from the
 * real kernels. It predicts the next token from the current one only.
 *
 * <p>Its parameters live in the layout of a one-layer {@code swa_only} config with untied
 * embeddings ({@link #config}): {@code backbone.embeddings.weight [V, D]} and {@code lm_head.weight
 * [V, D]} are used; the SWA layer and {@code norm_f} are present but unused (zero gradients), which
 * lets tests see the optimizer's weight-decay mask act on tensors that get no gradient.
 *
 * <p>Embedding gradient. {@link Embedding#BACKWARD} needs an inverted index built on the host from
 * the ids, and {@link TrainableModel} gives a model no host hook between "the caller wrote the ids"
 * and "the graph runs". So this model computes {@code dE += onehotᵀ · dX} with a GEMM instead, the
 * one-hot rows made on the device by an embedding lookup in a constant identity table. That costs
 * {@code rows · V · D} flops and a {@code V × V} table, which is why {@link #MAX_VOCAB} limits it.
 *
 * <p>Activations ({@code rows = batch · length}): {@code x [rows, D]}, {@code dx [rows, D]},
 * {@code onehot [rows, V]}, {@code logits [rows, V]} (overwritten by its gradient in the train step).
 */
public final class BigramModel implements TrainableModel {
    /** The identity table is V × V floats; above this the toy model is the wrong tool. */
    public static final int MAX_VOCAB = 4096;

    private final ModelParameters params;
    private final Device device;
    private final int batch, length, vocab, dim;
    private final Tensor inputIds, targets, rowLosses, x, dx, onehot, identity, logits;
    private final Scalar lossScale = Scalar.of("lossScale", 1);
    private final ImmutableTaskGraph trainStep, evalStep;

    /** The config whose layout holds the bigram's tensors (vocab V, width D, untied LM head). */
    public static ModelConfig config(int vocab, int dim, double initializerRange) {
        if (vocab < 1 || vocab > MAX_VOCAB) {
            throw new IllegalArgumentException("the toy bigram model needs a vocabulary of 1.." + MAX_VOCAB + " tokens (it keeps a V x V table), got " + vocab);
        }
        return new ModelConfig(AttentionKind.SWA_ONLY, vocab, dim, dim, 1, 1, dim, 1, 1, 10000.0, 1e-6, 1e-5,
                initializerRange, false, false, WeightDType.FLOAT32, 0, 4096, null);
    }

    /** A fresh model with parameters initialised from {@code seed}. */
    public static BigramModel create(ModelConfig config, Device device, int batch, int length, long seed) {
        return new BigramModel(ModelParameters.of(ParameterLayout.of(config)).initialize(seed), device, batch, length);
    }

    public BigramModel(ModelParameters params, Device device, int batch, int length) {
        ModelConfig c = params.layout().config();
        if (c.tieWordEmbeddings()) throw new IllegalArgumentException("the bigram model needs tie_word_embeddings = false (its LM head is a separate matrix)");
        if (batch < 1 || length < 1) throw new IllegalArgumentException("batch and length must be positive, got " + batch + " x " + length);
        this.params = params;
        this.device = device;
        this.batch = batch;
        this.length = length;
        this.vocab = c.vocabSize();
        this.dim = c.hiddenSize();
        if (vocab > MAX_VOCAB) throw new IllegalArgumentException("vocab_size " + vocab + " exceeds the toy bigram model's limit " + MAX_VOCAB);
        int rows = batch * length;
        inputIds = Tensor.i32("bigram.input_ids", rows);
        targets = Tensor.i32("bigram.targets", rows);
        rowLosses = Tensor.f32("bigram.row_losses", rows);
        x = Tensor.f32("bigram.x", rows, dim);
        dx = Tensor.f32("bigram.dx", rows, dim);
        onehot = Tensor.f32("bigram.onehot", rows, vocab);
        logits = Tensor.f32("bigram.logits", rows, vocab);
        float[] eye = new float[vocab * vocab];
        for (int i = 0; i < vocab; i++) eye[i * vocab + i] = 1f;
        identity = Tensor.of("bigram.identity", eye, vocab, vocab);

        Tensor emb = params.param(ParameterLayout.EMBEDDINGS), head = params.param(ParameterLayout.LM_HEAD);
        Tensor dEmb = params.grad(ParameterLayout.EMBEDDINGS), dHead = params.grad(ParameterLayout.LM_HEAD);

        TaskGraph t = new TaskGraph("bigram_train").transferToDevice(DataTransferMode.EVERY_EXECUTION, inputIds, targets);
        forward(t);
        // Loss and dlogits in one launch; dlogits overwrites logits (scaled by 1 / valid targets of the cycle).
        t.task("ce", CrossEntropy.FORWARD_BACKWARD, logits, targets, rowLosses, logits, rows, vocab, CrossEntropy.IGNORE_INDEX, lossScale);
        t.transferToHost(DataTransferMode.EVERY_EXECUTION, rowLosses);
        t.task("dx.zero", Fill.FILL, dx, rows * dim, 0f);
        Linear.backward(t, "lm_head", device, x, head, logits, dx, dHead, null, rows, dim, vocab);
        // dE[V, D] += onehot[rows, V]ᵀ · dx[rows, D]: Linear's dW with dy = onehot and x = dx.
        t.transferToDevice(DataTransferMode.FIRST_EXECUTION, identity);
        t.task("onehot", Embedding.FORWARD, inputIds, identity, onehot, rows, vocab, vocab);
        Linear.backward(t, "embed", device, dx, emb, onehot, null, dEmb, null, rows, dim, vocab);
        trainStep = t.snapshot();

        TaskGraph e = new TaskGraph("bigram_eval").transferToDevice(DataTransferMode.EVERY_EXECUTION, inputIds, targets);
        forward(e);
        e.task("ce", CrossEntropy.LOSS, logits, targets, rowLosses, rows, vocab, CrossEntropy.IGNORE_INDEX);
        e.transferToHost(DataTransferMode.EVERY_EXECUTION, rowLosses);
        evalStep = e.snapshot();
    }

    /** x = E[ids]; logits = x · lm_headᵀ. */
    private void forward(TaskGraph g) {
        int rows = batch * length;
        g.task("embed", Embedding.FORWARD, inputIds, params.param(ParameterLayout.EMBEDDINGS), x, rows, dim, vocab);
        Linear.forward(g, "lm_head", device, x, params.param(ParameterLayout.LM_HEAD), null, logits, rows, dim, vocab);
    }

    @Override public ModelParameters parameters() { return params; }
    @Override public Device device() { return device; }
    @Override public int batch() { return batch; }
    @Override public int length() { return length; }
    @Override public Tensor inputIds() { return inputIds; }
    @Override public Tensor targets() { return targets; }
    @Override public Tensor rowLosses() { return rowLosses; }
    @Override public Scalar lossScale() { return lossScale; }
    @Override public ImmutableTaskGraph trainStep() { return trainStep; }
    @Override public ImmutableTaskGraph evalStep() { return evalStep; }

    /** Nothing to free: the device copies belong to the execution plan that ran the graphs. */
    @Override public void close() {}
}
