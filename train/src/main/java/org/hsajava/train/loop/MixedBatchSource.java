package org.hsajava.train.loop;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.hsajava.kernels.CrossEntropy;
import org.hsajava.model.config.ConfigException;
import org.hsajava.model.config.LossTokens;
import org.hsajava.model.config.TrainConfig;
import org.hsajava.train.data.Corpora;
import org.hsajava.train.data.Corpus;
import org.hsajava.train.data.DocumentReader;
import org.hsajava.train.data.PackingPosition;
import org.hsajava.train.data.SequencePacker;
import org.hsajava.train.data.Split;
import org.hsajava.train.tasks.Filler;
import org.hsajava.train.tasks.LossMask;
import org.hsajava.train.tasks.Sample;
import org.hsajava.train.tasks.SentencePool;
import org.hsajava.train.tasks.SyntheticTask;
import org.hsajava.train.tasks.SyntheticTasks;
import org.hsajava.train.text.Tokenizer;

/**
 * Training rows mixed by {@code train.task_mix}: for every row the source is drawn by weight, then
 * <ul>
 *   <li>{@code "corpus"}: the next packed sequence of the corpus's training split
 *       ({@link SequencePacker}, {@value #SHUFFLE_BLOCK}-sequence shuffle blocks, seeded);
 *       every next token is a target (the corpus has no answers, so {@code loss_on} does not apply);</li>
 *   <li>a synthetic task ({@link SyntheticTasks} names, plus the aliases {@code s_niah},
 *       {@code mk_niah}/{@code mq_niah}, {@code vt}, {@code ar}): a sample of {@code length + 1}
 *       tokens with its needle at a depth drawn uniformly from {@code train.needle_depth}; targets are the answer tokens only when
 *       {@code loss_on} is "answers", every token otherwise. With {@code train.answer_jitter} = J &gt; 0 the sample is
 *       {@code length + 1 - j} tokens, j drawn uniformly from [0, J], followed by j pad tokens without targets, so
 *       answers do not always end the row.</li>
 * </ul>
 * Task filler: sentences of the corpus (its first 2^20 tokens) when {@code train.corpus} is set,
 * otherwise the passkey papers' repeated sentences.
 * All randomness comes from one {@link SplitMix64} seeded by {@code train.seed}; with the packer's
 * position it forms {@link #position()}.
 */
public final class MixedBatchSource implements BatchSource {
    public static final String CORPUS = "corpus";
    /** Documents whose stable hash falls below this go to validation and are never trained on. */
    public static final double VALIDATION_FRACTION = 0.05;
    /** The train/validation split of {@code train.corpus} (evaluation reads the same held-out documents). */
    public static final Split SPLIT = new Split(VALIDATION_FRACTION, 0);
    public static final int SHUFFLE_BLOCK = 16;
    /** The bundled public-domain corpus ({@link Corpora#bundled()}) as a {@code train.corpus} value. */
    public static final String BUNDLED = "bundled";

    private static final ObjectMapper JSON = new ObjectMapper();

    private final Tokenizer tokenizer;
    private final Corpus corpus;
    private final int length;
    private final long seed;
    private final TrainConfig.DepthRange needleDepth;
    private final int answerJitter;
    private final List<String> names = new ArrayList<>();
    private final List<SyntheticTask> tasks = new ArrayList<>();  // null entry for the corpus
    private final double[] cumulative;
    private final SplitMix64 rng;
    private SequencePacker packer;

    /** Builds the source for rows of {@code length} tokens; {@code train.corpus} is read relative to {@code baseDir}. */
    public MixedBatchSource(TrainConfig train, Tokenizer tokenizer, int length, Path baseDir) {
        this(train, tokenizer, length, baseDir, Split.Part.TRAIN);
    }

    /**
     * The training rows ({@link Split.Part#TRAIN}) or held-out rows for validation
     * ({@link Split.Part#VALIDATION}: the corpus's validation documents and synthetic samples from a
     * different random stream, so they are not the training samples).
     */
    public MixedBatchSource(TrainConfig train, Tokenizer tokenizer, int length, Path baseDir, Split.Part part) {
        this.tokenizer = tokenizer;
        this.length = length;
        this.seed = train.seed();
        this.needleDepth = train.needleDepth();
        this.answerJitter = train.answerJitter();
        this.rng = new SplitMix64(train.seed() ^ (part == Split.Part.TRAIN ? 0x5DEECE66DL : 0x2545F4914F6CDD1DL));
        this.corpus = train.corpus().isEmpty() ? null : part(openCorpus(train.corpus(), baseDir), part);
        Filler filler;
        try {
            filler = corpus == null ? SentencePool.repeated(tokenizer) : SentencePool.fromCorpus(corpus, tokenizer, 1 << 20);
        } catch (IOException e) {
            throw new UncheckedIOException("train.corpus: cannot read " + train.corpus() + " for task filler: " + e.getMessage(), e);
        }
        LossMask mask = train.lossOn() == LossTokens.ANSWERS ? LossMask.ANSWER : LossMask.ALL;
        double total = 0;
        List<Double> cum = new ArrayList<>();
        for (Map.Entry<String, Double> e : train.taskMix().entrySet()) {
            if (e.getValue() <= 0) continue;
            String name = e.getKey();
            if (name.equals(CORPUS)) {
                if (corpus == null) throw new ConfigException("train.task_mix.corpus", "needs train.corpus");
                tasks.add(null);
            } else {
                SyntheticTask task;
                try {
                    task = SyntheticTasks.create(canonical(name), tokenizer, filler, mask);
                } catch (IllegalArgumentException ex) {
                    throw new ConfigException("train.task_mix." + name, "is neither \"corpus\" nor a synthetic task: " + ex.getMessage());
                }
                try {
                    task.generate(length + 1, 0.5, new SplittableRandom(0)); // a probe: fail now, not at step 1000
                } catch (IllegalArgumentException ex) {
                    throw new ConfigException("train.task_mix." + name, "does not fit train.seq_len = " + length + ": " + ex.getMessage());
                }
                if (answerJitter > 0) {
                    try {
                        task.generate(length + 1 - answerJitter, 0.5, new SplittableRandom(0));
                    } catch (IllegalArgumentException ex) {
                        throw new ConfigException("train.answer_jitter", "leaves task " + name + " too few of train.seq_len = " + length
                                + " tokens: " + ex.getMessage());
                    }
                }
                tasks.add(task);
            }
            names.add(name);
            total += e.getValue();
            cum.add(total);
        }
        cumulative = new double[cum.size()];
        for (int i = 0; i < cumulative.length; i++) cumulative[i] = cum.get(i) / total;
        if (corpus != null && tasks.contains(null)) packer = new SequencePacker(corpus, tokenizer, length, seed, SHUFFLE_BLOCK);
    }

