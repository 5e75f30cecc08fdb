package org.hsajava.model.config;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import org.hsajava.kernels.Gemm;

/**
 * The training recipe: the {@code "train"} section of a config file. AdamW with linear warmup and
 * cosine decay to {@code lr * min_lr_ratio} (the authors use β = (0.9, 0.95), wd 0.001, min ratio 0.2).
 *
 * @param batchSize          {@code batch_size}: sequences per micro-batch
 * @param seqLen             {@code seq_len}: training length in tokens (a multiple of chunk_size for HSA)
 * @param steps              {@code steps}: optimizer steps
 * @param lr                 {@code lr}: peak learning rate
 * @param warmupSteps        {@code warmup_steps}: linear warmup length, at most steps
 * @param minLrRatio         {@code min_lr_ratio}: final lr / peak lr of the cosine decay
 * @param weightDecay        {@code weight_decay}: decoupled (AdamW) weight decay
 * @param beta1              {@code betas[0]}
 * @param beta2              {@code betas[1]}
 * @param adamEps            {@code adam_eps}
 * @param gradClip           {@code grad_clip}: global L2 norm clip; 0 = off
 * @param gradAccumulation   {@code grad_accumulation}: micro-batches per optimizer step
 * @param seed               {@code seed}: initialisation and data RNG seed
 * @param tokenizer          {@code tokenizer}: tokenizer name (e.g. "byte")
 * @param corpus             {@code corpus}: path of the text corpus (may be empty for synthetic-only mixes)
 * @param taskMix            {@code task_mix}: data source name → sampling weight (≥ 0, at least one > 0)
 * @param lossOn             {@code loss_on}: "all" tokens or "answers" only
 * @param checkpointInterval {@code checkpoint_interval}: steps between checkpoints
 * @param keepCheckpoints    {@code keep_checkpoints}: how many recent checkpoints to keep
 * @param evalInterval       {@code eval_interval}: steps between evaluations
 * @param needleDepth        {@code needle_depth}: {@code [min, max]}, the range (fractions of the filler,
 *                           0 = start) from which synthetic training rows draw their needle's depth
 *                           uniformly; default {@code [0, 1]}. A curriculum stage can keep needles far from
 *                           the question (e.g. {@code [0, 0.4]}) so that only retrieval can bring them back.
 * @param answerJitter       {@code answer_jitter}: a synthetic training row ends its sample up to this many
 *                           tokens before the row's end (drawn uniformly from {@code [0, answer_jitter]}; padding
 *                           without targets fills the rest), so that answers fall at every offset from chunk
 *                           and window boundaries. With 0 (the default) every answer ends the row: a model can
 *                           then learn its answers at one alignment only, and evaluation at another length
 *                           (a sample of exactly L tokens, one shorter than a training row's L + 1) misses.
 * @param matmulPrecision    {@code matmul_precision}: what the model's GEMMs compute in while training on a
 *                           device with tensor cores: "fp32", "tf32" or "bf16" (mixed precision: bf16
 *                           products, fp32 accumulation, fp32 master weights, residual stream and optimizer
 *                           state; on Hopper the GEMMs read bf16 copies of the weights, made once per
 *                           step, and of the inputs that norms and SwiGLU write next to their fp32
 *                           outputs: {@code LayerContext.bf16Copies}; activations whose every consumer
 *                           reads bf16 are stored in bf16 only: SWA's q, k, v, o, the MLPs' gate, up and
 *                           SwiGLU output); other devices compute in fp32. Null (field absent): the process's default,
 *                           fp32 unless {@code -Dhsa.tc.gemm} says otherwise ({@link Gemm#precision()}).
 */
