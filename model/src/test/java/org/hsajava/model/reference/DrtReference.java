package org.hsajava.model.reference;

import java.util.Map;
import org.hsajava.model.ModelParameters;
import org.hsajava.model.config.ChunkWeightMode;
import org.hsajava.model.config.HsaConfig;
import org.hsajava.model.config.ModelConfig;

/**
 * The WHOLE model (the authors' {@code DRTForCausalLM}, docs/authors-model.md §3.0) in double
 * precision, composed from the layer references and independent of the kernels and the layer classes:
 * <pre>
 * embed → N_low × SWA layer → chunk memory (ChunkingReference) →
 *   N_groups × [retrieval; HSA layer (HsaRef); M × SWA layer] → norm_f → lm_head → mean cross-entropy
 * </pre>
 * and, for the baselines (swa_only, full_causal), embed → N_low × SWA layer → head.
 *
 * <p>Every parameter lives in ONE map of state-dict name → double[] ({@link #params}) that all
 * three layer references read; finite differences perturb those arrays in place. The chunk
 * selection (which chunks each token retrieves) is a discrete choice: {@link #forward} with
 * {@code fixed == null} computes it from the current parameters and reports the smallest score gap
 * between a kept and a dropped chunk; passing that selection back holds it fixed, so finite
 * differences differentiate the weights and the attention, never the top-K choice (as the model's
 * backward does: indices get no gradient).
 */
public final class DrtReference {
    public final ModelConfig config;
    public final int batch, length, rows;
    /** The parameters by state-dict name (a tied lm_head is not a key: it reads the embedding). */
    public final Map<String, double[]> params;
    private final SwaReference swa;

    /** One forward pass: mean loss, logits [rows, V], per group the indices [B, L, Hk, K'], the smallest selection margin. */
    public record Result(double loss, double[] logits, int[][] selections, double minMargin) {}

    /** Copies the parameters of {@code p} (its host copy) into doubles. */
    public DrtReference(ModelParameters p, int batch, int length) {
        this.swa = new SwaReference(p, batch, length);
        this.config = swa.config;
        this.batch = batch;
        this.length = length;
        this.rows = batch * length;
        this.params = swa.params;
    }

    /** Mean cross-entropy over targets that are not {@code ignore}, with the selection held at {@code fixed}. */
    public double loss(int[] ids, int[] targets, int ignore, int[][] fixed) {
        return forward(ids, targets, ignore, fixed).loss();
    }

    /**
     * The whole forward pass. {@code fixed}: per group the indices to use, or null to select by
     * score from the current parameters (then {@link Result#selections()} holds the choice).
     */
    public Result forward(int[] ids, int[] targets, int ignore, int[][] fixed) {
        HsaConfig hsa = config.hsa();
        double[] h = swa.embed(ids);
        int lower = hsa == null ? config.numSwaLayers() : config.numLowerLayers();
        for (int i = 0; i < lower; i++) h = swa.decoderLayer(h, i);
        int[][] selections = new int[hsa == null ? 0 : hsa.numUpperGroups()][];
        double margin = Double.POSITIVE_INFINITY;
        if (hsa != null) {
            // The memory is built once from the stream after the lower layers and shared by every group.
            ChunkingReference.Memory mem = ChunkingReference.forward(config, params, h, batch, length);
            HsaRef.Dims dims = dims(hsa);
            int index = config.numLowerLayers() + 1;
            for (int g = 0; g < hsa.numUpperGroups(); g++) {
                String retrieval = "backbone.layers." + index + ".", hsaLayer = "backbone.layers." + (index + 1) + ".";
                HsaRef ref = new HsaRef(dims, params, retrieval, hsaLayer);
                int[] idx;
                if (fixed == null) {
                    HsaRef.Selection s = ref.select(h, mem.landmarks());
                    idx = s.indices();
                    margin = Math.min(margin, s.minMargin());
                } else {
                    idx = fixed[g];
                }
                selections[g] = idx;
                double[] w = ref.weights(h, mem.landmarks(), idx);
                h = ref.hsaLayer(h, mem.memK(), mem.memV(), idx, w);
                index += 2;
                for (int m = 0; m < hsa.swaLayersPerGroup(); m++) h = swa.decoderLayer(h, index++);
            }
        }
        double[] logits = swa.logits(h);
        return new Result(RefOps.crossEntropy(logits, targets, rows, config.vocabSize(), ignore), logits, selections, margin);
    }

    /** The shapes and switches HsaRef needs, from the config (K' = min(chunk_topk, C)). */
    private HsaRef.Dims dims(HsaConfig hsa) {
        int s = hsa.chunkSize();
        return new HsaRef.Dims(batch, length, config.hiddenSize(), config.numAttentionHeads(), hsa.numKvHeads(), config.headDim(),
                hsa.retrievalDim(), s, Math.min(hsa.chunkTopk(), length / s), config.intermediateSize(),
                hsa.weightMode() == ChunkWeightMode.SOFTMAX, hsa.softmaxOffByOne() ? 1 : 0, hsa.bypassResidual(), hsa.qkNorm(), hsa.lmkNorm(),
                hsa.maskSlideWindow() ? config.slidingWindow() : 0);
    }
}