    /** Short names used in the configs, mapped to {@link SyntheticTasks} names. */
    static String canonical(String name) {
        return switch (name.trim().toLowerCase(Locale.ROOT)) {
            case "s_niah" -> "niah_single";
            case "mk_niah", "mq_niah" -> "niah_multikey";
            case "vt" -> "variable_tracking";
            case "ar" -> "associative_recall";
            default -> name;
        };
    }

    /**
     * One part of the split, or the whole corpus when that part is empty (a corpus of one or a few
     * documents whose hashes all fall on one side: then validation rows are training text too).
     */
    private static Corpus part(Corpus all, Split.Part which) {
        Corpus part = SPLIT.select(all, which);
        try (DocumentReader r = part.open()) {
            return r.next() != null ? part : all;
        } catch (IOException e) {
            throw new UncheckedIOException("train.corpus: cannot read " + all.name() + ": " + e.getMessage(), e);
        }
    }

    private static Corpus openCorpus(String spec, Path baseDir) {
        if (spec.equals(BUNDLED)) return Corpora.bundled();
        Path p = Path.of(spec);
        if (!p.isAbsolute() && baseDir != null) p = baseDir.resolve(p);
        if (!Files.exists(p)) throw new ConfigException("train.corpus", "no such file or folder: " + p);
        return Corpora.open(p);
    }

    @Override
    public int next(int[] inputs, int[] targets, int batch, int length) {
        if (length != this.length) throw new IllegalArgumentException("this source makes rows of " + this.length + " tokens, asked for " + length);
        int valid = 0;
        for (int r = 0; r < batch; r++) valid += row(inputs, targets, r * length);
        return valid;
    }

    /** One row at {@code at}: L inputs and their next-token targets. */
    private int row(int[] inputs, int[] targets, int at) {
        double u = rng.nextDouble();
        int k = 0;
        while (k < cumulative.length - 1 && u >= cumulative[k]) k++;
        SyntheticTask task = tasks.get(k);
        int valid = 0;
        if (task == null) {
            int[] seq = packer.next();
            System.arraycopy(seq, 0, inputs, at, length);
            System.arraycopy(seq, 1, targets, at, length);
            return length;
        }
        double depth = needleDepth.at(rng.nextDouble());
        int jitter = answerJitter == 0 ? 0 : (int) (rng.nextDouble() * (answerJitter + 1));  // no draw without jitter: old streams stay
        Sample s = task.generate(length + 1 - jitter, depth, new SplittableRandom(rng.nextLong()));
        boolean[] mask = s.targetMask();
        int[] tok = s.tokens();
        int n = tok.length;   // length + 1 - jitter; padding after it has no targets
        for (int t = 0; t < length; t++) {
            inputs[at + t] = t < n ? tok[t] : tokenizer.pad();
            boolean on = t + 1 < n && mask[t + 1];
            targets[at + t] = on ? tok[t + 1] : CrossEntropy.IGNORE_INDEX;
            if (on) valid++;
        }
        return valid;
    }

    @Override
    public JsonNode position() {
        ObjectNode o = JSON.createObjectNode();
        o.put("rng", rng.state());
        if (packer != null) o.set("corpus", JSON.valueToTree(packer.position()));
        return o;
    }

    @Override
    public void restore(JsonNode position) {
        JsonNode r = position.get("rng");
        if (r == null || !r.canConvertToLong()) throw new IllegalArgumentException("data position has no 'rng' state: " + position);
        rng.setState(r.longValue());
        if (packer != null) {
            JsonNode c = position.get("corpus");
            if (c == null) throw new IllegalArgumentException("data position has no 'corpus' position but task_mix uses the corpus: " + position);
            PackingPosition p;
            try {
                p = JSON.treeToValue(c, PackingPosition.class);
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                throw new IllegalArgumentException("data position 'corpus' is not a packing position: " + c, e);
            }
            if (p.sequenceLength() != length) throw new IllegalArgumentException("checkpoint packed sequences of " + p.sequenceLength() + " tokens, this run uses " + length);
            closePacker();
            packer = SequencePacker.resume(corpus, tokenizer, p);
        }
    }

    /** Source names, in mix order. */
    public List<String> names() { return List.copyOf(names); }

    private void closePacker() {
        try {
            packer.close();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Override
    public void close() {
        if (packer != null) closePacker();
    }
}