public record TrainConfig(
        int batchSize,
        int seqLen,
        long steps,
        double lr,
        long warmupSteps,
        double minLrRatio,
        double weightDecay,
        double beta1,
        double beta2,
        double adamEps,
        double gradClip,
        int gradAccumulation,
        long seed,
        String tokenizer,
        String corpus,
        Map<String, Double> taskMix,
        LossTokens lossOn,
        long checkpointInterval,
        int keepCheckpoints,
        long evalInterval,
        DepthRange needleDepth,
        int answerJitter,
        Gemm.Precision matmulPrecision) {

    /** Needle depths drawn uniformly from {@code [min, max]}, {@code 0 <= min <= max <= 1}. */
    public record DepthRange(double min, double max) {
        public static final DepthRange ALL = new DepthRange(0, 1);

        public DepthRange {
            if (!(min >= 0 && min <= max && max <= 1)) {
                throw new ConfigException("train.needle_depth", "must be [min, max] with 0 <= min <= max <= 1, got [" + min + ", " + max + "]");
            }
        }

        /** The depth for a uniform draw {@code u} in [0, 1). */
        public double at(double u) { return min + (max - min) * u; }
    }

    /** A recipe whose needles may sit at any depth ({@link DepthRange#ALL}). */
    public TrainConfig(int batchSize, int seqLen, long steps, double lr, long warmupSteps, double minLrRatio, double weightDecay,
                       double beta1, double beta2, double adamEps, double gradClip, int gradAccumulation, long seed,
                       String tokenizer, String corpus, Map<String, Double> taskMix, LossTokens lossOn,
                       long checkpointInterval, int keepCheckpoints, long evalInterval) {
        this(batchSize, seqLen, steps, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, adamEps, gradClip, gradAccumulation,
                seed, tokenizer, corpus, taskMix, lossOn, checkpointInterval, keepCheckpoints, evalInterval, DepthRange.ALL);
    }

    /** A recipe whose GEMMs take the process's default precision. */
    public TrainConfig(int batchSize, int seqLen, long steps, double lr, long warmupSteps, double minLrRatio, double weightDecay,
                       double beta1, double beta2, double adamEps, double gradClip, int gradAccumulation, long seed,
                       String tokenizer, String corpus, Map<String, Double> taskMix, LossTokens lossOn,
                       long checkpointInterval, int keepCheckpoints, long evalInterval, DepthRange needleDepth) {
        this(batchSize, seqLen, steps, lr, warmupSteps, minLrRatio, weightDecay, beta1, beta2, adamEps, gradClip, gradAccumulation,
                seed, tokenizer, corpus, taskMix, lossOn, checkpointInterval, keepCheckpoints, evalInterval, needleDepth, 0, null);
    }

    /** {@link #matmulPrecision}, or the process's default ({@link Gemm#precision()}) where the config does not say. */
    public Gemm.Precision effectiveMatmulPrecision() { return matmulPrecision != null ? matmulPrecision : Gemm.precision(); }

    public TrainConfig {
        if (batchSize < 1) throw new ConfigException("train.batch_size", "must be >= 1, got " + batchSize);
        if (seqLen < 1) throw new ConfigException("train.seq_len", "must be >= 1, got " + seqLen);
        if (steps < 1) throw new ConfigException("train.steps", "must be >= 1, got " + steps);
        JsonFields.checkNumber("train.lr", lr, 0, true, 1, false);
        if (warmupSteps < 0 || warmupSteps > steps) {
            throw new ConfigException("train.warmup_steps", "must be in [0, steps = " + steps + "], got " + warmupSteps);
        }
        JsonFields.checkNumber("train.min_lr_ratio", minLrRatio, 0, false, 1, false);
        JsonFields.checkNumber("train.weight_decay", weightDecay, 0, false, 1, false);
        JsonFields.checkNumber("train.betas[0]", beta1, 0, false, 1, true);
        JsonFields.checkNumber("train.betas[1]", beta2, 0, false, 1, true);
        JsonFields.checkNumber("train.adam_eps", adamEps, 0, true, 1, true);
        JsonFields.checkNumber("train.grad_clip", gradClip, 0, false, Double.POSITIVE_INFINITY, true);
        if (gradAccumulation < 1) throw new ConfigException("train.grad_accumulation", "must be >= 1, got " + gradAccumulation);
        if (tokenizer == null || tokenizer.isBlank()) throw new ConfigException("train.tokenizer", "must be a non-empty name");
        if (corpus == null) throw new ConfigException("train.corpus", "must be given (\"\" for none)");
        if (taskMix == null || taskMix.isEmpty()) throw new ConfigException("train.task_mix", "must name at least one data source");
        double total = 0;
        for (Map.Entry<String, Double> e : taskMix.entrySet()) {
            String field = "train.task_mix." + e.getKey();
            if (e.getKey().isBlank()) throw new ConfigException("train.task_mix", "source names must be non-empty");
            total += JsonFields.checkNumber(field, e.getValue() == null ? Double.NaN : e.getValue(), 0, false, Double.POSITIVE_INFINITY, true);
        }
        if (total <= 0) throw new ConfigException("train.task_mix", "at least one weight must be > 0");
        taskMix = Collections.unmodifiableMap(new LinkedHashMap<>(taskMix));
        if (lossOn == null) throw new ConfigException("train.loss_on", "must be given");
        if (checkpointInterval < 1) throw new ConfigException("train.checkpoint_interval", "must be >= 1, got " + checkpointInterval);
        if (keepCheckpoints < 1) throw new ConfigException("train.keep_checkpoints", "must be >= 1, got " + keepCheckpoints);
        if (evalInterval < 1) throw new ConfigException("train.eval_interval", "must be >= 1, got " + evalInterval);
        if (needleDepth == null) throw new ConfigException("train.needle_depth", "must be given");
        if (answerJitter < 0 || answerJitter >= seqLen) {
            throw new ConfigException("train.answer_jitter", "must be in [0, seq_len = " + seqLen + "), got " + answerJitter);
        }
        if (corpus.isEmpty() && taskMix.getOrDefault("corpus", 0.0) > 0) {
            throw new ConfigException("train.corpus", "is empty but task_mix gives \"corpus\" a positive weight");
        }
    }

    /** Tokens per optimizer step. */
    public long tokensPerStep() { return (long) batchSize * gradAccumulation * seqLen; }

    public static TrainConfig fromJson(JsonNode node) {
        JsonFields f = new JsonFields(node, "train");
        long steps = f.longIn("steps", 1, Long.MAX_VALUE);
        double[] betas = f.has("betas") ? f.numbers("betas", 2) : new double[] {0.9, 0.95};
        double[] depth = f.has("needle_depth") ? f.numbers("needle_depth", 2) : new double[] {0, 1};
        Map<String, Double> mix = new LinkedHashMap<>();
        JsonNode m = f.raw("task_mix");
        if (m == null || m.isNull()) throw new ConfigException("train.task_mix", "is required");
        if (!m.isObject()) {
            throw new ConfigException("train.task_mix", "must be an object of source name -> weight, got " + m);
        }
        m.properties().forEach(e -> {
            if (!e.getValue().isNumber()) {
                throw new ConfigException("train.task_mix." + e.getKey(), "must be a number, got " + e.getValue());
            }
            mix.put(e.getKey(), e.getValue().doubleValue());
        });
        TrainConfig t = new TrainConfig(
                f.intIn("batch_size", 1, Integer.MAX_VALUE),
                f.intIn("seq_len", 1, Integer.MAX_VALUE),
                steps,
                f.number("lr", 0, true, 1, false),
                f.longIn("warmup_steps", 0, steps, 0),
                f.number("min_lr_ratio", 0, false, 1, false, 0.2),
                f.number("weight_decay", 0, false, 1, false, 0.001),
                betas[0], betas[1],
                f.number("adam_eps", 0, true, 1, true, 1e-8),
                f.number("grad_clip", 0, false, Double.POSITIVE_INFINITY, true, 1.0),
                f.intIn("grad_accumulation", 1, Integer.MAX_VALUE, 1),
                f.longIn("seed", Long.MIN_VALUE, Long.MAX_VALUE, 0),
                f.text("tokenizer"),
                f.text("corpus", ""),
                mix,
                LossTokens.ofJson(f.choice("loss_on", JsonFields.list("all", "answers"), "all")),
                f.longIn("checkpoint_interval", 1, Long.MAX_VALUE),
                f.intIn("keep_checkpoints", 1, Integer.MAX_VALUE, 3),
                f.longIn("eval_interval", 1, Long.MAX_VALUE),
                new DepthRange(depth[0], depth[1]),
                f.intIn("answer_jitter", 0, Integer.MAX_VALUE, 0),
                f.has("matmul_precision") ? Gemm.Precision.parse(f.choice("matmul_precision", Gemm.Precision.jsonNames())) : null);
        f.rejectUnknown();
        return t;
    }

    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        o.put("batch_size", batchSize);
        o.put("seq_len", seqLen);
        o.put("steps", steps);
        o.put("lr", lr);
        o.put("warmup_steps", warmupSteps);
        o.put("min_lr_ratio", minLrRatio);
        o.put("weight_decay", weightDecay);
        o.putArray("betas").add(beta1).add(beta2);
        o.put("adam_eps", adamEps);
        o.put("grad_clip", gradClip);
        o.put("grad_accumulation", gradAccumulation);
        o.put("seed", seed);
        o.put("tokenizer", tokenizer);
        o.put("corpus", corpus);
        ObjectNode mix = o.putObject("task_mix");
        taskMix.forEach(mix::put);
        o.put("loss_on", lossOn.jsonName());
        o.put("checkpoint_interval", checkpointInterval);
        o.put("keep_checkpoints", keepCheckpoints);
        o.put("eval_interval", evalInterval);
        if (!needleDepth.equals(DepthRange.ALL)) o.putArray("needle_depth").add(needleDepth.min()).add(needleDepth.max());
        if (answerJitter != 0) o.put("answer_jitter", answerJitter);
        if (matmulPrecision != null) o.put("matmul_precision", matmulPrecision.jsonName());
        return o;
    }
}
